"""Checks an instructor runs on a course's source before publishing it (JupyterLab's Course
panel: Validate and Preview as student, through ``labserver/teach.py``).

- **Validate** grades each source notebook, solutions in, with the real grader
  (``graders.notebook``, in the sandbox, as a student's submission is graded): every
  autograded test must pass; a failing cell is named by its exercise's title. Each code
  challenge's reference solution (``[solution]`` in its file) runs against all of its tests
  in every language the challenge offers (its ``[starter]`` languages).
- **Preview** is the student version, made by the same nbgrader pipeline the importer uses
  (``notebooks.student_version``): solutions replaced, hidden tests and answer keys removed.

Nothing here is stored: the source stays with the instructor until they publish it. The
sandbox runners are passed in (``grade``, ``run_tests``) so that this module needs neither
Tornado nor a particular sandbox instance.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from graders.judging import Status
from graders.languages import get_language
from graders.limits import Limits

from ..errors import CourseFormatError, InvalidInput
from . import notebooks
from .challenges import MODES, ChallengeSpec, load_challenge_text

MAX_NOTEBOOKS = 40
MAX_CHALLENGES = 40
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024
LANGUAGE_IDS = {mode: language_id for language_id, mode in MODES.items()}
# what a failing cell's status means to an instructor
STATUS_TEXT = {
    "failed": "the test fails with the solution in",
    "partial": "the test gives only part of its points with the solution in",
    "timeout": "the cell ran longer than the time limit",
    "not_run": "the cell did not run (an earlier cell stopped the notebook)",
    "tampered": "the cell differs from its recorded version",
}
PASSING = {"passed", "manual", "no_response"}
PARALLEL_GRADINGS = 2  # sandboxes one Validate runs at once (a course has up to 40 notebooks)

Grade = Callable[[dict[str, str], dict[str, str]], Awaitable]  # graders.notebook.grade_submission
RunTests = Callable[[str, int, list[tuple[str, str]], object], Awaitable]  # SubmissionSandbox.run_tests


def _files(value, what: str, limit: int) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be an object of file name to file text")
    if len(value) > limit:
        raise InvalidInput(f"at most {limit} {what} at a time")
    total = 0
    for name, text in value.items():
        if not isinstance(name, str) or not name or len(name) > 200 or "\x00" in name:
            raise InvalidInput(f"{what}: each file needs a name (at most 200 characters)")
        if not isinstance(text, str):
            raise InvalidInput(f"{what}: {name} must be the file's text")
        size = len(text.encode())
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: clear its outputs")
        total += size
    if total > MAX_TOTAL_BYTES:
        raise InvalidInput(f"the files are larger than {MAX_TOTAL_BYTES // (1024 * 1024)} MB together")
    return dict(value)


def parse_request(body) -> tuple[dict[str, str], dict[str, str]]:
    """``{"notebooks": {name: json}, "challenges": {name: toml}}`` checked for shape and size."""
    if not isinstance(body, dict):
        raise InvalidInput('send {"notebooks": {"<name>.ipynb": "<notebook JSON>"}, "challenges": {...}}')
    books = _files(body.get("notebooks"), "notebooks", MAX_NOTEBOOKS)
    challenges = _files(body.get("challenges"), "challenges", MAX_CHALLENGES)
    for name in books:
        if not name.endswith(".ipynb") or "/" in name or "\\" in name:
            raise InvalidInput(f"{name}: notebooks are sent by file name (<lesson>.ipynb)")
    if not books and not challenges:
        raise InvalidInput("nothing to validate: send at least one notebook or challenge")
    return books, challenges


def student_preview(name: str, text: str) -> str:
    """The notebook a student receives for this source (what the LMS generates on publish)."""
    if not isinstance(name, str) or not name.endswith(".ipynb"):
        raise InvalidInput("name must be the notebook's file name (<lesson>.ipynb)")
    if not isinstance(text, str) or len(text.encode()) > MAX_FILE_BYTES:
        raise InvalidInput(f"notebook must be the notebook's JSON text, at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
    source = notebooks.read_notebook(text, name)
    return notebooks.dumps(notebooks.student_version(source, name))


@dataclass
class _Checked:
    name: str
    text: str | None  # normalised source, None when it cannot be read
    problem: str | None


def _check_notebook(name: str, text: str) -> _Checked:
    try:
        source = notebooks.read_notebook(text, name)
        notebooks.student_version(source, name)  # nbgrader's own metadata checks
    except CourseFormatError as exc:
        return _Checked(name, None, exc.message)
    return _Checked(name, notebooks.dumps(source), None)


async def validate_notebooks(books: Mapping[str, str], grade: Grade) -> list[dict]:
    """Each notebook graded with its own solutions: its autograded cells that do not pass."""
    checked = [_check_notebook(name, text) for name, text in sorted(books.items())]
    running = asyncio.Semaphore(PARALLEL_GRADINGS)

    async def one(item: _Checked) -> dict:
        report = {"notebook": item.name, "ok": False, "error": item.problem, "cells": [], "failing": [],
                  "score": None, "max_score": None}
        if item.text is None:
            return report
        async with running:
            result = await grade({item.name: item.text}, {item.name: item.text})
        titles = notebooks.exercise_titles(item.text)
        graded = next((nb for nb in result.notebooks if nb.name == item.name), None)
        if result.error or graded is None or graded.error:
            report["error"] = "the grader could not run this notebook: " + str(
                result.error or (graded.error if graded else "no result"))
            return report
        for cell in graded.cells:
            row = {"grade_id": cell.grade_id, "title": titles.get(cell.grade_id) or cell.grade_id,
                   "status": cell.status, "points": cell.points, "max_points": cell.max_points,
                   "manual": cell.needs_manual_grade}
            report["cells"].append(row)
            if cell.status not in PASSING:
                message = " ".join(filter(None, (cell.error_name and f"{cell.error_name}:",
                                                 cell.error_message))).strip()
                report["failing"].append({**row, "message": message or STATUS_TEXT.get(cell.status, cell.status),
                                          "why": STATUS_TEXT.get(cell.status, cell.status)})
        report["score"], report["max_score"] = graded.score, graded.max_score
        report["ok"] = not report["failing"]
        return report

    return list(await asyncio.gather(*(one(item) for item in checked)))


def _challenge_specs(files: Mapping[str, str]) -> list[tuple[str, ChallengeSpec | None, str | None]]:
    specs = []
    for name, text in sorted(files.items()):
        try:
            specs.append((name, load_challenge_text(text, name), None))
        except CourseFormatError as exc:
            specs.append((name, None, exc.message))
    return specs


def _limits(spec: ChallengeSpec) -> Limits:
    """The limits a student's run gets (``challenges.limits_for`` of the stored challenge)."""
    return Limits(cpu_time=spec.cpu_time or 5.0, memory=spec.memory_kb or 128000)


