"""Grade a student's submission of a lesson as ``nbgrader autograde`` would, in the sandbox.

Input: the instructor's *source* notebooks (nbgrader metadata, solutions, hidden tests) and
the student's submitted notebooks (JSON text, possibly hostile). Output: plain dataclasses
(:class:`SubmissionGrade`), JSON-serialisable with ``to_dict()``.

What happens, with nbgrader's semantics:

1. **Master cells.** The source notebook goes through the preprocessors
   ``nbgrader generate_assignment`` runs before ``SaveCells`` (``LockCells``,
   ``ClearSolutions``, ``ClearOutput``, ``CheckCellMetadata``, ``ComputeChecksums``): the
   result is what nbgrader keeps in its gradebook and restores at autograde time
   (locked and test cells *with* their hidden tests, solution cells as stubs, checksums).
2. **Restoration** (nbgrader's ``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``,
   ``OverwriteCells`` and ``add_missing_cells``, but stricter): stored outputs are dropped;
   duplicated ``grade_id``\\ s keep the last copy; every cell carrying a known ``grade_id``
   gets the master's nbgrader metadata back (a student cannot turn a test cell into a
   manually graded or ungraded one); locked and test cells get the master's source and
   cell type; cells the student deleted are put back after the master cell that preceded
   them; unknown ``grade_id``\\ s become plain cells.
3. **Execution** in the sandbox (``graders.notebook_runner``): every code cell top to
   bottom in a fresh IPython process per notebook, per-cell timeout, the outcome of each
   test cell decided out of the student's reach (see the runner).
4. **Scores** with nbgrader's ``determine_grade`` (``graders.notebook_nbgrader``) on the executed cells: a test
   cell that raised or wrote to stderr scores 0, one whose last expression displays a
   number scores that number (partial credit), otherwise its points; a graded solution
   cell (written or code answer) needs manual grading unless unchanged (0, "No response.").

Messages meant for the student carry the error type and message only (never a traceback
into hidden tests), with lines of hidden tests blanked out. From the first test cell with
hidden tests on, the run holds their code, and the student's code may have read it (frames,
tracebacks, ``co_consts``) and put it into anything it produces later. So for every cell from
there to the end of the submission, what the student is shown comes from the test's source
and the trusted channel only: the outcome and points, an exception name among Python's
built-in ones, and a message chosen among the test's *visible* lines (the instructor's
assert message, or the line itself), else "a hidden test failed". Runtime text (exception
messages, standard error, outputs) stays in the autograded notebook, for instructors; the
cells carry ``metadata.lms.after_hidden_test`` there.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
import stat
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from graders import notebook_nbgrader as nbg
from graders.sandbox import Limits, Sandbox, SandboxConfig

log = logging.getLogger(__name__)

MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024
DEFAULT_CELL_TIMEOUT = 30.0  # nbgrader's Execute.timeout
LIMIT_OUTPUT_LINES = 1000  # nbgrader's LimitOutput defaults
LIMIT_TRACEBACK_LINES = 100
TIMEOUT_ERROR = {
    "output_type": "error", "ename": "CellTimeoutError", "evalue": "",
    "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"],
}
_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]+$")
_SEMANTIC_KEYS = ("grade_id", "grade", "solution", "locked", "task", "points")
_JUDGE = re.compile(r"^\s*%%?judge\b", re.M)  # the %%judge magic (lms_extension.kernel.judge)


def hidden_test_lines(cell_sources) -> list[str]:
    """The lines (stripped, 4+ characters) between BEGIN and END HIDDEN TESTS of each cell:
    what output shown to a student must never quote."""
    lines = []
    for source in cell_sources:
        inside = False
        for line in source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 4:
                lines.append(line.strip())
    return lines


def has_hidden_tests(source: str) -> bool:
    return "BEGIN HIDDEN TESTS" in source


_BUILTIN_EXCEPTIONS = frozenset(
    name for name, value in vars(__import__("builtins")).items()
    if isinstance(value, type) and issubclass(value, BaseException))


def builtin_exception_name(name) -> str:
    """``name`` if it is one of Python's built-in exceptions, else "Error": a student's
    exception class could be named after anything it read."""
    return name if isinstance(name, str) and name in _BUILTIN_EXCEPTIONS else "Error"


def authored_failure_message(source: str, line) -> str:
    """What a student is told of a test cell that failed after hidden tests ran: the
    instructor's message of the visible ``assert`` on ``line`` (or that assert itself), the
    visible line, or a fixed text. ``line`` is the executor's word, so it only selects
    among lines the student sees anyway."""
    lines = source.splitlines()
    visible: set[int] = set()
    inside = False
    for number, text in enumerate(lines, 1):
        if "BEGIN HIDDEN TESTS" in text:
            inside = True
        elif "END HIDDEN TESTS" in text:
            inside = False
        elif not inside:
            visible.add(number)
    fallback = "a hidden test failed" if has_hidden_tests(source) else "the test failed"
    if isinstance(line, bool) or not isinstance(line, int) or line not in visible \
            or not lines[line - 1].strip():
        return fallback
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Assert) and node.lineno <= line <= (node.end_lineno or node.lineno) \
                and all(n in visible for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)):
            if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str) and node.msg.value:
                return node.msg.value[:500]
            test = ast.get_source_segment(source, node.test) or lines[node.lineno - 1].strip()
            return f"failed: assert {test}"[:500]
    return f"failed: {lines[line - 1].strip()}"[:500]


class NotebookGraderUnavailable(RuntimeError):
    """The sandbox or an interpreter usable inside it is missing on this host."""


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass
class CellGrade:
    """One graded cell (nbgrader's ``Grade``) of one notebook."""

    notebook: str
    grade_id: str
    cell_type: str  # "code" or "markdown"
    points: float | None  # None: needs manual grading
    max_points: float
    status: str  # passed | partial | failed | timeout | not_run | tampered | manual | no_response
    passed: bool | None
    needs_manual_grade: bool
    error_name: str | None = None
    error_message: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class NotebookGrade:
    name: str  # file name, e.g. "01-hello-python.ipynb"
    cells: list[CellGrade]
    comments: dict[str, str | None]  # grade_id of solution/task cells -> nbgrader auto comment
    autograded_notebook: str  # nbformat JSON with outputs
    restored: list[str] = field(default_factory=list)  # what was put back, for instructors
    error: str | None = None  # notebook-level problem (invalid JSON, runner stopped...)
    submitted: bool = True

    @property
    def score(self) -> float:
        return sum(c.points or 0.0 for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.cells)

    @property
    def needs_manual_grade(self) -> bool:
        return any(c.needs_manual_grade for c in self.cells)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "score": self.score, "max_score": self.max_score,
            "needs_manual_grade": self.needs_manual_grade, "submitted": self.submitted,
            "error": self.error, "restored": list(self.restored), "comments": dict(self.comments),
            "cells": [c.to_dict() for c in self.cells],
            "autograded_notebook": self.autograded_notebook,
        }


