"""``lms autograde ASSIGNMENT``: a drop-in for ``nbgrader autograde`` on a course directory.

Reads the course's ``nbgrader_config.py`` (``CourseDirectory`` layout, ``db_url``,
``Execute.timeout``, ``Autograde.exclude_overwriting``, ``LateSubmissionPlugin``...),
grades every ``submitted/<student>/<assignment>/`` with :mod:`graders.notebook` in the
sandbox, several submissions at a time, and leaves exactly what nbgrader leaves:

* ``autograded/<student>/<assignment>/``: the submission's files, the source directory's
  non-notebook files over them, and the executed notebooks (read-only, like nbgrader);
* nbgrader's gradebook, through nbgrader's own ``Gradebook`` API: the student, the
  submission (with its ``timestamp.txt``), ``auto_score`` and ``needs_manual_grade`` of
  every grade, the "No response." comments, late penalties. If ``generate_assignment``
  was never run, the assignment is recorded from the source notebooks as it would have
  done, so ``nbgrader export``, ``generate_feedback`` and formgrader work on the result.

Like nbgrader, existing autograded submissions are skipped unless ``--force`` (or the
submission's timestamp is newer). Differences, all on purpose: cells a student deleted are
put back (nbgrader's ``add_missing_cells``), and the grading resists cheating (see
:mod:`graders.notebook_runner`).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import fnmatch
import glob
import json
import logging
import math
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders import notebook as grading

log = logging.getLogger("lms.autograde")

DEFAULT_IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]


# --------------------------------------------------------------------------------------
# nbgrader's course directory configuration
# --------------------------------------------------------------------------------------
@dataclass
class CourseConfig:
    """The parts of nbgrader's configuration ``autograde`` uses, with nbgrader's defaults."""

    root: str
    course_id: str = ""
    db_url: str = ""
    directory_structure: str = "{nbgrader_step}/{student_id}/{assignment_id}"
    source_directory: str = "source"
    submitted_directory: str = "submitted"
    autograded_directory: str = "autograded"
    ignore: list[str] = field(default_factory=lambda: list(DEFAULT_IGNORE))
    student_id_exclude: str = ""
    notebook_id: str = "*"
    cell_timeout: float = grading.DEFAULT_CELL_TIMEOUT
    exclude_overwriting: dict = field(default_factory=dict)
    create_student: bool = True
    penalty_method: str = "none"
    permissions: int = 444

    def path(self, step: str, student: str, assignment: str) -> str:
        return os.path.join(self.root, self.directory_structure.format(
            nbgrader_step=step, student_id=student, assignment_id=assignment))


def load_config(course_dir: str | None) -> CourseConfig:
    """``nbgrader_config.py`` of the course directory (``--course-dir`` wins over a
    ``CourseDirectory.root`` it sets, as ``--CourseDirectory.root`` would)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    directory = os.path.abspath(course_dir or os.getcwd())
    config = Config()
    if os.path.isfile(os.path.join(directory, "nbgrader_config.py")):
        config = PyFileConfigLoader("nbgrader_config.py", path=directory).load_config()
    coursedir = config.get("CourseDirectory", Config())
    root = directory if course_dir else os.path.abspath(coursedir.get("root", directory))
    result = CourseConfig(root=root)
    for name in ("course_id", "directory_structure", "source_directory", "submitted_directory",
                 "autograded_directory", "student_id_exclude", "notebook_id"):
        if name in coursedir:
            setattr(result, name, str(coursedir[name]))
    if "ignore" in coursedir:
        result.ignore = list(coursedir["ignore"])
    result.db_url = str(coursedir.get("db_url") or f"sqlite:///{os.path.join(root, 'gradebook.db')}")
    for section in ("Execute", "ExecutePreprocessor"):
        if "timeout" in config.get(section, {}) and config[section]["timeout"] is not None:
            result.cell_timeout = float(config[section]["timeout"])
    autograde = config.get("Autograde", Config())
    result.exclude_overwriting = dict(autograde.get("exclude_overwriting", {}))
    result.create_student = bool(autograde.get("create_student", True))
    if "permissions" in autograde:
        result.permissions = int(autograde["permissions"])
    result.penalty_method = str(config.get("LateSubmissionPlugin", {}).get("penalty_method", "none"))
    return result


