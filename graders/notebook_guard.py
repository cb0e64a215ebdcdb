"""Defences of the notebook runner against a submission that tries to fake a passing test.

Everything here runs inside the grading sandbox (``graders.notebook_runner``), in the same
interpreter as the student's code; it is the part of the runner that test cells call into.

Test cells (the instructor's graded cells, restored from the source notebook) are compiled
by the trusted supervisor, not by the process that runs student code, and rewritten so that

* ``a == b``, ``x in c`` and ``x not in c`` call :func:`trusted_eq` / :func:`trusted_in`:
  when an operand carries an ``__eq__`` written after the grader started (a class of the
  student's), the comparison is cross-checked against perturbed copies of the other
  operand ("canaries"), so an object that claims to equal everything compares unequal;
* names of builtins (``len``, ``abs``, ``isinstance``...) mean the real builtins even when
  the notebook shadowed or the student replaced them;
* the module aliases the source notebook imports (``np``, ``pd``, ``from math import
  isclose``...) mean the real modules, whatever the student rebound the names to.

Before a test cell runs, :func:`guard_enter` puts back every function, class and submodule
of the libraries loaded at start-up (standard library, numpy, pandas...) that the student
replaced, and the real builtins; :func:`guard_leave` re-applies the student's changes
afterwards so their own later cells behave as under nbgrader.

The objects test cells call are reached through constants of the compiled code (see
:func:`bind_code`), never through a namespace the student can write to, and they are
*global-free*: everything they use is bound as a positional default (a tuple, which is
immutable) when the runner starts, so patching this module's globals changes nothing.
:func:`audit_hook` (a PEP 578 hook: it cannot be removed) keeps the student from changing
those defaults, or the code and defaults of library functions in place, from reaching
other threads' frames, the garbage collector's object lists, tracing, ctypes' audited
entry points and cffi.

Not covered: comparisons other than ``==``/``in`` (``!=``, ``<``, chained comparisons),
arithmetic and conversions on student objects (``abs(x - 0.5) < 1e-9`` with an ``x``
whose ``__sub__`` lies), checks done inside library code (``pd.testing``, ``unittest``), a
background thread of the student's re-patching a library while a test runs, libraries
first imported by student code, and raw memory access (see the runner's docstring).
"""

from __future__ import annotations

import ast
import builtins
import operator
import os
import sys
import types
import warnings

SENTINEL_EQ = "\x00lms-trusted-eq"
SENTINEL_IN = "\x00lms-trusted-in"
SENTINEL_BUILTINS = "\x00lms-trusted-builtins"
SENTINEL_MODULE = "\x00lms-trusted-module"
SENTINELS = (SENTINEL_EQ, SENTINEL_IN, SENTINEL_BUILTINS, SENTINEL_MODULE)

# Modules whose attributes legitimately change at run time, or that the runner itself
# drives (the shell, our own modules): never reset by the library guard.
UNGUARDED_PREFIXES = (
    "__main__", "builtins", "sys", "IPython", "ipykernel", "traitlets", "matplotlib",
    "matplotlib_inline", "prompt_toolkit", "jedi", "parso", "graders", "lms_extension",
    "_pytest", "pytest", "warnings", "logging", "threading", "_thread", "signal", "site",
    "encodings", "importlib", "zipimport", "_frozen_importlib", "_frozen_importlib_external",
)
# Raw memory access without an audit event: cannot be loaded by student code. (ctypes is
# always loaded: pandas imports it; its audited entry points are refused instead.)
BLOCKED_IMPORTS = frozenset({"cffi", "_cffi_backend"})
DENIED_EVENTS = frozenset({
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "sys._current_frames", "sys._current_exceptions",
    "sys.settrace", "sys.setprofile", "sys.addaudithook",
})

_HEAPTYPE = 1 << 9
_IMMUTABLETYPE = 1 << 8
_MISSING = object()


