"""``graders.notebook_nbgrader`` restates nbgrader's rules (importing nbgrader costs
seconds): each function is checked against nbgrader itself here, on every bundled lesson.
Also the structural rules the trusted runner code relies on."""

from __future__ import annotations

import copy
import dis
import json

import pytest

from graders import notebook_nbgrader as nbg
from tests.grading.helpers import COURSES, target_lesson

LESSONS = sorted(COURSES.glob("*/lessons/*.ipynb"))


@pytest.fixture(scope="module")
def nbgrader_modules():
    import nbformat
    from nbgrader import utils
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, ClearSolutions,
                                        ComputeChecksums, LockCells)

    return nbformat, utils, (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata,
                             ComputeChecksums)


@pytest.mark.parametrize("path", LESSONS + ["target"], ids=lambda p: getattr(p, "stem", p))
def test_master_cells_match_nbgrader(path, nbgrader_modules):
    nbformat, utils, pipeline = nbgrader_modules
    text = target_lesson() if path == "target" else path.read_text()
    nb = nbformat.reads(text, as_version=4)
    resources: dict = {}
    for preprocessor in pipeline:
        nb, resources = preprocessor().preprocess(nb, resources)
    ours = nbg.master_notebook(nbg.reads(text))
    assert len(ours["cells"]) == len(nb.cells)
    for theirs, mine in zip(nb.cells, ours["cells"]):
        assert mine["source"] == theirs.source
        assert mine["metadata"].get("nbgrader") == theirs.metadata.get("nbgrader")
        assert {k: mine["metadata"].get(k) for k in ("editable", "deletable")} == \
               {k: theirs.metadata.get(k) for k in ("editable", "deletable")}
        for name in ("is_grade", "is_solution", "is_locked", "is_task"):
            assert getattr(nbg, name)(mine) == getattr(utils, name)(theirs)
        if "nbgrader" in theirs.metadata and theirs.metadata.nbgrader.get("grade_id"):
            assert nbg.compute_checksum(mine) == utils.compute_checksum(theirs)


def _graded_code_cell(outputs):
    return {"cell_type": "code", "source": "assert True", "outputs": outputs,
            "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True,
                                      "grade_id": "t", "points": 3, "schema_version": 3}}}


@pytest.mark.parametrize("outputs", [
    [],
    [{"output_type": "stream", "name": "stdout", "text": "fine\n"}],
    [{"output_type": "stream", "name": "stderr", "text": "warning\n"}],
    [{"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": []}],
    [{"output_type": "execute_result", "data": {"text/plain": "1.5"}, "metadata": {}, "execution_count": 1}],
    [{"output_type": "execute_result", "data": {"text/plain": "-2"}, "metadata": {}, "execution_count": 1}],
    [{"output_type": "execute_result", "data": {"text/plain": "'text'"}, "metadata": {}, "execution_count": 1}],
    [{"output_type": "execute_result", "data": {"text/plain": "nan"}, "metadata": {}, "execution_count": 1}],
    [{"output_type": "display_data", "data": {"text/plain": "0"}, "metadata": {}},
     {"output_type": "execute_result", "data": {"text/plain": "0"}, "metadata": {}, "execution_count": 1}],
], ids=["nothing", "stdout", "stderr", "error", "partial", "negative", "text", "nan", "zero"])
def test_determine_grade_matches_nbgrader(outputs, nbgrader_modules):
    nbformat, utils, _ = nbgrader_modules
    cell = _graded_code_cell(outputs)
    assert nbg.determine_grade(cell) == utils.determine_grade(nbformat.from_dict(copy.deepcopy(cell)))


def test_partial_credit_above_the_points_is_an_error_in_both(nbgrader_modules):
    nbformat, utils, _ = nbgrader_modules
    cell = _graded_code_cell([{"output_type": "execute_result", "data": {"text/plain": "7"},
                               "metadata": {}, "execution_count": 1}])
    with pytest.raises(ValueError):
        utils.determine_grade(nbformat.from_dict(copy.deepcopy(cell)))
    with pytest.raises(ValueError):
        nbg.determine_grade(cell)


def test_manual_cells_match_nbgrader(nbgrader_modules):
    nbformat, utils, _ = nbgrader_modules
    cell = {"cell_type": "markdown", "source": "YOUR ANSWER HERE", "metadata": {"nbgrader": {
        "grade": True, "solution": True, "locked": False, "grade_id": "essay", "points": 2,
        "schema_version": 3}}}
    cell["metadata"]["nbgrader"]["checksum"] = nbg.compute_checksum(cell)
    assert nbg.determine_grade(cell) == utils.determine_grade(nbformat.from_dict(copy.deepcopy(cell))) == (0, 2.0)
    cell["source"] = "My answer."
    assert nbg.determine_grade(cell) == utils.determine_grade(nbformat.from_dict(copy.deepcopy(cell))) == (None, 2.0)


@pytest.mark.parametrize("path", LESSONS[:4], ids=lambda p: p.stem)
def test_writes_matches_nbformat(path, nbgrader_modules):
    nbformat, _, _ = nbgrader_modules
    nb = nbg.reads(path.read_text())
    assert nbg.writes(nb) == nbformat.writes(nbformat.from_dict(nb)) + "\n"
    assert json.loads(nbg.writes(nb)) == json.loads(path.read_text())


def test_trusted_functions_use_no_globals_or_closures():
    """The functions test cells call must not read anything a student could rebind."""
    from graders import notebook_guard, notebook_runner

    for function in (*notebook_guard.TRUSTED_FUNCTIONS, notebook_runner._reporter):
        for instruction in dis.get_instructions(function):
            assert instruction.opname not in (
                "LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "LOAD_DEREF", "LOAD_CLOSURE",
                "MAKE_FUNCTION", "LOAD_CLASSDEREF"), (function.__name__, instruction)
        assert not any(hasattr(c, "co_code") for c in function.__code__.co_consts), function


def test_the_executor_loop_reads_no_global_once_started():
    """Everything _serve uses after its prologue is a local bound before student code."""
    import inspect

    from graders import notebook_runner

    lines, first = inspect.getsourcelines(notebook_runner._serve)
    loop = first + next(i for i, line in enumerate(lines) if line.strip() == "while True:")
    late = [(i.argval, i.positions.lineno) for i in dis.get_instructions(notebook_runner._serve)
            if i.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF") and i.positions.lineno >= loop]
    assert late == []


def test_every_report_line_of_the_executor_loop_is_distinct():
    from graders import notebook_runner

    lines = notebook_runner._report_lines()
    assert len(lines) == len(notebook_runner._MARKERS) == 16
    assert len(set(lines)) == 16
