"""The layout rules the code keeps: no import cycles, no web framework in the domain services,
and one writer per table."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
import pytest

from lms_extension.models.base import Base

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lms_extension", "graders")

# table model -> the one module that writes it (creates, updates or deletes its rows)
OWNERS = {
    "Enrollment": "lms_extension/services/enrollments.py",
    "LessonProgress": "lms_extension/services/progress.py",
}
# erasing an account deletes the person's rows in every table, owner or not; everything else it
# changes (the account row, open checkouts, live subscriptions, invoice snapshots) goes through
# the table's owner
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


# graders' layers, higher first: each imports only from the layers below it (indirectly too)
GRADER_LAYERS = [
    ("graders.judge0.service", "graders.judge0.app", "graders.notebook", "graders.autograde"),
    ("graders.submissions",),  # whole submissions: compile, run, judge
    ("graders.warm_pool",),  # sandboxes started ahead of time
    ("graders.sandbox",),  # isolation only: root, views, namespaces, limits, one command
]


def test_grader_layers(graph):
    wrong = []
    for index, layer in enumerate(GRADER_LAYERS):
        for lower in layer:
            for higher in [m for upper in GRADER_LAYERS[:index] for m in upper]:
                chain = graph.find_shortest_chains(importer=lower, imported=higher)
                wrong += [f"{lower} reaches {higher}: {' -> '.join(c)}" for c in chain]
    assert not wrong, "\n".join(wrong)


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


def _models() -> dict[str, set[str]]:
    """Every mapped table model -> its column attributes."""
    return {m.class_.__name__: {c.key for c in m.column_attrs} for m in Base.registry.mappers}


def _table_of(node: ast.AST, models: set[str], aliases: dict[str, str]) -> str | None:
    """The model a statement's target names: ``Model``, ``Model.__table__`` or a name bound to it."""
    if isinstance(node, ast.Name):
        return node.id if node.id in models else aliases.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr in ("__table__", "c"):
        return _table_of(node.value, models, aliases)
    return None


def _writes(path: Path, models: dict[str, set[str]]) -> dict[str, list[str]]:
    """Model -> the places in ``path`` that create, change or delete its rows.

    A row change counts when the statement names the model (``insert``/``update``/``delete`` of
    ``Model`` or its table) or when a column is set on an object named like the model
    (``order.status = ...``)."""
    tree = ast.parse(path.read_text(), str(path))
    names = set(models)
    aliases = {t.id: m for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Attribute)
               for t in n.targets if isinstance(t, ast.Name)
               for m in [_table_of(n.value, names, {})] if m}
    found: dict[str, list[str]] = {}

    def add(model, what, line):
        found.setdefault(model, []).append(f"{path.name}:{line} {what}")

    def model_of_object(obj: ast.AST) -> str | None:
        name = obj.id if isinstance(obj, ast.Name) else obj.attr if isinstance(obj, ast.Attribute) else ""
        key = name.replace("_", "").lower()
        return next((m for m in names if key and key == m.lower()), None)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in names:
                add(fn.id, f"{fn.id}(...)", node.lineno)
            elif isinstance(fn, ast.Name) and fn.id in ("insert", "update", "delete") and node.args:
                model = _table_of(node.args[0], names, aliases)
                if model:
                    add(model, f"{fn.id}({model})", node.lineno)
            elif isinstance(fn, ast.Attribute) and fn.attr == "delete" and node.args:
                model = model_of_object(node.args[0])
                if model:
                    add(model, f"session.delete({ast.unparse(node.args[0])})", node.lineno)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if not isinstance(t, ast.Attribute):
                    continue
                model = model_of_object(t.value)
                if model and t.attr in models[model]:
                    add(model, f".{t.attr} =", node.lineno)
    return found


def _writers() -> dict[str, dict[str, list[str]]]:
    """Model -> module -> write places, over every module of lms_extension but the models and
    migrations, leaving out the account erasure's deletions."""
    models = _models()
    writers: dict[str, dict[str, list[str]]] = {}
    for p in sorted((ROOT / "lms_extension").rglob("*.py")):
        if "migrations" in p.parts or "models" in p.parts:
            continue
        module = str(p.relative_to(ROOT))
        for model, places in _writes(p, models).items():
            if module == ERASURE:
                places = [w for w in places if not w.split(" ", 1)[1].startswith(("delete(", "session.delete("))]
            if places:
                writers.setdefault(model, {})[module] = places
    return writers


def test_one_writer_per_table():
    """Each table has one module that writes it; the others call that module's functions."""
    writers = _writers()
    assert set(OWNERS) <= set(writers) and len(writers) > 20, \
        f"the check finds too few writers ({sorted(writers)}): it is broken"
    shared = {model: modules for model, modules in writers.items() if len(modules) > 1}
    assert not shared, "tables written by more than one module:\n" + "\n".join(
        f"  {model}: {modules}" for model, modules in sorted(shared.items()))
    wrong = {model: sorted(writers[model]) for model, owner in OWNERS.items() if sorted(writers[model]) != [owner]}
    assert not wrong, f"not written by their owner: {wrong}"


def test_docs_owner_table_names_the_writers():
    """docs/architecture.md's "Who writes which table" names the module the check finds."""
    documented = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        row = re.match(r"\| `([\w/]+\.py)` \| (.*) \|$", line)
        if row:  # tables in backticks, outside the parenthesised notes
            for table in re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", row.group(2))):
                documented[table] = f"lms_extension/{row.group(1)}"
    tables = {m.class_.__name__: m.local_table.name for m in Base.registry.mappers}
    assert len(documented) > 20, "the owner table was not found in docs/architecture.md"
    wrong = {tables[model]: (sorted(modules), documented.get(tables[model]))
             for model, modules in _writers().items() if [documented.get(tables[model])] != sorted(modules)}
    assert not wrong, f"table: (writers in the code, owner in the docs): {wrong}"


def test_writer_check_sees_writes(tmp_path):
    """Creation, bulk statements through a table alias and attribute sets all count."""
    code = tmp_path / "x.py"
    code.write_text("t = CourseStats.__table__\n"
                    "def f(session, order, course_stats):\n"
                    "    session.execute(update(t).values(rating_avg=1))\n"
                    "    order.status = 'paid'\n"
                    "    course_stats.trending_score = 1.0\n"
                    "    session.add(Instructor(user_id=1))\n")
    found = _writes(code, _models())
    assert {m: len(w) for m, w in found.items()} == {"CourseStats": 2, "Order": 1, "Instructor": 1}, found


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