def _ignored(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def find_all_files(path: str, exclude: list[str]) -> list[str]:
    """nbgrader.utils.find_all_files: files under ``path``, ignore globs on base names."""
    found = []
    for dirname, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if not _ignored(d, exclude)]
        found += [os.path.join(dirname, f) for f in filenames if not _ignored(f, exclude)]
    return found


def parse_timestamp(directory: str):
    """``timestamp.txt`` of a submission, parsed as nbgrader does (None if absent)."""
    path = os.path.join(directory, "timestamp.txt")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        text = handle.read().strip()
    if not text:
        return None
    from nbgrader.utils import parse_utc

    return parse_utc(text)


# --------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------
@dataclass
class _Job:
    student: str
    source_dir: str  # submitted/<student>/<assignment>
    dest_dir: str  # autograded/<student>/<assignment>
    notebooks: dict[str, str]
    files: dict[str, bytes]
    grade: grading.SubmissionGrade | None = None


def _import_gradebook():
    """``nbgrader.api``, loaded in a thread while the first submissions are graded.

    Two shortcuts, together saving over two seconds of CPU per command: nbformat's
    validator imports jsonschema's format checkers, and the RFC 3987 one compiles a
    grammar at import (nothing here validates IRIs); and nbgrader's package ``__init__``
    only registers its Jupyter server and lab extensions, so in this command's process
    the package is set up without running it (``nbgrader.api`` and ``nbgrader.utils`` do
    not need them; ``__version__`` is kept for nbgrader's apps)."""
    import importlib.util

    sys.modules.setdefault("rfc3987_syntax", None)
    if "nbgrader" not in sys.modules:
        spec = importlib.util.find_spec("nbgrader")
        if spec is not None and spec.submodule_search_locations:
            package = importlib.util.module_from_spec(spec)
            sys.modules["nbgrader"] = package
            package.__version__ = importlib.import_module("nbgrader._version").__version__
    from nbgrader import api

    return api


def _should_process(cfg: CourseConfig, job: _Job, force: bool) -> bool:
    if cfg.student_id_exclude and job.student in cfg.student_id_exclude.split(","):
        return False
    if not os.path.exists(job.dest_dir):
        return True
    if force:
        return True
    new, old = parse_timestamp(job.source_dir), parse_timestamp(job.dest_dir)
    return new is not None and old is not None and new > old


def _prepare_destination(cfg: CourseConfig, assignment: str, job: _Job, source_root: str) -> None:
    """nbgrader's init_destination + init_assignment: a clean autograded directory with
    the submission's files, then the source directory's non-notebook files over them."""
    if os.path.exists(job.dest_dir):
        _make_writable(job.dest_dir)
        shutil.rmtree(job.dest_dir)
    os.makedirs(job.dest_dir)
    for filename in find_all_files(job.source_dir, cfg.ignore + ["*.ipynb"]):
        target = os.path.join(job.dest_dir, os.path.relpath(filename, job.source_dir))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(filename, target)
    excluded = {os.path.join(source_root, x) for x in cfg.exclude_overwriting.get(assignment, [])}
    for filename in find_all_files(source_root, cfg.ignore + ["*.ipynb"]):
        if filename in excluded:
            continue
        target = os.path.join(job.dest_dir, os.path.relpath(filename, source_root))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.exists(target):
            os.remove(target)
        shutil.copy(filename, target)
    for filename in find_all_files(job.dest_dir, []):
        job.files[os.path.relpath(filename, job.dest_dir)] = Path(filename).read_bytes()


def _make_writable(path: str) -> None:
    for dirname, _, filenames in os.walk(path):
        os.chmod(dirname, 0o755)
        for name in filenames:
            try:
                os.chmod(os.path.join(dirname, name), 0o644)
            except OSError:
                pass


