"""Turn an nbgrader source notebook into the version a student receives.

Uses nbgrader's own preprocessors in the order ``nbgrader generate_assignment`` applies
them, so solutions, hidden tests and marking schemes are removed exactly as nbgrader does.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import re

import nbformat
from nbgrader.nbgraderformat import ValidationError as NbgraderValidationError
from nbgrader.preprocessors import (
    ClearMarkScheme,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

from ..errors import CourseFormatError
from .quizzes import strip_answers

# nbgrader generate_assignment's order, less the header/footer and gradebook steps
_PIPELINE = (
    LockCells,
    ClearSolutions,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
)


def read_notebook(text: str, name: str) -> nbformat.NotebookNode:
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types for bad input
        raise CourseFormatError(f"{name}: not a valid Jupyter notebook ({exc})") from exc
    _check_grade_ids(nb, name)
    return nb


def _check_grade_ids(nb, name: str) -> None:
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        if not isinstance(meta, dict):
            raise CourseFormatError(f"{name}: cell {index}: nbgrader metadata must be an object")
        if meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task"):
            grade_id = meta.get("grade_id")
            if not isinstance(grade_id, str) or not grade_id:
                raise CourseFormatError(f"{name}: cell {index}: nbgrader cell without a grade_id")
            if grade_id in seen:
                raise CourseFormatError(f"{name}: cell {index}: duplicate grade_id {grade_id!r}")
            seen.add(grade_id)
        if meta.get("grade"):
            points = meta.get("points")
            if not isinstance(points, (int, float)) or points < 0:
                raise CourseFormatError(
                    f"{name}: cell {index} ({meta.get('grade_id')}): graded cell needs points >= 0"
                )


def student_version(source: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(source)
    resources: dict = {}
    try:
        for preprocessor in _PIPELINE:
            nb, resources = preprocessor().preprocess(nb, resources)
    except (NbgraderValidationError, RuntimeError, ValueError) as exc:
        raise CourseFormatError(f"{name}: malformed nbgrader metadata ({exc})") from exc
    strip_answers(nb)  # quiz answer keys stay on the server
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_POINTS = re.compile(r"\s*\((?:[^()]*\bpoints?\b[^()]*)\)\s*$", re.IGNORECASE)


def _heading(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().replace("`", "").replace("**", "")
            title = _POINTS.sub("", title).strip()
            if title:
                return title
    return None


@functools.lru_cache(maxsize=64)
def exercise_titles(notebook_text: str) -> dict[str, str]:
    """grade_id -> what a student calls the exercise: the nearest markdown heading above its cell
    (without a trailing "(N points)"), or "Part N" in a notebook without headings."""
    try:
        cells = json.loads(notebook_text).get("cells", [])
    except (ValueError, AttributeError):
        return {}
    titles: dict[str, str] = {}
    current = None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(source)
        meta = (cell.get("metadata") or {}).get("nbgrader")
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(gid, str) and gid not in titles:
            titles[gid] = current or f"Part {len(titles) + 1}"
        if cell.get("cell_type") == "markdown":
            current = _heading(source) or current
    return titles