@dataclass
class SubmissionGrade:
    notebooks: list[NotebookGrade]
    duration: float = 0.0
    error: str | None = None  # the run failed as a whole (sandbox problem)

    @property
    def score(self) -> float:
        return sum(n.score for n in self.notebooks)

    @property
    def max_score(self) -> float:
        return sum(n.max_score for n in self.notebooks)

    @property
    def needs_manual_grade(self) -> bool:
        return any(n.needs_manual_grade for n in self.notebooks)

    def cell(self, grade_id: str, notebook: str | None = None) -> CellGrade:
        for nb in self.notebooks:
            if notebook is None or nb.name == notebook:
                for cell in nb.cells:
                    if cell.grade_id == grade_id:
                        return cell
        raise KeyError(grade_id)

    def to_dict(self) -> dict:
        return {
            "score": self.score, "max_score": self.max_score,
            "needs_manual_grade": self.needs_manual_grade, "duration": self.duration,
            "error": self.error, "notebooks": [n.to_dict() for n in self.notebooks],
        }


# --------------------------------------------------------------------------------------
# Master cells (what nbgrader's gradebook holds after generate_assignment)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MasterCell:
    grade_id: str
    cell_type: str
    source: str
    checksum: str | None
    locked: bool  # nbgrader's utils.is_locked: restored from the master at autograde
    grade: bool
    solution: bool
    task: bool
    points: float
    nbgrader: Mapping  # the cell's full nbgrader metadata, as saved
    extra_metadata: Mapping  # editable / deletable flags set by LockCells

    @property
    def auto_graded(self) -> bool:
        return self.grade and not self.solution and self.cell_type == "code"