def _master_from_gradebook(api, gb, assignment: str, name: str,
                           ordered: grading.MasterNotebook | None) -> grading.MasterNotebook:
    """The master cells nbgrader itself would restore: those saved in the gradebook by
    generate_assignment (in the source notebook's order when it is available)."""
    notebook = gb.find_notebook(name, assignment)
    grade = {c.name: c for c in notebook.grade_cells}
    solution = {c.name for c in notebook.solution_cells}
    task = {c.name: c for c in notebook.task_cells}
    sources = {c.name: c for c in notebook.source_cells}
    order = [c.grade_id for c in ordered.cells] if ordered else []
    names = [n for n in order if n in sources] + [n for n in sources if n not in order]
    cells = []
    for gid in names:
        source = sources[gid]
        is_grade, is_solution, is_task = gid in grade, gid in solution, gid in task
        meta = {"grade": is_grade, "grade_id": gid, "locked": bool(source.locked),
                "schema_version": 3, "solution": is_solution, "task": is_task,
                "checksum": source.checksum, "cell_type": source.cell_type}
        points = 0.0
        if is_grade or is_task:
            points = float((grade.get(gid) or task.get(gid)).max_score)
            meta["points"] = points
        extra = {}
        if is_solution:
            extra = {"deletable": False}
        elif is_grade or source.locked:
            extra = {"deletable": False, "editable": False}
        cells.append(grading.MasterCell(
            grade_id=gid, cell_type=source.cell_type, source=source.source,
            checksum=source.checksum, locked=bool(source.locked and not is_solution) or
            (is_grade and not is_solution), grade=is_grade, solution=is_solution, task=is_task,
            points=points, nbgrader=grading._frozen(meta), extra_metadata=grading._frozen(extra)))
    kernelspec = json.loads(notebook.kernelspec) if notebook.kernelspec else None
    return grading.MasterNotebook.from_cells(
        f"{name}.ipynb", cells, grading._frozen(kernelspec) if kernelspec else None,
        ordered.code_sources if ordered else ())


def _same_master(a: grading.MasterNotebook, b: grading.MasterNotebook) -> bool:
    def key(m):
        return sorted((c.grade_id, c.cell_type, c.source, c.checksum, c.locked, c.grade,
                       c.solution, c.task, c.points) for c in m.cells)

    return key(a) == key(b)


def _record_assignment(gb, assignment: str, masters: dict[str, grading.MasterNotebook]) -> None:
    """What generate_assignment's SaveCells records, for a course never released."""
    gb.update_or_create_assignment(assignment)
    for filename, master in masters.items():
        name = os.path.splitext(filename)[0]
        try:
            gb.find_notebook(name, assignment)
            continue
        except Exception:  # MissingEntry
            pass
        gb.add_notebook(name, assignment, kernelspec=json.dumps(dict(master.kernelspec or {})))
        for cell in master.cells:
            if cell.grade:
                gb.update_or_create_grade_cell(cell.grade_id, name, assignment,
                                               max_score=cell.points, cell_type=cell.cell_type)
            if cell.solution:
                gb.update_or_create_solution_cell(cell.grade_id, name, assignment)
            if cell.task:
                gb.update_or_create_task_cell(cell.grade_id, name, assignment,
                                              max_score=cell.points, cell_type=cell.cell_type)
            gb.update_or_create_source_cell(cell.grade_id, name, assignment,
                                            cell_type=cell.cell_type, locked=cell.locked,
                                            source=cell.source, checksum=cell.checksum)


def _save_grades(api, gb, cfg: CourseConfig, assignment: str, job: _Job,
                 gradebook_notebooks: list[str]) -> None:
    """SaveAutoGrades + AssignLatePenalties, and nbgrader's zeros for missing notebooks,
    committed once per submission."""
    gb.update_or_create_student(job.student)
    timestamp = parse_timestamp(job.source_dir)
    if timestamp:
        submission = gb.update_or_create_submission(assignment, job.student, timestamp=timestamp)
    else:
        submission = gb.update_or_create_submission(assignment, job.student)
    graded = {os.path.splitext(nb.name)[0]: nb for nb in job.grade.notebooks}
    late = submission.total_seconds_late > 0
    for submitted in submission.notebooks:
        name = submitted.name
        if name not in gradebook_notebooks:
            continue
        result = graded.get(name)
        grades = {grade.name: grade for grade in submitted.grades}
        if result is None or not result.submitted:
            for grade in grades.values():
                grade.auto_score = 0
                grade.needs_manual_grade = False
            continue
        for cell in result.cells:
            grade = grades.get(cell.grade_id)
            if grade is None:
                continue
            grade.auto_score = cell.points
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        comments = {comment.name: comment for comment in submitted.comments}
        for grade_id, comment_text in result.comments.items():
            if grade_id in comments:
                comments[grade_id].auto_comment = comment_text
        submitted.late_submission_penalty = None
        if late and cfg.penalty_method == "zero":
            gb.db.flush()
            submitted.late_submission_penalty = max(0.0, submitted.score)
    gb.db.commit()