# --------------------------------------------------------------------------------------
# Supervisor side: compiling a test cell
# --------------------------------------------------------------------------------------
class CompiledTestCell:
    """A test cell compiled by the supervisor: the statements, and the trailing
    expression whose value IPython would display (and nbgrader read partial credit from)."""

    def __init__(self, body, expression, quiet: bool, warnings_text: str):
        self.body = body
        self.expression = expression
        self.quiet = quiet
        self.warnings_text = warnings_text


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the cell binds anywhere (any scope): those are never rewritten."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def import_aliases(sources) -> dict[str, tuple[str, str | None]]:
    """``{name: (module, attribute or None)}`` for the top-level imports of ``sources``
    (the source notebook's code): what ``np``, ``pd``, ``isclose``... mean there."""
    aliases: dict[str, tuple[str, str | None]] = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in _top_level_statements(tree.body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = (alias.name, None)
                    else:
                        top = alias.name.split(".")[0]
                        aliases[top] = (top, None)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name != "*":
                        aliases[alias.asname or alias.name] = (node.module, alias.name)
    return aliases


def _top_level_statements(body):
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                yield from _top_level_statements(getattr(node, field, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                yield from _top_level_statements(handler.body)


class _TestCellRewriter(ast.NodeTransformer):
    def __init__(self, builtin_names: set[str], aliases: dict[str, tuple[str, str | None]]):
        self.builtin_names = builtin_names
        self.aliases = aliases

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) != 1:
            return node  # chains keep Python's own evaluation (documented limitation)
        op, right = node.ops[0], node.comparators[0]
        if isinstance(op, ast.Eq):
            call = _sentinel_call(SENTINEL_EQ, [node.left, right])
        elif isinstance(op, (ast.In, ast.NotIn)):
            call = _sentinel_call(SENTINEL_IN, [node.left, right])
            if isinstance(op, ast.NotIn):
                call = ast.UnaryOp(op=ast.Not(), operand=call)
        else:
            return node
        return ast.copy_location(call, node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if not isinstance(node.ctx, ast.Load):
            return node
        if node.id in self.aliases:
            module, attribute = self.aliases[node.id]
            call = _sentinel_call(SENTINEL_MODULE, [ast.Constant(module), ast.Constant(attribute)])
            return ast.copy_location(call, node)
        if node.id in self.builtin_names:
            call = _sentinel_call(SENTINEL_BUILTINS, [ast.Constant(node.id)])
            return ast.copy_location(call, node)
        return node


def _sentinel_call(sentinel: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(func=ast.Constant(sentinel), args=args, keywords=[])


def compile_test_cell(source: str, filename: str, *, transform, builtin_names: set[str],
                      aliases: dict[str, tuple[str, str | None]],
                      instructor_names: set[str]) -> CompiledTestCell:
    """Compile a test cell as IPython would run it (``transform`` is IPython's cell
    transformer: magics, ``!`` commands), with the rewrites described above.

    A cell that does not compile becomes code raising the same ``SyntaxError``, so it
    fails like under nbgrader."""
    from IPython.core.displayhook import DisplayHook

    try:
        python = transform(source)
    except Exception as exc:  # IPython's transformers raise various types on bad input
        return _raising(SyntaxError(f"{type(exc).__name__}: {exc}"), filename)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            original = compile(python, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            compile(original, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            if not isinstance(exc, SyntaxError):
                exc = SyntaxError(f"{type(exc).__name__}: {exc}")
            return _raising(exc, filename)
    warnings_text = "".join(
        warnings.formatwarning(w.message, w.category, w.filename, w.lineno, None)
        for w in caught if issubclass(w.category, SyntaxWarning))
    try:
        quiet = bool(DisplayHook.semicolon_at_end_of_expression(python))
    except Exception:  # tokenize errors: IPython would not be quiet either
        quiet = False

    protected = bound_names(original) | instructor_names
    rewriter = _TestCellRewriter(
        {n for n in builtin_names if n not in protected and not n.startswith("__")},
        {n: a for n, a in aliases.items() if n not in protected})
    tree = rewriter.visit(original)
    ast.fix_missing_locations(tree)
    expression = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        expression = ast.Expression(body=tree.body.pop().value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "'str' object is not callable": the sentinels
        body = compile(tree, filename, "exec", dont_inherit=True)
        expression_code = (compile(expression, filename, "eval", dont_inherit=True)
                           if expression is not None else None)
    return CompiledTestCell(body, expression_code, quiet, warnings_text)


def _raising(exc: SyntaxError, filename: str) -> CompiledTestCell:
    args = (exc.msg or str(exc), (exc.filename or filename, exc.lineno, exc.offset, exc.text))
    body = compile(f"raise SyntaxError(*{args!r})", filename, "exec", dont_inherit=True)
    return CompiledTestCell(body, None, False, "")


# --------------------------------------------------------------------------------------
# Executor side: the trusted functions test cells call
#
# Rules for everything below (a test checks them): no global or closure variable, no
# nested function, generator or comprehension; identity (``is``, ``id``) rather than
# ``==``/hash on objects the student may have made. Defaults are filled in by
# ``install_trusted`` before any student code runs.
# --------------------------------------------------------------------------------------
class Canary:
    """A value that equals nothing but itself: compared against untrusted objects."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<canary>"


def eq_provider(cls, _mro_of=None, _dict_of=None, _get=None, _missing=None):
    """The class whose ``__eq__`` instances of ``cls`` use (metaclasses bypassed)."""
    for klass in _mro_of(cls):
        if _get(_dict_of(klass), "__eq__", _missing) is not _missing:
            return klass
    return None


def is_untrusted_eq(value, _type=type, _provider=None, _dict_of=None, _get=None,
                    _trusted_ids=None, _id=id, _c_eq_type_ids=None):
    """Does comparing ``value`` run an ``__eq__`` made after the grader started?"""
    klass = _provider(_type(value))
    if klass is None or _id(klass) in _trusted_ids:
        return False
    return _id(_type(_get(_dict_of(klass), "__eq__", None))) not in _c_eq_type_ids


def has_untrusted_eq(value, _type=type, _untrusted=None, _id=id, _scalar_ids=None,
                     _seq_ids=None, _set_ids=None, _dict_id=None, _provider=None,
                     _list_iter=None, _tuple_iter=None, _set_iter=None, _frozenset_iter=None,
                     _dict_keys=None, _dict_values=None, _list_type=list, _tuple_type=tuple,
                     _set_type=set, _len=len, _budget=20000):
    """Does comparing ``value`` (with ``==`` of builtin containers descending into their
    items) run an untrusted ``__eq__`` anywhere? Big structures count as untrusted."""
    pending = [value]
    seen = 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > _budget:
            return True
        kind = _type(item)
        if _id(kind) in _scalar_ids:
            continue
        klass = _provider(kind)
        klass_id = _id(klass)
        if klass_id in _seq_ids:
            if klass is _list_type:
                pending.extend(_list_iter(item))
            else:
                pending.extend(_tuple_iter(item))
            if _len(pending) > _budget:
                return True
        elif klass_id == _dict_id:
            pending.extend(_dict_keys(item))
            pending.extend(_dict_values(item))
            if _len(pending) > _budget:
                return True
        elif klass_id in _set_ids:
            if klass is _set_type:
                pending.extend(_set_iter(item))
            else:
                pending.extend(_frozenset_iter(item))
            if _len(pending) > _budget:
                return True
        elif _untrusted(item):
            return True
    return False


def canaries_for(value, count, _type=type, _id=id, _int=int, _float=float, _complex=complex,
                 _bool=bool, _str=str, _bytes=bytes, _list=list, _tuple=tuple, _dict=dict,
                 _set=set, _frozenset=frozenset, _len=len, _canary=Canary, _random=None,
                 _self=None):
    """``count`` values of ``value``'s own type (for plain data) that differ from it."""
    made = []
    step = 0
    kind = _type(value)
    while _len(made) < count:
        step += 1
        if kind is _bool:
            made.append(not value)
        elif kind is _int:
            made.append(value + step)
        elif kind is _float:
            other = value + step
            if other == value or other != other:  # huge, infinite or NaN
                other = _float(step) if value != 0 else -_float(step)
            made.append(other)
        elif kind is _complex:
            made.append(value + step)
        elif kind is _str:
            made.append(value + "\u2063" * step)
        elif kind is _bytes:
            made.append(value + b"\x00" * step)
        elif (kind is _list or kind is _tuple) and _len(value) > 0:
            index = _random(_len(value))
            items = _list(value)
            items[index] = _self(items[index], 1)[0]
            made.append(items if kind is _list else _tuple(items))
        elif kind is _dict and _len(value) > 0:
            changed = _dict(value)
            keys = _list(changed)
            key = keys[_random(_len(keys))]
            changed[key] = _self(changed[key], 1)[0]
            made.append(changed)
        elif kind is _set or kind is _frozenset:
            made.append(value | kind((_canary(),)))
        elif kind is _list:
            made.append([_canary()])
        elif kind is _tuple:
            made.append((_canary(),))
        elif kind is _dict:
            made.append({_canary(): 0})
        else:
            made.append(_canary())
    return made


def truthy(value, _bool=bool, _BaseException=BaseException):
    """``bool(value)``; None when it cannot be decided (numpy arrays, errors)."""
    try:
        return _bool(value)
    except _BaseException:
        return None


def trusted_eq(left, right, _has_untrusted=None, _untrusted=None, _type=type, _len=len,
               _list=list, _tuple=tuple, _dict=dict, _zip=zip, _truthy=None, _canaries=None,
               _random=None, _range=range, _self=None):
    """``left == right`` as a test cell means it (see the module docstring)."""
    left_untrusted = _has_untrusted(left)
    right_untrusted = _has_untrusted(right)
    if not left_untrusted and not right_untrusted:
        return left == right
    kind = _type(left)
    if kind is _type(right) and (kind is _list or kind is _tuple):
        if _len(left) != _len(right):
            return False
        for a, b in _zip(left, right):
            if a is not b and not _truthy(_self(a, b)):
                return False
        return True
    if kind is _dict and _type(right) is _dict:
        if _len(left) != _len(right):
            return False
        for key in left:
            if key not in right:
                return False
            a = left[key]
            b = right[key]
            if a is not b and not _truthy(_self(a, b)):
                return False
        return True
    if left_untrusted and right_untrusted and _untrusted(left) and _untrusted(right):
        return left == right  # both sides were written after start-up: nothing to anchor on
    suspect_is_left = _untrusted(left) or not _untrusted(right)
    anchor = right if suspect_is_left else left
    before = _random(3)
    after = 1 + _random(2)
    fakes = _canaries(anchor, before + after)
    index = 0
    flagged = False
    result = None
    for position in _range(before + after + 1):
        if position == before:
            result = left == right
            continue
        fake = fakes[index]
        index += 1
        if suspect_is_left:
            said = left == fake
        else:
            said = fake == right
        if _truthy(said):
            flagged = True
    if flagged:
        return False
    return result


def trusted_in(item, container, _has_untrusted=None, _type=type, _id=id, _iterable_ids=None,
               _dict_id=None, _dict_keys=None, _truthy=None, _eq=None, _iter=iter):
    """``item in container`` as a test cell means it."""
    found = item in container
    if not found:
        return False
    kind_id = _id(_type(container))
    if kind_id not in _iterable_ids and kind_id != _dict_id:
        return True  # str, ranges, pandas objects...: their own rules
    if not _has_untrusted(item) and not _has_untrusted(container):
        return True
    candidates = _dict_keys(container) if kind_id == _dict_id else _iter(container)
    for candidate in candidates:
        if candidate is item or _truthy(_eq(candidate, item)):
            return True
    return False


def trusted_builtin(name, _builtins=None, _get=None):
    """The real builtin ``name`` (as it was when the runner started)."""
    return _get(_builtins, name)


def trusted_module(name, attribute, _modules=None, _sys_modules=None, _import=None,
                   _getattr=None, _get=None):
    """The module (or one of its attributes) a test cell's import alias refers to."""
    module = _get(_modules, name, None)
    if module is None:
        module = _sys_modules.get(name)
        if module is None:
            module = _import(name)
    if attribute is None:
        return module
    return _getattr(module, attribute)


def bind_code(code, _table=None, _type=type, _code_type=types.CodeType, _str=str,
              _tuple=tuple, _self=None):
    """``code`` with every sentinel constant replaced by its trusted object."""
    consts = []
    changed = False
    for const in code.co_consts:
        kind = _type(const)
        if kind is _code_type:
            bound = _self(const)
            changed = changed or bound is not const
            consts.append(bound)
        elif kind is _str and const in _table:
            consts.append(_table[const])
            changed = True
        else:
            consts.append(const)
    if not changed:
        return code
    return code.replace(co_consts=_tuple(consts))


def guard_enter(namespace, _sys_modules=None, _module_names=None, _module_objects=None,
                _dicts=None, _classes=None, _flat=None, _builtins_module=None, _all=all,
                _map=map, _is=operator.is_, _zip=zip, _dict_get=dict.get,
                _proxy_get=types.MappingProxyType.get, _class_dict=None, _set_class_attr=None,
                _missing=_MISSING):
    """Put back the real builtins, modules, module functions and class methods the
    student replaced; returns what was changed, for :func:`guard_leave`. The usual case,
    nothing changed, is one pass in C over flattened tuples."""
    changes = []
    if not _all(_map(_is, _module_objects, _map(_sys_modules.get, _module_names))):
        for name, module in _zip(_module_names, _module_objects):
            current = _sys_modules.get(name, _missing)
            if current is not module:
                changes.append((0, _sys_modules, name, current, module))
                _sys_modules[name] = module
    dicts, keys, values, proxies, class_keys, class_values = _flat
    if not _all(_map(_is, values, _map(_dict_get, dicts, keys))):
        for target, keys, values in _dicts:
            if _all(_map(_is, values, _map(target.get, keys))):
                continue
            for key, value in _zip(keys, values):
                current = target.get(key, _missing)
                if current is not value:
                    changes.append((0, target, key, current, value))
                    target[key] = value
    if not _all(_map(_is, class_values, _map(_proxy_get, proxies, class_keys))):
        for klass, keys, values in _classes:
            contents = _class_dict(klass)
            if _all(_map(_is, values, _map(contents.get, keys))):
                continue
            for key, value in _zip(keys, values):
                current = contents.get(key, _missing)
                if current is not value:
                    changes.append((1, klass, key, current, value))
                    _set_class_attr(klass, key, value)
    current = namespace.get("__builtins__", _missing)
    if current is not _builtins_module:
        changes.append((0, namespace, "__builtins__", current, _builtins_module))
        namespace["__builtins__"] = _builtins_module
    return changes


def guard_leave(changes, _class_dict=None, _set_class_attr=None, _del_class_attr=None,
                _missing=_MISSING, _BaseException=BaseException):
    """Re-apply the student's own changes that :func:`guard_enter` undid (unless the test
    itself changed the same thing meanwhile)."""
    for kind, target, key, student_value, real_value in changes:
        try:
            if kind == 0:
                if target.get(key, _missing) is not real_value:
                    continue
                if student_value is _missing:
                    del target[key]
                else:
                    target[key] = student_value
            else:
                if _class_dict(target).get(key, _missing) is not real_value:
                    continue
                if student_value is _missing:
                    _del_class_attr(target, key)
                else:
                    _set_class_attr(target, key, student_value)
        except _BaseException:
            pass


def audit_hook(event, args, _denied=DENIED_EVENTS, _blocked=BLOCKED_IMPORTS,
               _protected_ids=None, _library_function_ids=None, _id=id, _type=type, _str=str, _exact_str=str.__str__,
               _partition=str.partition, _startswith=str.startswith, _endswith=str.endswith,
               _isinstance=isinstance, _runtime=RuntimeError, _import_error=ImportError):
    """The PEP 578 hook of the executor (installed before any student code runs)."""
    if event in _denied or _startswith(event, "ctypes."):
        raise _runtime(event + " is not available while a submission is graded")
    if event == "import":
        name = args[0]
        if _isinstance(name, _str) and _partition(_exact_str(name), ".")[0] in _blocked:
            raise _import_error(_partition(_exact_str(name), ".")[0]
                                + " cannot be imported while a submission is graded")
    elif event == "object.__setattr__":
        # Raised for a function's __code__, __defaults__ and __kwdefaults__: the grader's
        # functions, and those of the libraries loaded at start-up, keep theirs (the
        # library guard compares identities, so a swapped __code__ would slip by).
        if _id(args[0]) in _protected_ids or (
                _id(args[0]) in _library_function_ids
                and _exact_str(args[1]) in ("__code__", "__defaults__", "__kwdefaults__")):
            raise _runtime("changing the grader's or a library's functions is not allowed")
    elif event == "open":
        path = args[0]
        if _type(path) is _str and _startswith(path, "/proc/") and (
                _endswith(path, "/mem") or "/map_files/" in path):
            raise _runtime("process memory is not accessible while a submission is graded")


TRUSTED_FUNCTIONS = (eq_provider, is_untrusted_eq, has_untrusted_eq, canaries_for, truthy,
                     trusted_eq, trusted_in, trusted_builtin, trusted_module, bind_code, guard_enter,
                     guard_leave, audit_hook)


# --------------------------------------------------------------------------------------
# Start-up: the snapshot of the interpreter before any student code, and binding
# --------------------------------------------------------------------------------------
class Snapshot:
    """The libraries as they were when the runner started (taken once, before forking)."""

    def __init__(self, builtins_dict: dict, exclude=UNGUARDED_PREFIXES):
        self.builtins = types.MappingProxyType(dict(builtins_dict))
        names, objects, dicts, classes = [], [], [], []
        trusted_ids = set()
        seen_classes: set[int] = set()
        for name, module in list(sys.modules.items()):
            if not isinstance(module, types.ModuleType):
                continue
            module_dict = getattr(module, "__dict__", None)
            if type(module_dict) is not dict:
                continue
            for value in list(module_dict.values()):
                if isinstance(value, type):
                    trusted_ids.add(id(value))
            if _excluded(name, exclude):
                continue
            names.append(name)
            objects.append(module)
            keys = tuple(k for k, v in module_dict.items()
                         if isinstance(k, str) and _guarded_module_value(v))
            if keys:
                dicts.append((module_dict, keys, tuple(module_dict[k] for k in keys)))
            for key in keys:
                value = module_dict[key]
                if (isinstance(value, type) and id(value) not in seen_classes
                        and value.__flags__ & _HEAPTYPE and not value.__flags__ & _IMMUTABLETYPE
                        and type(value.__dict__) is types.MappingProxyType):
                    seen_classes.add(id(value))
                    class_keys = tuple(k for k, v in value.__dict__.items()
                                       if isinstance(k, str) and _guarded_class_value(k, v))
                    if class_keys:
                        classes.append((value, class_keys,
                                        tuple(value.__dict__[k] for k in class_keys)))
        for klass in (object, type, int, float, complex, bool, str, bytes, list, tuple, dict,
                      set, frozenset, type(None)):
            trusted_ids.add(id(klass))
        self.module_names = tuple(names)
        self.module_objects = tuple(objects)
        self.modules = types.MappingProxyType(dict(zip(names, objects)))
        self.dicts = tuple(dicts) + ((builtins.__dict__, tuple(self.builtins),
                                      tuple(self.builtins.values())),)
        self.classes = tuple(classes)
        self.trusted_class_ids = frozenset(trusted_ids)
        function_ids = set()
        plain = (types.BuiltinFunctionType, type, types.ModuleType)
        for _, _, values in self.dicts + self.classes:
            for value in values:
                kind = type(value)
                if kind is types.FunctionType:
                    function_ids.add(id(value))
                    value = value.__dict__.get("__wrapped__") if value.__dict__ else None
                    if type(value) is types.FunctionType:  # functools.wraps
                        function_ids.add(id(value))
                elif kind in plain or isinstance(value, plain):
                    continue
                else:  # classmethod, staticmethod, property, numpy's dispatchers, partials...
                    for name in ("__func__", "__wrapped__", "_implementation", "fget", "fset"):
                        try:
                            inner = getattr(value, name, None)
                        except Exception:
                            inner = None
                        if type(inner) is types.FunctionType:
                            function_ids.add(id(inner))
        self.function_ids = frozenset(function_ids)
        # the same, flattened: (dict, key, value) and (class proxy, key, value) per entry
        flat_dicts, flat_keys, flat_values = [], [], []
        for target, keys, values in self.dicts:
            flat_dicts += [target] * len(keys)
            flat_keys += keys
            flat_values += values
        proxies, class_keys, class_values = [], [], []
        for klass, keys, values in self.classes:
            proxies += [klass.__dict__] * len(keys)
            class_keys += keys
            class_values += values
        self.flat = (tuple(flat_dicts), tuple(flat_keys), tuple(flat_values), tuple(proxies),
                     tuple(class_keys), tuple(class_values))


def _excluded(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes) or name.startswith("_frozen")


def _guarded_module_value(value) -> bool:
    """Functions, classes, submodules and other callables (numpy's dispatchers and ufuncs,
    partials...): what a test calls. Data (options, caches, counters) may change."""
    try:
        return callable(value) or isinstance(value, types.ModuleType)
    except Exception:
        return False


def _guarded_class_value(key: str, value) -> bool:
    if key in ("__dict__", "__weakref__", "__doc__", "__module__", "__qualname__",
               "__annotations__", "__slots__", "__abstractmethods__", "_abc_impl"):
        return False
    return isinstance(value, (types.FunctionType, classmethod, staticmethod, property,
                              types.BuiltinFunctionType, types.MethodDescriptorType,
                              types.WrapperDescriptorType))


def _random_below(n, _urandom=os.urandom, _from_bytes=int.from_bytes):
    return _from_bytes(_urandom(2), "little") % n


def _set_defaults(function, **values) -> None:
    """Fill the ``_``-prefixed positional defaults of a trusted function by name."""
    code = function.__code__
    names = code.co_varnames[:code.co_argcount]
    defaults = list(function.__defaults__ or ())
    first = len(names) - len(defaults)
    for name, value in values.items():
        defaults[names.index(name) - first] = value
    function.__defaults__ = tuple(defaults)


def install_trusted(snapshot: Snapshot):
    """Bind the trusted functions to ``snapshot`` and return ``(sentinel table, guard
    enter, guard leave, bind_code, audit hook, protected ids)``. Called in each executor
    before any student code; the functions are copies, so the module's own stay pristine."""
    import importlib

    def copy(function):
        clone = types.FunctionType(function.__code__, {"__builtins__": {}}, function.__name__,
                                   function.__defaults__, None)
        clone.__qualname__ = function.__qualname__
        return clone

    f = {fn.__name__: copy(fn) for fn in TRUSTED_FUNCTIONS}
    type_dict = type.__dict__
    mro_of = type_dict["__mro__"].__get__
    dict_of = type_dict["__dict__"].__get__
    mp_get = types.MappingProxyType.get
    c_eq_types = frozenset(id(t) for t in (
        types.WrapperDescriptorType, types.BuiltinFunctionType, types.MethodDescriptorType,
        types.MethodWrapperType, type(None)))
    _set_defaults(f["eq_provider"], _mro_of=mro_of, _dict_of=dict_of, _get=mp_get,
                  _missing=_MISSING)
    _set_defaults(f["is_untrusted_eq"], _provider=f["eq_provider"], _dict_of=dict_of,
                  _get=mp_get, _trusted_ids=snapshot.trusted_class_ids,
                  _c_eq_type_ids=c_eq_types)
    scalar_ids = frozenset(id(t) for t in (int, float, complex, bool, str, bytes, type(None)))
    _set_defaults(f["has_untrusted_eq"], _untrusted=f["is_untrusted_eq"], _scalar_ids=scalar_ids,
                  _seq_ids=frozenset((id(list), id(tuple))), _set_ids=frozenset((id(set), id(frozenset))),
                  _dict_id=id(dict), _provider=f["eq_provider"], _list_iter=list.__iter__,
                  _tuple_iter=tuple.__iter__, _set_iter=set.__iter__,
                  _frozenset_iter=frozenset.__iter__, _dict_keys=dict.keys,
                  _dict_values=dict.values)
    _set_defaults(f["canaries_for"], _random=_random_below, _self=f["canaries_for"])
    _set_defaults(f["trusted_eq"], _has_untrusted=f["has_untrusted_eq"],
                  _untrusted=f["is_untrusted_eq"], _truthy=f["truthy"],
                  _canaries=f["canaries_for"], _random=_random_below, _self=f["trusted_eq"])
    _set_defaults(f["trusted_in"], _has_untrusted=f["has_untrusted_eq"],
                  _iterable_ids=frozenset(id(t) for t in (list, tuple, set, frozenset)),
                  _dict_id=id(dict), _dict_keys=dict.keys, _truthy=f["truthy"],
                  _eq=f["trusted_eq"])
    _set_defaults(f["trusted_module"], _modules=snapshot.modules, _sys_modules=sys.modules,
                  _import=importlib.import_module, _getattr=types.ModuleType.__getattribute__,
                  _get=types.MappingProxyType.get)
    _set_defaults(f["trusted_builtin"], _builtins=snapshot.builtins,
                  _get=types.MappingProxyType.__getitem__)
    # Functions only in the constants: code objects must stay hashable (tracebacks hash them).
    table = types.MappingProxyType({
        SENTINEL_EQ: f["trusted_eq"], SENTINEL_IN: f["trusted_in"],
        SENTINEL_BUILTINS: f["trusted_builtin"], SENTINEL_MODULE: f["trusted_module"]})
    _set_defaults(f["bind_code"], _table=table, _self=f["bind_code"])
    _set_defaults(f["guard_enter"], _sys_modules=sys.modules, _module_names=snapshot.module_names,
                  _module_objects=snapshot.module_objects, _dicts=snapshot.dicts,
                  _classes=snapshot.classes, _flat=snapshot.flat, _builtins_module=builtins,
                  _class_dict=dict_of, _set_class_attr=type.__setattr__)
    _set_defaults(f["guard_leave"], _class_dict=dict_of, _set_class_attr=type.__setattr__,
                  _del_class_attr=type.__delattr__)
    protected = frozenset(id(fn) for fn in f.values()) | {id(Canary), id(_random_below)}
    _set_defaults(f["audit_hook"], _protected_ids=protected,
                  _library_function_ids=snapshot.function_ids)
    return table, f["guard_enter"], f["guard_leave"], f["bind_code"], f["audit_hook"], protected