@dataclass(frozen=True)
class MasterNotebook:
    name: str
    cells: tuple[MasterCell, ...]
    kernelspec: Mapping | None
    code_sources: tuple[str, ...]  # every code cell of the source notebook (import aliases)

    @functools.cached_property
    def by_id(self) -> dict[str, MasterCell]:
        return {cell.grade_id: cell for cell in self.cells}

    @functools.cached_property
    def hidden_lines(self) -> tuple[str, ...]:
        lines = hidden_test_lines(cell.source for cell in self.cells)
        return tuple(sorted(set(lines), key=len, reverse=True))

    @functools.cached_property
    def instructor_names(self) -> frozenset[str]:
        """Names bound by locked and test cells (a test may rely on those)."""
        import ast

        from graders.notebook_guard import bound_names

        names: set[str] = set()
        for cell in self.cells:
            if cell.cell_type == "code" and cell.locked:
                try:
                    tree = ast.parse(cell.source)
                except (SyntaxError, ValueError):
                    continue
                for node in tree.body:
                    names |= bound_names(ast.Module(body=[node], type_ignores=[])) if not isinstance(
                        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else {node.name}
        return frozenset(names)

    @classmethod
    def from_source(cls, name: str, text: str) -> MasterNotebook:
        """The master cells of an nbgrader source notebook (cached by content)."""
        return _master_from_source(name, text)

    @classmethod
    def from_cells(cls, name: str, cells: list[MasterCell], kernelspec: Mapping | None,
                   code_sources: tuple[str, ...] = ()) -> MasterNotebook:
        return cls(name, tuple(cells), kernelspec, code_sources or tuple(
            c.source for c in cells if c.cell_type == "code"))


@functools.lru_cache(maxsize=256)
def _master_cached(name: str, digest: str, text: str) -> MasterNotebook:
    source = nbg.reads(text)
    code_sources = tuple(c["source"] for c in source["cells"]
                         if isinstance(c, dict) and c.get("cell_type") == "code")
    nb = nbg.master_notebook(source)
    cells = []
    for cell in nb["cells"]:
        if not (nbg.is_grade(cell) or nbg.is_solution(cell) or nbg.is_locked(cell)
                or nbg.is_task(cell)):
            continue
        meta = nbg.meta(cell)
        cells.append(MasterCell(
            grade_id=meta["grade_id"], cell_type=cell["cell_type"], source=cell["source"],
            checksum=meta.get("checksum"), locked=nbg.is_locked(cell),
            grade=nbg.is_grade(cell), solution=nbg.is_solution(cell), task=nbg.is_task(cell),
            points=float(meta.get("points", 0) or 0), nbgrader=_frozen(dict(meta)),
            extra_metadata=_frozen({k: cell["metadata"][k] for k in ("editable", "deletable")
                                    if k in cell["metadata"]}),
        ))
    kernelspec = source.get("metadata", {}).get("kernelspec") or None
    return MasterNotebook(name, tuple(cells), _frozen(dict(kernelspec)) if kernelspec else None,
                          code_sources)


def _master_from_source(name: str, text: str) -> MasterNotebook:
    return _master_cached(name, hashlib.sha256(text.encode()).hexdigest(), text)


def _frozen(value: dict) -> Mapping:
    import types

    return types.MappingProxyType(copy.deepcopy(value))


# --------------------------------------------------------------------------------------
# Restoration of a submitted notebook
# --------------------------------------------------------------------------------------
class InvalidSubmission(ValueError):
    """The submitted file is not a notebook at all."""


def _new_cell_id() -> str:
    return uuid.uuid4().hex[:8]


def _master_cell(master: MasterCell) -> dict:
    metadata = {**copy.deepcopy(dict(master.extra_metadata)),
                "nbgrader": copy.deepcopy(dict(master.nbgrader))}
    cell = {"cell_type": master.cell_type, "id": _new_cell_id(), "metadata": metadata,
            "source": master.source}
    if master.cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return ""


def restore_submission(master: MasterNotebook, text: str | bytes):
    """The notebook that will run: the submission with nbgrader's cells put back.
    Returns ``(notebook dict, notes)``; raises :class:`InvalidSubmission`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidSubmission("the notebook is not UTF-8 text") from exc
    if len(text) > MAX_NOTEBOOK_BYTES:
        raise InvalidSubmission("the notebook is too large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidSubmission(f"the notebook is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        raise InvalidSubmission("the file is not a Jupyter notebook")
    notes: list[str] = []
    cells = []
    for raw in data.get("cells", []):
        if not isinstance(raw, dict):
            continue
        cell_type = raw.get("cell_type") if raw.get("cell_type") in ("code", "markdown", "raw") else "code"
        metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        # ClearOutput (nbconvert's ClearOutputPreprocessor drops these two as well)
        metadata = {k: v for k, v in metadata.items() if k not in ("collapsed", "scrolled")}
        cell = {"cell_type": cell_type, "id": raw.get("id"), "metadata": metadata,
                "source": _text(raw.get("source", ""))}
        if cell_type == "code":
            cell.update(outputs=[], execution_count=None)
        elif isinstance(raw.get("attachments"), dict) and cell_type in ("markdown", "raw"):
            cell["attachments"] = raw["attachments"]
        cells.append(cell)

    def grade_id_of(cell) -> str | None:
        meta = cell["metadata"].get("nbgrader")
        if not isinstance(meta, dict):
            return None
        gid = meta.get("grade_id")
        return gid if isinstance(gid, str) else None

    # DeduplicateIds: the last copy of a grade_id keeps its metadata.
    seen: set[str] = set()
    for cell in reversed(cells):
        gid = grade_id_of(cell)
        if gid is None:
            cell["metadata"].pop("nbgrader", None)
            continue
        if gid in seen:
            notes.append(f"duplicate of cell {gid!r} turned into a plain cell")
            cell["metadata"].pop("nbgrader", None)
        seen.add(gid)

    # OverwriteCells (metadata, type, locked sources), stricter than nbgrader.
    present: dict[str, dict] = {}
    for cell in cells:
        gid = grade_id_of(cell)
        if gid is None:
            continue
        m = master.by_id.get(gid)
        if m is None:
            notes.append(f"unknown cell id {gid!r} turned into a plain cell")
            cell["metadata"].pop("nbgrader", None)
            continue
        present[gid] = cell
        if any(cell["metadata"]["nbgrader"].get(k) != m.nbgrader.get(k) for k in _SEMANTIC_KEYS):
            notes.append(f"nbgrader metadata of cell {gid!r} restored")
        cell["metadata"]["nbgrader"] = copy.deepcopy(dict(m.nbgrader))
        cell["metadata"].update(copy.deepcopy(dict(m.extra_metadata)))
        if cell["cell_type"] != m.cell_type:
            notes.append(f"cell type of {gid!r} restored to {m.cell_type}")
            cell["cell_type"] = m.cell_type
            cell.pop("attachments", None)
            if m.cell_type == "code":
                cell.update(outputs=[], execution_count=None)
            else:
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        if m.locked and cell["source"] != m.source:
            notes.append(f"source of locked cell {gid!r} restored")
            cell["source"] = m.source

    # add_missing_cells: deleted master cells go back after their predecessor.
    order = [c.grade_id for c in master.cells]
    for position, m in enumerate(master.cells):
        if m.grade_id in present:
            continue
        new = _master_cell(m)
        anchor = None
        for previous in reversed(order[:position]):
            if previous in present:
                anchor = present[previous]
                break
        if anchor is None:
            cells.insert(0, new)
        else:
            cells.insert(next(i for i, c in enumerate(cells) if c is anchor) + 1, new)
        present[m.grade_id] = new
        notes.append(f"deleted cell {m.grade_id!r} restored")

    # nbformat 4.5 cell ids: present, valid and unique.
    ids: set[str] = set()
    for cell in cells:
        cid = cell.get("id")
        if not isinstance(cid, str) or not _CELL_ID.match(cid) or len(cid) > 64 or cid in ids:
            cid = _new_cell_id()
            while cid in ids:
                cid = _new_cell_id()
        cell["id"] = cid
        ids.add(cid)

    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    metadata = copy.deepcopy(metadata)
    if master.kernelspec:
        metadata["kernelspec"] = copy.deepcopy(dict(master.kernelspec))  # OverwriteKernelspec
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": cells}, notes


# --------------------------------------------------------------------------------------
# Running in the sandbox
# --------------------------------------------------------------------------------------
class NotebookLimits(Limits):
    """Limits of one submission's run. Notebook grading is the platform's own job, not a
    Judge0 request, so its ceilings are higher than Judge0's."""

    MAXIMA: ClassVar[Mapping[str, float]] = {
        "cpu_time": 3600, "cpu_extra_time": 60, "wall_time": 3600, "memory": 8_000_000,
        "stack": 512_000, "max_processes": 512, "max_file_size": 65_536,
    }


def default_limits(cells: int = 0, cell_timeout: float = DEFAULT_CELL_TIMEOUT) -> NotebookLimits:
    """The run's budget: a minute, plus a quarter of every cell's timeout (a run whose
    cells all time out is stopped as a whole, and its cells score 0)."""
    budget = min(3000.0, 60.0 + cell_timeout * max(cells, 1) / 4)
    return NotebookLimits(cpu_time=budget, cpu_extra_time=2, wall_time=budget + 30,
                          memory=1_536_000, stack=64_000, max_processes=160,
                          max_file_size=32_768)


RUNNER_INSIDE = "/opt/lms/runner"  # the runner's modules (a copy), inside the sandbox
SITE_INSIDE = "/opt/lms/site-packages"  # IPython, pandas... (read-only binds)
# The modules the runner imports of this project: copied out of the checkout, which the
# sandbox never sees. The judge magic's local backend needs the sandbox's language table.
RUNNER_MODULES = {
    "graders": ("__init__.py", "notebook_runner.py", "notebook_guard.py", "sandbox.py",
                "seccomp.py", "cgroups.py", "languages.py", "warm_python.py", "judging.py",
                "limits.py", "judge0/__init__.py", "judge0/statuses.py"),
    "lms_extension": ("__init__.py", "judge_magic.py", "kernel/__init__.py", "kernel/judge.py",
                      "kernel/judge0_tables.py", "kernel/client.py"),
}


@dataclass(frozen=True)
class RunnerEnvironment:
    """How the runner starts inside the sandbox: an interpreter the sandbox's uid can
    execute, what it sees of the host besides the sandbox's own runtime (its prefix when
    that is not under /usr) and where the packages it imports are bound."""

    interpreter: str
    site_dirs: tuple[str, ...]  # paths inside the sandbox
    read_only_paths: tuple[str, ...]  # host paths, visible at the same place
    mounts: tuple[tuple[str, str], ...] = ()  # (host path, path inside)

    def argv(self, *options: str) -> list[str]:
        # our modules first: a copy of exactly what the runner needs wins over an
        # installed (or editable) jupyter-lms in the site directories
        boot = ("import site, sys\n"
                f"sys.path.insert(0, {RUNNER_INSIDE!r})\n"
                f"for d in {list(self.site_dirs)!r}: site.addsitedir(d)\n"
                "from graders.notebook_runner import main\n"
                "main(sys.argv[1:])\n")
        env = ["LMS_JUDGE_LOCAL=1", "NBGRADER_EXECUTION=autograde", "PYTHONHASHSEED=0",
               "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1",
               "NUMEXPR_MAX_THREADS=1", "IPYTHONDIR=/tmp/.ipython", "MPLCONFIGDIR=/tmp/.mpl",
               "MPLBACKEND=module://matplotlib_inline.backend_inline", "PYDEVD_DISABLE_FILE_VALIDATION=1",
               "TERM=dumb", "JPY_PARENT_PID=1"]
        return ["/usr/bin/env", *env, self.interpreter, "-I", "-S", "-B", "-c", boot, *options]


def _accessible_to_others(path: str) -> bool:
    path = os.path.realpath(path)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if not mode & stat.S_IROTH or (stat.S_ISREG(mode) and not mode & stat.S_IXOTH):
        return False
    parent = os.path.dirname(path)
    while parent and parent != "/":
        try:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        parent = os.path.dirname(parent)
    return True


def _open_to_others(path: str) -> bool:
    """Whether others may read ``path`` itself (and enter it, a folder). The folders
    leading to it do not matter: the sandbox shows a bound folder that its uid cannot
    reach on the host through a view of its own (a venv in a checkout only root may enter)."""
    try:
        mode = os.stat(os.path.realpath(path)).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IROTH and (not stat.S_ISDIR(mode) or mode & stat.S_IXOTH))