def offered_languages(spec: ChallengeSpec) -> list[str]:
    """The languages a student may answer in: the starter's, else those with a solution."""
    return [mode for mode in MODES.values() if mode in (spec.starter or spec.solution)]


async def validate_challenges(files: Mapping[str, str], run_tests: RunTests) -> list[dict]:
    """Each challenge's reference solution in every language it offers, against all its tests."""
    reports = []
    for name, spec, problem in _challenge_specs(files):
        report = {"file": name, "id": spec.key if spec else None, "title": spec.title if spec else name,
                  "ok": False, "error": problem, "languages": []}
        reports.append(report)
        if spec is None:
            continue
        languages = offered_languages(spec)
        if not languages:
            report["error"] = "the challenge offers no language: add a [starter] or [solution] program"
            continue
        cases = [(t.stdin, t.expected) for t in spec.tests]
        for mode in languages:
            language = get_language(LANGUAGE_IDS[mode])
            row = {"language": mode, "name": language.display_name, "ok": False, "message": None, "failing": []}
            report["languages"].append(row)
            source = spec.solution.get(mode)
            if not source or not source.strip():
                row["message"] = f"no reference solution in {language.display_name}: add it under [solution] as {mode} = \"\"\"...\"\"\""
                continue
            failure, results = await run_tests(source, LANGUAGE_IDS[mode], cases, _limits(spec))
            if failure is not None:
                row["message"] = ("does not compile: " if failure.status is Status.COMPILATION_ERROR else "") + (
                    (failure.compile_output or b"").decode("utf-8", "replace")[-2000:] or failure.message or
                    failure.judge0_status["description"])
                continue
            for index, (test, result) in enumerate(zip(spec.tests, results), 1):
                if result.status is not Status.ACCEPTED:
                    row["failing"].append({
                        "test": index, "hidden": test.hidden, "status": result.judge0_status["description"],
                        "stdin": test.stdin[:2000], "expected": test.expected[:2000],
                        "stdout": (result.stdout or b"").decode("utf-8", "replace")[:2000],
                        "stderr": (result.stderr or b"").decode("utf-8", "replace")[-2000:]})
            row["ok"] = not row["failing"]
            if row["failing"]:
                row["message"] = f"{len(row['failing'])} of {len(cases)} tests fail"
        report["ok"] = all(row["ok"] for row in report["languages"])
    return reports


async def validate(books: Mapping[str, str], challenge_files: Mapping[str, str], *, grade: Grade,
                   run_tests: RunTests) -> dict:
    """The whole report: ``ok`` only when every notebook and every challenge passes."""
    notebook_reports = await validate_notebooks(books, grade)
    challenge_reports = await validate_challenges(challenge_files, run_tests)
    return {"ok": all(r["ok"] for r in notebook_reports + challenge_reports),
            "notebooks": notebook_reports, "challenges": challenge_reports}
