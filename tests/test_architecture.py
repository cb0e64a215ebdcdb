"""The layout rules the code keeps: no import cycles, no web framework in the domain services,
and one writer per table for the tables several areas read (enrollments, lesson progress)."""
from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lms_extension", "graders")

# table model -> (the one module that writes it, attributes only a writer sets)
OWNERS = {
    "Enrollment": ("lms_extension/services/enrollments.py", {"last_lesson_key"}),
    "LessonProgress": ("lms_extension/services/progress.py",
                       {"last_opened_at", "last_heartbeat_at", "seconds_spent", "completed_at"}),
}
# erasing an account deletes the person's rows in every table, owner or not
ERASURE = "lms_extension/services/accounts.py"


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def _cycles(graph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe(graph, cycle: list[str]) -> str:
    lines = []
    for a in cycle:
        for b in sorted(graph.find_modules_directly_imported_by(a) & set(cycle)):
            for detail in graph.get_import_details(importer=a, imported=b):
                lines.append(f"  {a}:{detail['line_number']} -> {b}: {detail['line_contents']}")
    return "\n".join(lines)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(graph, package):
    """Imports inside functions count too: a cycle moved into a function is still a cycle."""
    modules = {m for m in graph.modules if m == package or m.startswith(package + ".")}
    cycles = _cycles(graph, modules)
    assert not cycles, "import cycles:\n" + "\n\n".join(_describe(graph, c) for c in cycles)


def test_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from . import a  # noqa\n")
    (pkg / "c.py").write_text("from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    g = grimp.build_graph("cyclic", cache_dir=None)
    assert _cycles(g, set(g.modules)) == [["cyclic.a", "cyclic.b"]]


def test_services_do_not_import_tornado(graph):
    services = sorted(m for m in graph.modules if m.startswith("lms_extension.services"))
    direct = [m for m in services if "tornado" in {i.split(".")[0] for i in graph.find_modules_directly_imported_by(m)}]
    assert not direct, f"services importing tornado: {direct}"
    chains = [graph.find_shortest_chain(importer=m, imported="tornado") for m in services]
    assert not any(chains), f"services reaching tornado: {[c for c in chains if c]}"


def _writes(path: Path, model: str, attrs: set[str]) -> list[str]:
    """Places in ``path`` that create, bulk-change or set the write-only attributes of ``model``."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id == model:
                found.append(f"{path.name}:{node.lineno} {model}(...)")
            elif isinstance(fn, ast.Name) and fn.id in ("insert", "update", "delete") and node.args \
                    and isinstance(node.args[0], ast.Name) and node.args[0].id == model:
                found.append(f"{path.name}:{node.lineno} {fn.id}({model})")
            elif isinstance(fn, ast.Attribute) and fn.attr == "delete" and node.args \
                    and isinstance(node.args[0], ast.Name) and model.lower() in node.args[0].id.replace("_", "").lower():
                found.append(f"{path.name}:{node.lineno} session.delete({node.args[0].id})")
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if isinstance(t, ast.Attribute) and t.attr in attrs:
                    found.append(f"{path.name}:{node.lineno} .{t.attr} =")
    return found


@pytest.mark.parametrize("model", sorted(OWNERS))
def test_one_writer_per_table(model):
    owner, attrs = OWNERS[model]
    others = [p for p in sorted((ROOT / "lms_extension").rglob("*.py"))
              if "migrations" not in p.parts and "models" not in p.parts
              and str(p.relative_to(ROOT)) not in (owner, ERASURE)]
    assert others
    writes = [w for p in others for w in _writes(p, model, attrs)]
    assert not writes, f"only {owner} writes {model}; found: {writes}"
    assert _writes(ROOT / owner, model, attrs), "the check finds nothing even in the owner: it is broken"


def _decorator_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for d in fn.decorator_list:
        d = d.func if isinstance(d, ast.Call) else d
        names.add(d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", ""))
    return names


def test_handlers_declare_what_they_need():
    """A handler method that needs a user says so next to it (``@requires_user``,
    ``@requires(scope)``, or ``@web.authenticated`` on pages, which redirects to the login)."""
    undeclared = []
    for path in sorted((ROOT / "lms_extension" / "web").rglob("*.py")):
        for cls in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)):
            for fn in cls.body:
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                        or fn.name not in ("get", "post", "put", "patch", "delete"):
                    continue
                needs_user = any(isinstance(n, ast.Attribute) and n.attr == "require_user" for n in ast.walk(fn))
                if needs_user and not _decorator_names(fn) & {"requires_user", "requires", "authenticated"}:
                    undeclared.append(f"{path.relative_to(ROOT)}:{fn.lineno} {cls.name}.{fn.name}")
    assert not undeclared, f"handler methods that need a user without declaring it: {undeclared}"


WEB = "lms_extension.web"
# modules of web/api and web/pages that are not handler modules, and why
NOT_HANDLER_MODULES = {
    "lms_extension/web/api/spec.py": "pieces of the OpenAPI document, no handlers",
    "lms_extension/web/api/judge0.py": "its routes wrap the Judge0 service that make_app builds (handlers())",
}


def _web_layer(graph, layer: str) -> list[str]:
    return sorted(m for m in graph.modules if m.startswith(f"{WEB}.{layer}."))


@pytest.mark.parametrize("importer, imported", [("pages", "api"), ("api", "pages")])
def test_web_pages_and_api_do_not_import_each_other(graph, importer, imported):
    """What a page and an API handler share lives in ``web/base.py`` or a service."""
    target = f"{WEB}.{imported}"
    found = [f"{m}:{d['line_number']} {d['line_contents']}"
             for m in _web_layer(graph, importer)
             for i in sorted(graph.find_modules_directly_imported_by(m)) if i == target or i.startswith(target + ".")
             for d in graph.get_import_details(importer=m, imported=i)]
    assert _web_layer(graph, importer), f"no modules found in web/{importer}: the check is broken"
    assert not found, f"web/{importer} imports web/{imported}:\n" + "\n".join(found)


def _handler_module_files() -> list[Path]:
    files = [p for layer in ("api", "pages") for p in sorted((ROOT / "lms_extension" / "web" / layer).glob("*.py"))
             if p.name != "__init__.py" and str(p.relative_to(ROOT)) not in NOT_HANDLER_MODULES]
    assert files, "no handler modules found: the check is broken"
    return files


def test_each_web_module_ends_with_default_handlers():
    """Each resource module lists its routes in ``default_handlers``, as JupyterHub's apihandlers do."""
    missing = []
    for path in _handler_module_files():
        tree = ast.parse(path.read_text())
        names = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                 for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        if "default_handlers" not in names:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"modules without default_handlers: {missing}"


def test_make_app_mounts_every_web_module():
    """A module that ``web/app.py`` does not assemble would be dead code (and missing from the OpenAPI document)."""
    from lms_extension.web.app import HANDLER_MODULES

    mounted = {m.__name__ for m in HANDLER_MODULES}
    names = {".".join(p.relative_to(ROOT).with_suffix("").parts) for p in _handler_module_files()}
    assert names - mounted == set(), f"not in web.app.HANDLER_MODULES: {sorted(names - mounted)}"