def _runner_copy(state_dir: str) -> str:
    """A root-owned copy of the runner's modules under the sandbox's state folder, named
    after its content (processes of different versions keep their own), with compiled
    bytecode next to it. Made from wherever the checkout lives, even a folder only root
    may enter."""
    import py_compile
    import shutil
    import tempfile

    packages = {}
    for package, names in RUNNER_MODULES.items():
        try:
            module = __import__(package)
        except ImportError:
            continue
        folder = os.path.dirname(os.path.abspath(module.__file__))
        packages[package] = {name: open(os.path.join(folder, name), "rb").read()
                             for name in names if os.path.isfile(os.path.join(folder, name))}
    digest = hashlib.sha256(json.dumps(
        {p: {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
         for p, files in packages.items()}, sort_keys=True).encode()).hexdigest()[:16]
    target = os.path.join(state_dir, f"runner-{digest}")
    if os.path.isdir(target):
        return target
    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=".runner-", dir=state_dir)
    try:
        for package, files in packages.items():
            os.mkdir(os.path.join(temporary, package), 0o755)
            for name, data in files.items():
                path = os.path.join(temporary, package, name)
                os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                os.chmod(path, 0o644)
                py_compile.compile(path, dfile=f"{RUNNER_INSIDE}/{package}/{name}", doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        for dirpath, dirnames, filenames in os.walk(temporary):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
        try:
            os.rename(temporary, target)
        except OSError:  # another process made the same copy meanwhile
            if not os.path.isdir(target):
                raise
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary)
    return target


