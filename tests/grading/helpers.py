"""Helpers shared by the grading tests (fixtures are in conftest.py)."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COURSES = REPO / "courses"
NBGRADER = str(Path(sys.executable).with_name("nbgrader"))


def bin_path() -> str:
    dirs = [str(Path(sys.executable).parent)]
    return os.pathsep.join(dict.fromkeys(dirs + os.environ.get("PATH", "").split(os.pathsep)))


def lesson(path: str) -> str:
    return (COURSES / path).read_text()


def release_of(source: str, name: str = "lesson.ipynb") -> str:
    """The student version, made with nbgrader's preprocessors (as the platform does)."""
    from lms_extension.services.notebooks import dumps, read_notebook, student_version

    return dumps(student_version(read_notebook(source, name), name))


def cells_by_id(nb: dict) -> dict[str, dict]:
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def edit(notebook: str, changes: dict[str, str]) -> str:
    """``notebook`` with the sources of some cells (by grade_id) replaced."""
    nb = json.loads(notebook)
    cells = cells_by_id(nb)
    for grade_id, source in changes.items():
        cells[grade_id]["source"] = source
    return json.dumps(nb)


def solve(release: str, source: str, grade_ids) -> str:
    """The release with the instructor's solution pasted into some solution cells."""
    from graders.notebook_nbgrader import reads

    solutions = cells_by_id(reads(source))
    return edit(release, {gid: solutions[gid]["source"] for gid in grade_ids})


def grade(sources: dict[str, str], submitted: dict[str, str], **options):
    from graders.notebook import grade_submission_sync

    return grade_submission_sync(sources, submitted, **options)


def outputs_of(result, grade_id: str, notebook: int = 0) -> list[dict]:
    nb = json.loads(result.notebooks[notebook].autograded_notebook)
    return cells_by_id(nb)[grade_id].get("outputs", [])


def all_text(result, notebook: int = 0) -> str:
    nb = json.loads(result.notebooks[notebook].autograded_notebook)
    return json.dumps([c.get("outputs", []) for c in nb["cells"]])


# --------------------------------------------------------------------------------------
# A small lesson whose tests each cheating test attacks
# --------------------------------------------------------------------------------------
def _cell(kind: str, source: str, grade_id: str | None = None, *, grade=False, solution=False,
          locked=False, points=None) -> dict:
    cell = {"cell_type": kind, "id": (grade_id or f"c{abs(hash(source)) % 10**8}")[:60],
            "metadata": {}, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    if grade_id:
        meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
                "solution": solution, "task": False}
        if points is not None:
            meta["points"] = points
        cell["metadata"]["nbgrader"] = meta
    return cell


TARGET_NAME = "target.ipynb"
HIDDEN_MARKER = "hidden-marker-7391"


def target_lesson(extra_setup: str = "") -> str:
    """Four auto-graded tests (one with partial credit) and a written answer.
    The reference solution scores 2 + 2 + 2 + 2.5 (partial credit) = 8.5 of 9 auto points."""
    cells = [
        _cell("markdown", "# Target lesson\nAnswer the questions.", "intro", locked=True),
        _cell("code", "import math\nimport numpy as np\n" + extra_setup),
        _cell("code", "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", "answer-solution",
              solution=True),
        _cell("code", 'assert answer == 42, "answer should be 42"\n'
                      "### BEGIN HIDDEN TESTS\nassert isinstance(answer, int)\n### END HIDDEN TESTS",
              "answer-tests", grade=True, locked=True, points=2),
        _cell("code", "### BEGIN SOLUTION\nratio = 0.5\n### END SOLUTION", "ratio-solution",
              solution=True),
        _cell("code", "assert math.isclose(ratio, 0.5)\n### BEGIN HIDDEN TESTS\n"
                      "assert abs(ratio - 0.5) < 1e-9\nassert np.allclose([ratio], [0.5])\n"
                      "### END HIDDEN TESTS", "ratio-tests", grade=True, locked=True, points=2),
        _cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              "double-solution", solution=True),
        _cell("code", "assert double(2) == 4\n### BEGIN HIDDEN TESTS\n"
                      f'assert [double(i) for i in range(3)] == [0, 2, 4], "{HIDDEN_MARKER}"\n'
                      "assert 6 in [double(3)]\n### END HIDDEN TESTS",
              "double-tests", grade=True, locked=True, points=2),
        _cell("code", "score = 0\nscore += 1 if answer == 42 else 0\n"
                      "score += 1 if double(5) == 10 else 0\nscore += 0.5 if ratio == 0.5 else 0\n"
                      "score", "partial-tests", grade=True, locked=True, points=3),
        _cell("markdown", "Because it is the answer.", "essay", grade=True, solution=True, points=1),
    ]
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                      "name": "python3"},
                       "language_info": {"name": "python"}}}
    return json.dumps(nb)


def target_with(solution_changes: dict[str, str] | None = None, *, based_on: str | None = None) -> str:
    """The reference solution of the target lesson with some solution cells changed."""
    return edit(based_on or target_lesson(), solution_changes or {})


def copy_nb(text: str) -> dict:
    return copy.deepcopy(json.loads(text))
