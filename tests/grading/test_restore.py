"""Restoring a submission like nbgrader's autograde (OverwriteCells, DeduplicateIds,
ClearOutput, OverwriteKernelspec, add_missing_cells), but stricter: whatever the student
did to test and locked cells, the instructor's version runs."""

from __future__ import annotations

import json

import pytest

from graders.notebook import InvalidSubmission, MasterNotebook, restore_submission
from tests.grading.helpers import (HIDDEN_MARKER, TARGET_NAME, cells_by_id, grade, release_of,
                                   target_lesson)

SOURCE = target_lesson()
RELEASE = release_of(SOURCE, TARGET_NAME)
MASTER = MasterNotebook.from_source(TARGET_NAME, SOURCE)


def restored(nb: dict):
    return restore_submission(MASTER, json.dumps(nb))


def ids_in_order(nb: dict) -> list[str]:
    return [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
            if c["metadata"].get("nbgrader")]


def test_release_gets_hidden_tests_back_and_keeps_stubs():
    assert HIDDEN_MARKER not in RELEASE
    nb, notes = restore_submission(MASTER, RELEASE)
    cells = cells_by_id(nb)
    assert HIDDEN_MARKER in cells["double-tests"]["source"]
    assert "raise NotImplementedError()" in cells["answer-solution"]["source"]
    assert notes == ["source of locked cell 'answer-tests' restored",
                     "source of locked cell 'ratio-tests' restored",
                     "source of locked cell 'double-tests' restored"]


def test_edited_test_cell_is_restored():
    nb = json.loads(SOURCE)
    cells_by_id(nb)["answer-tests"]["source"] = "pass  # tests? what tests?"
    out, notes = restored(nb)
    assert cells_by_id(out)["answer-tests"]["source"] == MASTER.by_id["answer-tests"].source
    assert "source of locked cell 'answer-tests' restored" in notes


def test_locked_markdown_and_metadata_tricks_are_undone():
    nb = json.loads(SOURCE)
    cells = cells_by_id(nb)
    cells["intro"]["source"] = "edited instructions"
    meta = cells["answer-tests"]["metadata"]["nbgrader"]
    meta.update(grade=False, solution=True, locked=False, points=100)  # "manual", worth 100
    cells["ratio-tests"]["metadata"]["nbgrader"]["points"] = 50
    out, notes = restored(nb)
    cells = cells_by_id(out)
    assert cells["intro"]["source"] == MASTER.by_id["intro"].source
    assert cells["answer-tests"]["metadata"]["nbgrader"] == dict(MASTER.by_id["answer-tests"].nbgrader)
    assert cells["ratio-tests"]["metadata"]["nbgrader"]["points"] == 2
    assert "nbgrader metadata of cell 'answer-tests' restored" in notes


def test_retyped_test_cell_becomes_code_again():
    nb = json.loads(SOURCE)
    cell = cells_by_id(nb)["double-tests"]
    cell.update(cell_type="markdown")
    cell.pop("outputs")
    cell.pop("execution_count")
    out, notes = restored(nb)
    cell = cells_by_id(out)["double-tests"]
    assert cell["cell_type"] == "code" and cell["outputs"] == [] and cell["execution_count"] is None
    assert "cell type of 'double-tests' restored to code" in notes


def test_deleted_cells_come_back_in_order():
    nb = json.loads(RELEASE)
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id")
                   not in ("answer-tests", "double-tests", "double-solution", "intro")]
    out, notes = restored(nb)
    assert ids_in_order(out) == [c.grade_id for c in MASTER.cells]
    assert "deleted cell 'double-tests' restored" in notes
    assert HIDDEN_MARKER in cells_by_id(out)["double-tests"]["source"]


def test_duplicates_keep_the_last_copy_like_nbgrader():
    nb = json.loads(RELEASE)
    tests = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "answer-tests")
    early = json.loads(json.dumps(tests))
    early["source"] = "answer = 42  # a copy moved up, turned into student code"
    nb["cells"].insert(0, early)
    out, notes = restored(nb)
    assert out["cells"][0]["source"] == early["source"]
    assert "nbgrader" not in out["cells"][0]["metadata"]
    assert ids_in_order(out).count("answer-tests") == 1
    assert "duplicate of cell 'answer-tests' turned into a plain cell" in notes


def test_unknown_grade_ids_and_garbage_metadata_become_plain_cells():
    nb = json.loads(SOURCE)
    nb["cells"].append({"cell_type": "code", "metadata": {"nbgrader": {
        "grade": True, "grade_id": "free-points", "points": 100, "solution": False,
        "locked": True, "schema_version": 3}}, "source": "pass", "outputs": [], "execution_count": None})
    nb["cells"].append({"cell_type": "code", "metadata": {"nbgrader": "not a dict"},
                        "source": "x = 1", "outputs": [], "execution_count": None})
    out, notes = restored(nb)
    assert "free-points" not in cells_by_id(out)
    assert all("nbgrader" not in c["metadata"] for c in out["cells"][-2:])
    assert "unknown cell id 'free-points' turned into a plain cell" in notes


def test_stored_outputs_are_dropped_and_kernel_overwritten():
    nb = json.loads(SOURCE)
    cell = cells_by_id(nb)["answer-tests"]
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "all tests passed"}]
    cell["execution_count"] = 7
    nb["metadata"]["kernelspec"] = {"name": "evil", "display_name": "Evil", "language": "python"}
    out, _ = restored(nb)
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in out["cells"] if c["cell_type"] == "code")
    assert out["metadata"]["kernelspec"]["name"] == "python3"
    assert len({c["id"] for c in out["cells"]}) == len(out["cells"])


@pytest.mark.parametrize("text", ["", "{", "[]", '{"cells": "no"}', "\xff\xfe", "x" * 10])
def test_not_a_notebook(text):
    with pytest.raises(InvalidSubmission):
        restore_submission(MASTER, text)


def test_restored_tests_run_and_score(grading_sandbox):
    """Through the sandbox: a deleted and an edited test still run with hidden tests."""
    nb = json.loads(SOURCE)
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "double-tests"]
    cells_by_id(nb)["answer-tests"]["source"] = "pass"
    cells_by_id(nb)["double-solution"]["source"] = "def double(x):\n    return 2 * x if x != 1 else 3"
    result = grade({TARGET_NAME: SOURCE}, {TARGET_NAME: json.dumps(nb)})
    cells = {c.grade_id: c for c in result.notebooks[0].cells}
    assert cells["answer-tests"].points == 2
    assert cells["double-tests"].points == 0  # the hidden test catches double(1) == 3
    assert cells["double-tests"].error_name == "AssertionError"
    # neither the hidden assertion nor its message is shown
    assert cells["double-tests"].error_message == "a hidden test failed"
    assert "deleted cell 'double-tests' restored" in result.notebooks[0].restored


def test_invalid_and_missing_notebooks_score_zero(grading_sandbox):
    result = grade({TARGET_NAME: SOURCE, "other.ipynb": SOURCE}, {TARGET_NAME: "{not json"})
    by_name = {n.name: n for n in result.notebooks}
    assert by_name[TARGET_NAME].error.startswith("the notebook is not valid JSON")
    assert by_name["other.ipynb"].submitted is False
    assert result.score == 0
    assert not result.needs_manual_grade