@functools.cache
def runner_environment() -> RunnerEnvironment:
    """Find an interpreter of this Python's version that the sandbox can run, and the
    directories it must see. The running interpreter is used when everyone may execute
    it (a system or container Python); otherwise (pyenv under /root, say) the system's
    ``/usr/bin/pythonX.Y``, which loads the same site-packages (same ABI). Without one, the
    running interpreter after all when only the folders leading to its prefix are closed:
    the sandbox reaches the prefix through a view of its own."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    running = os.path.realpath(sys.executable)
    candidates = [running, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    interpreter = None
    for candidate, last_resort in [*((c, False) for c in candidates), (running, True)]:
        if not os.path.isfile(candidate):
            continue
        if last_resort:
            if not (_open_to_others(candidate) and os.stat(candidate).st_mode & stat.S_IXOTH
                    and _open_to_others(os.path.dirname(os.path.dirname(candidate)))):
                continue
        elif not _accessible_to_others(candidate):
            continue
        try:
            out = subprocess.run([candidate, "-I", "-S", "-c",
                                  "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out == version:
            interpreter = candidate
            break
    if interpreter is None:
        raise NotebookGraderUnavailable(
            f"no Python {version} interpreter that the sandbox user may execute "
            f"(tried {', '.join(candidates)})")
    paths = sysconfig.get_paths()
    site_dirs = tuple(dict.fromkeys(
        os.path.realpath(p) for p in (paths.get("purelib"), paths.get("platlib"))
        if p and os.path.isdir(p)))
    read_only = []
    prefix = os.path.realpath(os.path.dirname(os.path.dirname(interpreter)))
    if prefix != "/usr":  # /usr's runtime is in every sandbox; another prefix is bound whole
        read_only.append(prefix)
    for path in (*read_only, *site_dirs):
        if not _open_to_others(path):
            raise NotebookGraderUnavailable(f"{path} is not readable by the sandbox user")
    inside = [SITE_INSIDE if i == 0 else f"{SITE_INSIDE}-{i}" for i in range(len(site_dirs))]
    state_dir = str(SandboxConfig().state_dir)
    try:
        runner = _runner_copy(state_dir)
    except OSError as exc:
        raise NotebookGraderUnavailable(
            f"cannot copy the notebook runner to {state_dir} ({exc}): the grading sandbox "
            "runs as root") from exc
    mounts = [*zip(site_dirs, inside), (runner, RUNNER_INSIDE)]
    return RunnerEnvironment(interpreter, tuple(inside), tuple(read_only), tuple(mounts))


_sandbox_lock = __import__("threading").Lock()
_sandbox: Sandbox | None = None


def notebook_sandbox() -> Sandbox:
    """The process-wide sandbox for notebooks: the default configuration plus the
    runner's packages (bound under /opt/lms) and its interpreter's prefix if that is
    not under /usr."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            base = SandboxConfig()
            environment = runner_environment()
            extra = tuple(p for p in environment.read_only_paths if p not in base.read_only_paths)
            config = dataclasses.replace(base, read_only_paths=base.read_only_paths + extra,
                                         mounts=base.mounts + environment.mounts,
                                         scratch_bytes=256 * 1024 * 1024, scratch_inodes=16384)
            _sandbox = Sandbox(config)
        return _sandbox


def _preload_modules(masters: list[MasterNotebook]) -> list[str]:
    """Top-level modules the source notebooks import: imported once by the runner before
    it forks a process per notebook."""
    import ast

    names: list[str] = []
    for master in masters:
        for source in master.code_sources + tuple(c.source for c in master.cells):
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names += [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.append(node.module)
    blocked = {"cffi", "_cffi_backend"}
    return [n for n in dict.fromkeys(names) if re.match(r"^[A-Za-z_][\w.]*$", n)
            and n.split(".")[0] not in blocked]


@dataclass
class _Prepared:
    master: MasterNotebook
    name: str
    nb: object | None  # the restored notebook (None when not submitted / invalid)
    notes: list[str]
    error: str | None
    submitted: bool
    run_cells: list[int]  # indexes of the code cells that run


def _prepare_notebook(master: MasterNotebook, text: str | bytes | None) -> _Prepared:
    if text is None:
        return _Prepared(master, master.name, None, [], "the notebook was not submitted", False, [])
    try:
        nb, notes = restore_submission(master, text)
    except InvalidSubmission as exc:
        return _Prepared(master, master.name, None, [], str(exc), True, [])
    run = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c["source"].strip()]
    return _Prepared(master, master.name, nb, notes, None, True, run)


def _job_cells(prepared: _Prepared) -> list[dict]:
    cells = []
    for index in prepared.run_cells:
        cell = prepared.nb["cells"][index]
        test = nbg.is_grade(cell) and not nbg.is_solution(cell)
        cells.append({"index": index, "kind": "test" if test else "run", "source": cell["source"],
                      "grade_id": nbg.meta(cell).get("grade_id")})
    return cells


async def _run_job(job: dict, options: list[str], limits: Limits,
                   sandbox: Sandbox) -> tuple[list[dict], str | None]:
    env = runner_environment()
    argv = env.argv(*options)
    try:
        async with sandbox.workspace() as workspace:
            execution = await sandbox.execute(workspace, argv, limits,
                                              stdin=json.dumps(job).encode(), step="notebook")
    except Exception as exc:  # a sandbox failure is reported, never raised to the worker
        log.exception("notebook sandbox run failed")
        return [], f"the grading sandbox failed: {type(exc).__name__}: {exc}"
    events = []
    for line in execution.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    problem = None
    if execution.setup_error:
        problem = f"the grading sandbox failed: {execution.setup_error}"
    elif not any(e.get("event") == "end" for e in events) and not any(
            e.get("event") == "submission" and e.get("status") == "retry" for e in events):
        if execution.killed_for in ("cpu", "wall"):
            problem = "grading stopped: the submission used up its time budget"
        elif execution.oom_killed:
            problem = "grading stopped: the submission used up its memory budget"
        elif execution.killed_for == "output":
            problem = "grading stopped: the submission produced too much output"
        else:
            problem = "grading stopped: the runner ended early"
        stderr = execution.stderr.decode(errors="replace").strip()
        if stderr and not any(e.get("event") == "start" for e in events):
            log.warning("notebook runner failed: %s", stderr[-2000:])
            problem += f" ({stderr.splitlines()[-1][:300]})"
    return events, problem


