"""The grader runs what the student ran: every demo lesson's source notebook (with its
solutions) gives the same outputs, cell by cell, in a student's kernel (ipykernel started by
jupyter_client from the environment's ``python3`` kernel spec, as a student's server starts
it) and in the grader (``graders.notebook``: the sandbox and ``graders.notebook_runner``).

The lessons are found by walking ``courses/*/lessons``, so a course added later is compared
too. Compared per code cell: stdout and stderr text, the errors' ``ename``/``evalue``, and the
plain-text form of results and displays. Normalised, because they legitimately differ
between two processes: object addresses, measured times and memory, and the working directory (a
temporary folder for the kernel, ``/box`` in the sandbox). Execution counts and tracebacks
are not compared (the grader prints tracebacks in IPython's plain layout on purpose).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.grading.helpers import COURSES, _cell

LESSONS = sorted(COURSES.glob("*/lessons/*.ipynb"))

# What a student may type that comes from Python's site module (help, copyright, credits,
# license) or from IPython's kernel setup (exit, quit, display, get_ipython), next to the
# things both must print identically (stderr, errors, a result with an address).
BUILTINS_CELLS = [
    "help(len)",
    "print(type(copyright).__name__, type(credits).__name__, type(license).__name__)\n"
    "print(callable(exit), callable(quit), callable(display), callable(get_ipython))",
    "copyright",
    # less execfile and runfile: ipykernel's debugger (debugpy's pydevconsole) adds those
    # when it loads, and the grader loads no debugger
    "import builtins\nprint(sorted(set(vars(builtins)) - {'execfile', 'runfile'}))",
    "print(sorted(name for name in globals() if not name.startswith('_')))",
    "import sys\nprint('to stderr', file=sys.stderr)\nobject()",
    "print(undefined_name)",
    "import math\nhelp(math.isclose)",
]


def builtins_notebook() -> str:
    cells = [_cell("code", source) for source in BUILTINS_CELLS]
    cells.append(_cell("code", "### BEGIN SOLUTION\nanswer = help\n### END SOLUTION",
                       "answer", solution=True))
    cells.append(_cell("code", "assert callable(answer)\nhelp(abs)", "answer-test", grade=True,
                       locked=True, points=1))
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}})


# Differences found and not fixed yet: lesson (relative to courses/) -> why. Each must still
# differ (strict): when it is fixed, the entry goes.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _param(path: Path):
    known = KNOWN_DIFFERENCES.get(str(path.relative_to(COURSES)))
    marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
    return pytest.param(path, id=f"{path.parts[-3]}/{path.stem}", marks=marks)


NOTEBOOKS = [_param(path) for path in LESSONS]
NOTEBOOKS.append(pytest.param(None, id="builtins-fixture"))

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_DURATION = re.compile(r" *\b\d+(?:\.\d+)?\s*(?:ns|µs|us|ms|s|min)\b")
# %%judge's peak memory: sampled while the program runs, so absent when it ended first
_MEMORY = re.compile(r" · \d+(?:\.\d+)? [KMG]B\b")


def normalise(text: str, cwd: str) -> str:
    text = text.replace(cwd, "<cwd>").replace("/box", "<cwd>")
    text = _ADDRESS.sub("0x<address>", text)
    text = _MEMORY.sub("", text)
    return _DURATION.sub(" <duration>", text)


def summary(outputs: list[dict], cwd: str) -> dict:
    """What a student sees of a cell's outputs, normalised."""
    seen = {"stdout": "", "stderr": "", "errors": [], "results": [], "displays": []}
    for output in outputs:
        kind = output["output_type"]
        if kind == "stream":
            text = output["text"]
            seen[output["name"]] += "".join(text) if isinstance(text, list) else text
        elif kind == "error":
            seen["errors"].append((output["ename"], normalise(output["evalue"], cwd)))
        elif kind in ("execute_result", "display_data"):
            plain = output.get("data", {}).get("text/plain", "")
            plain = "".join(plain) if isinstance(plain, list) else plain
            seen["results" if kind == "execute_result" else "displays"].append(normalise(plain, cwd))
    seen["stdout"] = normalise(seen["stdout"], cwd)
    seen["stderr"] = normalise(seen["stderr"], cwd)
    return seen


def code_cells(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def source_of(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def run_in_student_kernel(notebook: dict, cwd: Path) -> list[list[dict]]:
    """Each code cell's outputs from one fresh kernel, as JupyterLab runs them one by one
    (store_history, continuing after errors as "Run All" with nbgrader's allow_errors)."""
    from jupyter_client.manager import KernelManager

    # LMS_JUDGE_LOCAL: %%judge cells compile locally, as the grader's runner does (no LMS
    # here); PYTHONHASHSEED: the grader fixes it, so set iteration order matches.
    env = dict(os.environ, LMS_JUDGE_LOCAL="1", PYTHONHASHSEED="0")
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(cwd), env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        results = []
        for cell in code_cells(notebook):
            outputs: list[dict] = []

            def keep(message, outputs=outputs):
                kind = message["header"]["msg_type"]
                if kind in ("stream", "error", "execute_result", "display_data"):
                    outputs.append({"output_type": kind, **message["content"]})
                elif kind == "clear_output":
                    outputs.clear()

            client.execute_interactive(source_of(cell), stop_on_error=False, timeout=120,
                                       output_hook=keep)
            results.append(outputs)
        return results
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run_in_grader(name: str, text: str, files: dict[str, bytes], cell_timeout: float) -> list[list[dict]]:
    from graders.notebook import grade_submission_sync

    grade = grade_submission_sync({name: text}, {name: text}, files=files, cell_timeout=cell_timeout)
    graded = json.loads(grade.notebooks[0].autograded_notebook)
    return [cell.get("outputs", []) for cell in code_cells(graded)]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("lesson", NOTEBOOKS)
def test_grader_outputs_match_a_student_kernel(lesson, tmp_path, grading_sandbox):
    if lesson is None:
        name, text, files = "builtins.ipynb", builtins_notebook(), {}
    else:
        name, text = lesson.name, lesson.read_text()
        # files next to the lesson (data a lesson reads) are there for both, as on the platform
        files = {p.name: p.read_bytes() for p in lesson.parent.iterdir()
                 if p.is_file() and p.suffix != ".ipynb"}
    notebook = json.loads(text)
    cwd = tmp_path / "kernel"
    cwd.mkdir()
    for file_name, data in files.items():
        (cwd / file_name).write_bytes(data)
    kernel = run_in_student_kernel(notebook, cwd)
    # a student's kernel has no cell timeout: a generous one, so that a loaded machine does
    # not turn a slow test cell into a difference (a known difference keeps nbgrader's 30 s)
    known = lesson is not None and str(lesson.relative_to(COURSES)) in KNOWN_DIFFERENCES
    grader = run_in_grader(name, text, files, cell_timeout=30 if known else 300)
    assert len(grader) == len(kernel) == len(code_cells(notebook))
    differences = []
    for index, (cell, theirs, ours) in enumerate(zip(code_cells(notebook), kernel, grader)):
        student, graded = summary(theirs, str(cwd)), summary(ours, str(cwd))
        if student != graded:
            differences.append(f"cell {index}:\n{source_of(cell)}\n  student kernel: {student}\n"
                               f"  grader:         {graded}")
    assert not differences, "\n\n".join(differences)
    if lesson is None:  # the fixture is only worth something if help actually printed
        assert "Help on built-in function len" in summary(grader[0], str(cwd))["stdout"]
