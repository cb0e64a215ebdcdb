"""nbgrader's grading rules, on plain notebook dicts.

``import nbgrader`` (and ``import nbformat``, which it pulls in) costs seconds here: its
package loads its server extensions, and nbformat's schema validator loads every
``jsonschema`` format checker. The autograder needs a dozen small functions of theirs on
every submission, so they are restated here from nbgrader 0.9 (``nbgrader/utils.py`` and
the ``LockCells``, ``ClearSolutions``, ``ClearOutput`` and ``ComputeChecksums``
preprocessors). ``tests/grading/test_nbgrader_rules.py`` checks each one against
nbgrader itself on the bundled courses, so a divergence fails the build.

Notebooks here are what ``json.loads`` gives, with multi-line strings joined (as nbformat
keeps them in memory); :func:`writes` produces nbformat's on-disk layout.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

CODE_STUBS = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
    "R": "# YOUR CODE HERE\nfail()",
    "matlab": "% YOUR CODE HERE\nerror('No Answer Given!')",
    "octave": "% YOUR CODE HERE\nerror('No Answer Given!')",
    "sas": "/* YOUR CODE HERE */\n %notImplemented;",
    "java": "// YOUR CODE HERE",
}
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"


class NotebookFormatError(ValueError):
    """Not a notebook this autograder can read, or broken nbgrader metadata."""


# --------------------------------------------------------------------------------------
# Reading and writing (nbformat v4 on-disk layout)
# --------------------------------------------------------------------------------------
def _join(value):
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def reads(text: str | bytes) -> dict:
    """A v4 notebook from JSON text, multi-line strings joined (nbformat.reads, without
    schema validation)."""
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NotebookFormatError(f"not valid JSON: {exc}") from exc
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise NotebookFormatError("not a version 4 Jupyter notebook")
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        cell["source"] = _join(cell.get("source", ""))
        for output in cell.get("outputs") or []:
            if not isinstance(output, dict):
                continue
            if "text" in output:
                output["text"] = _join(output["text"])
            data = output.get("data")
            if isinstance(data, dict):
                for mime, value in data.items():
                    if not _is_json_mime(mime):
                        data[mime] = _join(value)
    return nb


def writes(nb: dict) -> str:
    """nbformat.v4.writes: multi-line strings split, keys sorted, one-space indent."""
    nb = copy.deepcopy(nb)
    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            kind = output.get("output_type")
            if kind in ("execute_result", "display_data"):
                output.pop("transient", None)
                for mime, value in output.get("data", {}).items():
                    if isinstance(value, str) and (mime.startswith("text/") or mime in (
                            "application/javascript", "image/svg+xml")):
                        output["data"][mime] = value.splitlines(True)
            elif kind == "stream" and isinstance(output.get("text"), str):
                output["text"] = output["text"].splitlines(True)
    nb.get("metadata", {}).pop("orig_nbformat", None)
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": ")) + "\n"


# --------------------------------------------------------------------------------------
# nbgrader.utils
# --------------------------------------------------------------------------------------
def meta(cell: dict) -> dict:
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    value = metadata.get("nbgrader")
    return value if isinstance(value, dict) else {}


def has_nbgrader(cell: dict) -> bool:
    return isinstance(cell.get("metadata"), dict) and "nbgrader" in cell["metadata"]


def is_task(cell: dict) -> bool:
    return bool(has_nbgrader(cell) and meta(cell).get("task", False))


def is_grade(cell: dict) -> bool:
    return bool(has_nbgrader(cell) and meta(cell).get("grade", False))


def is_solution(cell: dict) -> bool:
    return bool(has_nbgrader(cell) and meta(cell).get("solution", False))


def is_locked(cell: dict) -> bool:
    if not has_nbgrader(cell):
        return False
    if is_solution(cell):
        return False
    if is_grade(cell):
        return True
    return bool(meta(cell).get("locked", False))


def compute_checksum(cell: dict) -> str:
    digest = hashlib.md5()
    digest.update(cell["source"].encode("utf-8"))
    digest.update(cell["cell_type"].encode("utf-8"))
    digest.update(str(is_grade(cell)).encode("utf-8"))
    digest.update(str(is_solution(cell)).encode("utf-8"))
    digest.update(str(is_locked(cell)).encode("utf-8"))
    digest.update(meta(cell)["grade_id"].encode("utf-8"))
    if is_grade(cell):
        digest.update(str(float(meta(cell)["points"])).encode("utf-8"))
    return digest.hexdigest()


def get_partial_grade(output: dict, max_points: float) -> float:
    """Partial credit from a test cell's displayed value (nbgrader.utils.get_partial_grade)."""
    grade = output["data"]["text/plain"]
    if not grade:
        raise KeyError("output ['data']['text/plain'] does not exist")
    if isinstance(grade, list):
        if len(grade) > 1:
            return max_points
        grade = grade[0]
    try:
        grade = float(grade)
    except ValueError:
        return max_points
    if grade >= 0.0:
        if grade > max_points:
            raise ValueError("partial credit cannot be greater than maximum points for cell")
        return grade
    return max_points