def _write_outputs(cfg: CourseConfig, job: _Job) -> None:
    for notebook in job.grade.notebooks:
        if notebook.submitted and notebook.autograded_notebook:
            Path(job.dest_dir, notebook.name).write_text(notebook.autograded_notebook)
    timestamp = os.path.join(job.source_dir, "timestamp.txt")
    if os.path.exists(timestamp):
        shutil.copy(timestamp, os.path.join(job.dest_dir, "timestamp.txt"))
    mode = int(str(cfg.permissions), 8)
    for dirname, _, filenames in os.walk(job.dest_dir):
        for name in filenames:
            os.chmod(os.path.join(dirname, name), mode)


async def _grade_all(sources: dict[str, str], masters, jobs: list[_Job], *, workers: int,
                     batch_size: int, cell_timeout: float) -> None:
    size = max(1, min(batch_size, math.ceil(len(jobs) / max(workers, 1))))
    batches = [jobs[i:i + size] for i in range(0, len(jobs), size)]
    slots = asyncio.Semaphore(workers)

    async def run(batch: list[_Job]) -> None:
        async with slots:
            grades = await grading.grade_submissions(
                sources, [grading.Submission(j.notebooks, j.files) for j in batch],
                cell_timeout=cell_timeout, masters=masters)
        for job, grade in zip(batch, grades):
            job.grade = grade

    await asyncio.gather(*(run(b) for b in batches))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lms autograde",
        description="Autograde submitted notebooks in the sandbox (drop-in for nbgrader autograde).")
    parser.add_argument("assignment", help="the assignment (lesson) id")
    parser.add_argument("--course-dir", help="the nbgrader course directory (default: here)")
    parser.add_argument("--student", default="*", help="only this student (a glob, like nbgrader)")
    parser.add_argument("--force", action="store_true", help="grade again existing autograded submissions")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="sandbox runs at the same time (default: the number of CPUs)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="submissions graded one after the other in one sandbox run "
                             "(1: a run of its own for each)")
    parser.add_argument("--cell-timeout", type=float, help="seconds per cell (default: Execute.timeout or 30)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO,
                        format="[lms autograde | %(levelname)s] %(message)s")
    import warnings

    # nbgrader's own Gradebook.update_or_create_submission trips SQLAlchemy's autoflush
    # warnings (nbgrader autograde prints them too); they are not ours to fix.
    warnings.filterwarnings("ignore", module="nbgrader.api")
    started = time.monotonic()
    bindir = os.path.dirname(sys.executable)  # Gradebook runs `alembic` for new databases
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    importer = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    api_future = importer.submit(_import_gradebook)

    cfg = load_config(args.course_dir)
    assignment = args.assignment
    source_root = cfg.path(cfg.source_directory, ".", assignment)
    sources = {os.path.basename(p): Path(p).read_text()
               for p in sorted(glob.glob(os.path.join(source_root, cfg.notebook_id + ".ipynb")))}
    try:
        masters = {name: grading.MasterNotebook.from_source(name, text) for name, text in sources.items()}
    except ValueError as exc:
        log.error("cannot read the source notebooks of %s: %s", assignment, exc)
        return 1
    pattern = cfg.path(cfg.submitted_directory, args.student, assignment)
    regexp = re.escape(cfg.path(cfg.submitted_directory, "\0", "\1")).replace(
        re.escape("\0"), "(?P<student>[^/]+)").replace(re.escape("\1"), re.escape(assignment))
    jobs: list[_Job] = []
    for directory in sorted(glob.glob(pattern)):
        match = re.fullmatch(regexp, directory)
        if not match or not os.path.isdir(directory):
            continue
        student = match["student"]
        notebooks = {os.path.basename(p): Path(p).read_bytes().decode("utf-8", "replace")
                     for p in sorted(glob.glob(os.path.join(directory, cfg.notebook_id + ".ipynb")))}
        if not notebooks:
            log.warning("No notebooks were matched in %s", directory)
            continue
        jobs.append(_Job(student, directory, cfg.path(cfg.autograded_directory, student, assignment),
                         notebooks, {}))
    if not jobs:
        log.error("No notebooks were matched by %r", os.path.join(pattern, cfg.notebook_id + ".ipynb"))
        return 1
    # Deciding "newer timestamp" needs nbgrader's timestamp parser; otherwise grading
    # starts right away while nbgrader (slow to import) loads in a thread.
    if not args.force and any(os.path.exists(j.dest_dir) for j in jobs):
        api_future.result()
    jobs = [j for j in jobs if _should_process(cfg, j, args.force)]
    known = set(masters)
    for job in jobs:
        job.notebooks = {k: v for k, v in job.notebooks.items() if k in known or not known}
        _prepare_destination(cfg, assignment, job, source_root)
    timeout = args.cell_timeout or cfg.cell_timeout
    options = dict(workers=max(1, args.workers), batch_size=max(1, args.batch_size), cell_timeout=timeout)
    log.debug("prepared %d submission(s) at %.2fs", len(jobs), time.monotonic() - started)
    if masters and jobs:
        asyncio.run(_grade_all({}, masters, jobs, **options))
    log.debug("graded at %.2fs", time.monotonic() - started)

    api = api_future.result()
    log.debug("nbgrader loaded at %.2fs", time.monotonic() - started)
    importer.shutdown()
    failures = 0
    gb = api.Gradebook(cfg.db_url, cfg.course_id)
    try:
        try:
            gb.find_assignment(assignment)
            recorded = True
        except api.MissingEntry:
            recorded = False
        if not recorded:
            if not masters:
                log.error("No assignment with ID '%s' exists in the database", assignment)
                return 1
            log.info("Recording assignment %s in the gradebook from %s", assignment, source_root)
            _record_assignment(gb, assignment, masters)
        gradebook_notebooks = [nb.name for nb in gb.find_assignment(assignment).notebooks]
        log.debug("gradebook open at %.2fs", time.monotonic() - started)
        # nbgrader grades with what generate_assignment recorded, not today's source/.
        stored = {f"{name}.ipynb": _master_from_gradebook(api, gb, assignment, name,
                                                           masters.get(f"{name}.ipynb"))
                  for name in gradebook_notebooks}
        if set(stored) != set(masters) or any(not _same_master(stored[n], masters[n]) for n in stored):
            for name in sorted(set(masters) - set(stored)):
                log.warning("Skipping unknown notebook: %s", name)
            log.warning("the gradebook's record of %s differs from %s: grading with the "
                        "gradebook's, as nbgrader does", assignment, source_root)
            masters = stored
            for job in jobs:
                job.notebooks = {k: v for k, v in job.notebooks.items() if k in masters}
            asyncio.run(_grade_all({}, masters, jobs, **options))
        log.debug("gradebook checked at %.2fs", time.monotonic() - started)
        for job in jobs:
            if not cfg.create_student:
                try:
                    gb.find_student(job.student)
                except api.MissingEntry:
                    log.error("No student with ID '%s' exists in the database", job.student)
                    failures += 1
                    continue
            _write_outputs(cfg, job)
            _save_grades(api, gb, cfg, assignment, job, gradebook_notebooks)
            grade = job.grade
            if grade.error:
                failures += 1
                log.error("%s/%s: %s", job.student, assignment, grade.error)
            manual = " (needs manual grading)" if grade.needs_manual_grade else ""
            log.info("%s/%s: %g / %g%s", job.student, assignment, grade.score, grade.max_score, manual)
    finally:
        gb.close()
    log.info("autograded %d submission(s) in %.1fs", len(jobs), time.monotonic() - started)
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