@dataclass
class Submission:
    """One student's files for a lesson: notebooks by file name, other files by path."""

    notebooks: Mapping[str, str | bytes]
    files: Mapping[str, bytes] | None = None


async def grade_submission(source_notebooks: Mapping[str, str],
                           submitted_notebooks: Mapping[str, str | bytes], *,
                           limits: Limits | None = None,
                           cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                           files: Mapping[str, bytes] | None = None,
                           sandbox: Sandbox | None = None,
                           masters: Mapping[str, MasterNotebook] | None = None) -> SubmissionGrade:
    """Grade one submission of a lesson (one or more notebooks) in a sandbox run of its own.

    ``source_notebooks`` maps notebook file names to the instructor's source notebooks
    (JSON text); ``submitted_notebooks`` the same names to the student's files (missing
    ones score 0, names the lesson does not have are ignored, as nbgrader does).
    ``files``: other files of the submission, by relative path (data files...), written
    to the working directory first. ``masters`` may replace the source notebooks'
    master cells (``graders.autograde`` reads them from nbgrader's gradebook)."""
    grades = await grade_submissions(source_notebooks, [Submission(submitted_notebooks, files)],
                                     limits=limits, cell_timeout=cell_timeout, sandbox=sandbox,
                                     masters=masters)
    return grades[0]