def determine_grade(cell: dict) -> tuple[float | None, float]:
    """(auto score or None for manual grading, max points) of a graded cell."""
    if not is_grade(cell):
        raise ValueError("cell is not a grade cell")
    max_points = float(meta(cell)["points"])
    if is_solution(cell):
        if "checksum" in meta(cell) and meta(cell)["checksum"] == compute_checksum(cell):
            return 0, max_points
        return None, max_points
    if cell["cell_type"] == "code":
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error" or (kind == "stream" and output.get("name") == "stderr"):
                return 0, max_points
            if kind == "execute_result":
                return get_partial_grade(output, max_points), max_points
        return max_points, max_points
    return None, max_points


# --------------------------------------------------------------------------------------
# generate_assignment's preprocessors up to SaveCells (what the gradebook stores)
# --------------------------------------------------------------------------------------
def _check_metadata(nb: dict) -> None:
    """The parts of nbgrader's MetadataValidator a master notebook relies on."""
    seen: set[str] = set()
    for index, cell in enumerate(nb["cells"]):
        if not has_nbgrader(cell):
            continue
        m = meta(cell)
        if not m:
            continue
        if m.get("schema_version", 0) < 3:
            raise NotebookFormatError(
                f"cell {index}: nbgrader metadata schema {m.get('schema_version')}; "
                "run `nbgrader update` on the source notebook")
        if is_grade(cell) or is_solution(cell) or is_locked(cell) or is_task(cell):
            gid = m.get("grade_id")
            if not isinstance(gid, str) or not gid:
                raise NotebookFormatError(f"cell {index}: nbgrader cell without a grade_id")
            if gid in seen:
                raise NotebookFormatError(f"cell {index}: duplicate grade_id {gid!r}")
            seen.add(gid)
        if is_grade(cell) or is_task(cell):
            try:
                float(m["points"])
            except (KeyError, TypeError, ValueError):
                raise NotebookFormatError(f"cell {index}: graded cell without points") from None
        if is_task(cell) and cell.get("cell_type") != "markdown":
            raise NotebookFormatError(f"cell {index}: task cells must be markdown")


def _replace_solution_region(cell: dict, language: str) -> bool:
    lines = cell["source"].split("\n")
    stub = (CODE_STUBS[language] if cell["cell_type"] == "code" else TEXT_STUB).split("\n")
    new_lines: list[str] = []
    in_solution = replaced = False
    for line in lines:
        if BEGIN_SOLUTION in line:
            if in_solution:
                raise NotebookFormatError("encountered nested begin solution statements")
            in_solution = replaced = True
            indent = re.match(r"\s*", line).group(0)
            new_lines.extend(indent + s for s in stub)
        elif END_SOLUTION in line:
            in_solution = False
        elif not in_solution:
            new_lines.append(line)
    if in_solution:
        raise NotebookFormatError("no end solution statement found")
    cell["source"] = "\n".join(new_lines)
    return replaced


def master_notebook(source: dict) -> dict:
    """The source notebook after LockCells, ClearSolutions, ClearOutput,
    CheckCellMetadata and ComputeChecksums: solutions replaced by stubs, hidden tests
    kept, checksums added. These are the cells nbgrader restores when autograding."""
    nb = copy.deepcopy(source)
    _check_metadata(nb)
    language = nb.get("metadata", {}).get("kernelspec", {}).get("language", "python")
    if language not in CODE_STUBS:
        raise NotebookFormatError(f"language {language!r} has no nbgrader code stub")
    for cell in nb["cells"]:
        # LockCells
        metadata = cell.setdefault("metadata", {})
        if is_solution(cell):
            metadata["deletable"] = False
        elif is_grade(cell) or is_locked(cell):
            metadata["deletable"] = False
            metadata["editable"] = False
        # ClearSolutions
        replaced = _replace_solution_region(cell, language)
        if not is_solution(cell) and replaced:
            raise NotebookFormatError("solution region detected in a non-solution cell")
        if is_solution(cell) and not replaced:
            cell["source"] = CODE_STUBS[language] if cell["cell_type"] == "code" else TEXT_STUB
        # ClearOutput
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("collapsed", "scrolled"):
            metadata.pop(key, None)
    nb.get("metadata", {}).pop("celltoolbar", None)
    _check_metadata(nb)
    for cell in nb["cells"]:
        # ComputeChecksums
        if is_grade(cell) or is_solution(cell) or is_locked(cell):
            cell["metadata"]["nbgrader"]["checksum"] = compute_checksum(cell)
            cell["metadata"]["nbgrader"]["cell_type"] = cell["cell_type"]
    return nb