async def grade_submissions(source_notebooks: Mapping[str, str],
                            submissions: list[Submission], *,
                            limits: Limits | None = None,
                            cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                            sandbox: Sandbox | None = None,
                            masters: Mapping[str, MasterNotebook] | None = None
                            ) -> list[SubmissionGrade]:
    """Grade several submissions of the same lesson in **one** sandbox run, one after the
    other: the runner's start (interpreter, IPython, pandas) is paid once. Each
    submission still gets fresh processes (forked from a zygote that never ran student
    code) and an emptied scratch directory; what the previous one started is killed
    first. Submissions the run did not finish (it ran out of its time budget, say) are
    graded again in runs of their own."""
    started = time.monotonic()
    masters = dict(masters or {})
    for name, text in source_notebooks.items():
        if name not in masters:
            masters[name] = MasterNotebook.from_source(name, text)
    names = sorted(masters)
    plans = [[_prepare_notebook(masters[n], s.notebooks.get(n)) for n in names] for s in submissions]
    jobs = []
    for plan, submission in zip(plans, submissions):
        runnable = [p for p in plan if p.nb is not None]
        jobs.append({
            "cell_timeout": cell_timeout,
            "files": [[path, base64.b64encode(data).decode()]
                      for path, data in (submission.files or {}).items()],
            "notebooks": [{
                "name": p.name, "cells": _job_cells(p),
                "aliases": {k: list(v) for k, v in _aliases(p.master).items()},
                "instructor_names": sorted(p.master.instructor_names),
            } for p in runnable],
        })
    to_run = [i for i, job in enumerate(jobs) if job["notebooks"]]
    events: dict[int, list[dict]] = {i: [] for i in range(len(submissions))}
    problems: dict[int, str | None] = {i: None for i in range(len(submissions))}
    if to_run:
        texts = [c["source"] for i in to_run for p in plans[i] if p.nb is not None
                 for c in p.nb["cells"]] + [s for m in masters.values() for s in m.code_sources]
        judge = any(_JUDGE.search(t) or "judge_magic" in t or "kernel.judge" in t for t in texts)
        options = ["--preload", ",".join(_preload_modules(list(masters.values())))]
        if judge:
            options.append("--judge")
        cells = sum(len(nb["cells"]) for i in to_run for nb in jobs[i]["notebooks"])
        run_limits = limits or default_limits(cells, cell_timeout)
        # the result channel (the run's stdout) is capped at max_file_size: a share each
        budget = max(1 << 20, (int(run_limits.max_file_size) * 1024 - (1 << 20)) // len(to_run))
        job = {"interrupt_grace": 3.0, "cell_timeout": cell_timeout,
               "output_budget": min(budget, 8 << 20), "submissions": [jobs[i] for i in to_run]}
        batch_events, problem = await _run_job(job, options, run_limits, sandbox or notebook_sandbox())
        finished = set()
        for event in batch_events:
            number = event.get("submission")
            if not isinstance(number, int) or not 0 <= number < len(to_run):
                continue
            events[to_run[number]].append(event)
            if event.get("event") == "submission_end":
                finished.add(to_run[number])
        unfinished = [i for i in to_run if i not in finished]
        if len(to_run) > 1 and unfinished:
            retried = await asyncio.gather(*(grade_submissions(
                source_notebooks, [submissions[i]], limits=limits, cell_timeout=cell_timeout,
                sandbox=sandbox, masters=masters) for i in unfinished))
        else:
            retried = []
            for i in unfinished:
                problems[i] = problem or "grading stopped: the runner ended early"
    results: list[SubmissionGrade | None] = [None] * len(submissions)
    if to_run and len(to_run) > 1:
        for i, grade in zip(unfinished, retried):
            results[i] = grade[0]
    for i, plan in enumerate(plans):
        if results[i] is not None:
            continue
        by_notebook: dict[int, dict[int, dict]] = {}
        for event in events[i]:
            if event.get("event") == "cell":
                by_notebook.setdefault(event.get("notebook"), {})[event.get("index")] = event
        notebooks = []
        runnable_index = 0
        after_hidden = _after_hidden_tests(plan)
        for p, tainted in zip(plan, after_hidden):
            cell_events = {}
            if p.nb is not None:
                cell_events = by_notebook.get(runnable_index, {})
                runnable_index += 1
            notebooks.append(_score_notebook(p, cell_events, problems[i], tainted))
        results[i] = SubmissionGrade(notebooks, duration=time.monotonic() - started, error=problems[i])
    return results


def _after_hidden_tests(plan: list[_Prepared]) -> list[set[int]]:
    """Per notebook of a submission (in the order they run), the indexes of the cells that
    run from the first test cell with hidden tests on: the run held hidden tests by then.
    The notebooks of a submission share a scratch folder, so a later notebook is tainted
    from its first cell."""
    tainted_from_start = False
    result = []
    for p in plan:
        cells: set[int] = set()
        if p.nb is not None:
            tainted = tainted_from_start
            for index in p.run_cells:
                cell = p.nb["cells"][index]
                master = p.master.by_id.get(nbg.meta(cell).get("grade_id"))
                if (not tainted and nbg.is_grade(cell) and not nbg.is_solution(cell)
                        and has_hidden_tests(master.source if master else cell["source"])):
                    tainted = True
                if tainted:
                    cells.add(index)
            tainted_from_start = tainted
        result.append(cells)
    return result


def grade_submission_sync(source_notebooks, submitted_notebooks, **options) -> SubmissionGrade:
    """:func:`grade_submission` for callers without an event loop."""
    return asyncio.run(grade_submission(source_notebooks, submitted_notebooks, **options))


@functools.lru_cache(maxsize=256)
def _aliases_cached(sources: tuple[str, ...]) -> dict:
    from graders.notebook_guard import import_aliases

    return import_aliases(sources)


def _aliases(master: MasterNotebook) -> dict:
    return _aliases_cached(master.code_sources + tuple(c.source for c in master.cells
                                                       if c.cell_type == "code" and c.locked))


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------
def _limit_outputs(outputs: list[dict]) -> list[dict]:
    """nbgrader's LimitOutput: 1000 lines of streams, 100 lines of traceback."""
    length = 0
    limited = []
    for output in outputs:
        if output.get("output_type") == "stream":
            if length == LIMIT_OUTPUT_LINES:
                continue
            text = str(output.get("text", "")).split("\n")
            if len(text) + length > LIMIT_OUTPUT_LINES:
                text = text[:LIMIT_OUTPUT_LINES - length - 1]
                text.append("... Output truncated ...")
            length += len(text)
            output = dict(output, text="\n".join(text))
        elif output.get("output_type") == "error":
            tb = list(output.get("traceback") or [])
            if len(tb) > LIMIT_TRACEBACK_LINES:
                start = LIMIT_TRACEBACK_LINES // 2
                end = LIMIT_TRACEBACK_LINES - start - 1
                tb = tb[:start] + ["... Traceback truncated ..."] + tb[-end:]
                output = dict(output, traceback=tb)
        limited.append(output)
    return limited


def _valid_output(output) -> dict | None:
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return {"output_type": "stream", "name": name, "text": str(output.get("text", ""))}
    if kind in ("display_data", "execute_result"):
        data = output.get("data") if isinstance(output.get("data"), dict) else {}
        data = {str(k): v for k, v in data.items()}
        metadata = output.get("metadata") if isinstance(output.get("metadata"), dict) else {}
        result = {"output_type": kind, "data": data, "metadata": metadata}
        if kind == "execute_result":
            count = output.get("execution_count")
            result["execution_count"] = count if isinstance(count, int) else None
        return result
    if kind == "error":
        tb = output.get("traceback") if isinstance(output.get("traceback"), list) else []
        return {"output_type": "error", "ename": str(output.get("ename", "Error")),
                "evalue": str(output.get("evalue", "")), "traceback": [str(t) for t in tb]}
    return None


def _redact(master: MasterNotebook, text: str | None, limit: int = 2000) -> str | None:
    if text is None:
        return None
    for line in master.hidden_lines:
        if line in text:
            text = text.replace(line, "[hidden test]")
    return text[:limit]


def _score_notebook(p: _Prepared, events: dict[int, dict], problem: str | None,
                    after_hidden: set[int] = frozenset()) -> NotebookGrade:
    master = p.master
    if p.nb is None:
        # nbgrader: a missing notebook scores 0 everywhere, nothing to grade by hand.
        cells = [CellGrade(master.name, m.grade_id, m.cell_type, 0.0, m.points, "not_run", False,
                           False, "NotSubmitted" if not p.submitted else "InvalidNotebook", p.error)
                 for m in master.cells if m.grade or m.task]
        comments = {m.grade_id: None for m in master.cells if m.solution or m.task}
        return NotebookGrade(master.name, cells, comments, "", [], p.error, p.submitted)

    nb = p.nb
    stopped_message = None
    for index in p.run_cells:
        cell = nb["cells"][index]
        event = events.get(index)
        if event is None:
            event = {"status": "skipped", "message": problem or "the notebook runner stopped"}
        status = event.get("status")
        outputs = [o for o in (_valid_output(o) for o in event.get("outputs") or []) if o]
        if event.get("outputs_dropped"):
            outputs.append({"output_type": "stream", "name": "stderr" if event.get("stderr") else "stdout",
                            "text": "[outputs not kept: the submission printed too much]\n"})
        count = event.get("execution_count")
        cell["execution_count"] = count if isinstance(count, int) and status != "skipped" else None
        if status in ("timeout", "killed") and not any(
                o["output_type"] == "error" and o["ename"] == "CellTimeoutError" for o in outputs):
            outputs.append(copy.deepcopy(TIMEOUT_ERROR))
        if nbg.is_grade(cell) and not nbg.is_solution(cell):
            outputs = _trusted_test_outputs(outputs, event)
        cell["outputs"] = _limit_outputs(outputs)
        lms = {"status": status}
        if event.get("message"):
            lms["message"] = event["message"]
        if index in after_hidden:
            lms["after_hidden_test"] = True
        cell["metadata"]["lms"] = lms
        if status in ("skipped", "killed", "crashed", "tampered") and stopped_message is None:
            stopped_message = event.get("message")

    cells: list[CellGrade] = []
    comments: dict[str, str | None] = {}
    for index, cell in enumerate(nb["cells"]):
        meta = nbg.meta(cell)
        if not meta:
            continue
        gid = meta["grade_id"]
        if nbg.is_solution(cell) or nbg.is_task(cell):
            unchanged = meta.get("checksum") == nbg.compute_checksum(cell)
            comments[gid] = "No response." if unchanged and not nbg.is_task(cell) else None
        if nbg.is_task(cell):
            cells.append(CellGrade(master.name, gid, cell["cell_type"], None,
                                   float(meta.get("points", 0)), "manual", None, True))
            continue
        if not nbg.is_grade(cell):
            continue
        cells.append(_grade_cell(master, cell, index, events, after_hidden=index in after_hidden))
    return NotebookGrade(master.name, cells, comments, nbg.writes(nb), p.notes,
                         stopped_message or problem, True)


def _trusted_test_outputs(outputs: list[dict], event: dict) -> list[dict]:
    """The outputs of a test cell, made to agree with what the trusted channel reported:
    an error when it raised, no error when it did not, and the displayed value (partial
    credit) that the executor's loop reported rather than whatever the cell printed."""
    status = event.get("status")
    passed = status == "passed"
    value = event.get("value")
    if passed:
        outputs = [o for o in outputs if o["output_type"] != "error"]
    elif not any(o["output_type"] == "error" for o in outputs):
        outputs.append({"output_type": "error", "ename": event.get("ename") or "Error",
                        "evalue": event.get("evalue") or event.get("message") or "",
                        "traceback": []})
    shown = next((o for o in outputs if o["output_type"] == "execute_result"), None)
    outputs = [o for o in outputs if o["output_type"] != "execute_result"]
    if passed and value is not None:
        number = float(value["number"])
        text = None
        if shown is not None:
            plain = shown["data"].get("text/plain")
            plain = "".join(plain) if isinstance(plain, list) else plain
            try:
                agrees = value["parsed"] and (float(plain) == number or (
                    number != number and float(plain) != float(plain)))
            except (TypeError, ValueError):
                agrees = not value["parsed"]
            if agrees:
                text = plain
        if text is None:
            text = repr(number) if value["parsed"] else "<non-numeric value>"
        data = dict(shown["data"]) if shown is not None else {}
        data["text/plain"] = text
        outputs.append({"output_type": "execute_result", "data": data,
                        "metadata": shown["metadata"] if shown is not None else {},
                        "execution_count": event.get("execution_count")})
    return outputs


def _grade_cell(master: MasterNotebook, cell: dict, index: int, events: dict[int, dict], *,
                after_hidden: bool = False) -> CellGrade:
    meta = nbg.meta(cell)
    gid = meta["grade_id"]
    max_points = float(meta["points"])
    kind = cell["cell_type"]
    if nbg.is_solution(cell):
        score, _ = nbg.determine_grade(cell)
        if score is None:
            return CellGrade(master.name, gid, kind, None, max_points, "manual", None, True)
        return CellGrade(master.name, gid, kind, float(score), max_points, "no_response",
                         False, False, None, "No response.")
    if kind != "code":
        return CellGrade(master.name, gid, kind, None, max_points, "manual", None, True)
    event = events.get(index) or {"status": "skipped"}
    status = event.get("status")
    if not cell["source"].strip():
        status = "passed"  # nbclient does not run empty cells: nbgrader gives full points
    if status != "passed":
        result = {"failed": "failed", "timeout": "timeout", "killed": "timeout",
                  "tampered": "tampered"}.get(status, "not_run")
        ename = event.get("ename") if status == "failed" else {
            "timeout": "CellTimeoutError", "killed": "CellTimeoutError",
            "tampered": "GradingIntegrityError"}.get(status, "NotRun")
        message = event.get("evalue") if status == "failed" else event.get("message")
        if status == "failed" and after_hidden:
            # runtime text may carry what student code read of the hidden tests
            ename = builtin_exception_name(ename)
            source = master.by_id[gid].source if gid in master.by_id else cell["source"]
            message = authored_failure_message(source, event.get("line"))
        return CellGrade(master.name, gid, "code", 0.0, max_points, result, False, False,
                         ename or "Error", _redact(master, message))
    try:
        score, _ = nbg.determine_grade(cell)
    except ValueError as exc:  # partial credit above the cell's points: nbgrader crashes
        return CellGrade(master.name, gid, "code", 0.0, max_points, "failed", False, False,
                         "ValueError", "the test's score is above its points" if after_hidden
                         else str(exc))
    except KeyError:
        score = max_points
    score = float(score)
    stderr = next((o for o in cell["outputs"]
                   if o["output_type"] == "stream" and o["name"] == "stderr"), None)
    if score == 0 and stderr is not None:
        said = "" if after_hidden else ": " + str(stderr["text"])[:500]
        return CellGrade(master.name, gid, "code", 0.0, max_points, "failed", False, False,
                         "StandardError", _redact(master, "the test cell wrote to standard error" + said))
    if score >= max_points:
        return CellGrade(master.name, gid, "code", score, max_points, "passed", True, False)
    return CellGrade(master.name, gid, "code", score, max_points,
                     "partial" if score > 0 else "failed", score > 0, False)
