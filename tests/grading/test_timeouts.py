"""Per-cell timeouts (nbgrader's Execute.timeout with interrupt_on_timeout), and the run's
own limits."""

from __future__ import annotations

import json

from graders.notebook import NotebookLimits
from tests.grading.helpers import TARGET_NAME, grade, outputs_of, target_lesson, target_with

SOURCE = target_lesson()


def points(result):
    return {c.grade_id: c.points for c in result.notebooks[0].cells}


def test_endless_solution_cell_is_interrupted_and_grading_goes_on(grading_sandbox):
    """As nbgrader: the cell gets a CellTimeoutError, the kernel keeps its state, the next
    cells run (here the answer was set before the loop, so its test passes)."""
    result = grade({TARGET_NAME: SOURCE},
                   {TARGET_NAME: target_with({"answer-solution": "answer = 42\nwhile True:\n    pass"})},
                   cell_timeout=1.5)
    assert points(result)["answer-tests"] == 2
    assert points(result)["ratio-tests"] == 2
    nb = json.loads(result.notebooks[0].autograded_notebook)
    looping = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "answer-solution")
    assert any(o.get("ename") == "CellTimeoutError" for o in looping["outputs"])
    assert looping["metadata"]["lms"]["status"] == "timeout"


def test_endless_test_scores_zero_and_the_rest_runs(grading_sandbox):
    result = grade({TARGET_NAME: SOURCE},
                   {TARGET_NAME: target_with({"double-solution": "import time\ndef double(x):\n"
                                                                 "    time.sleep(3600)"})},
                   cell_timeout=1.5)
    cell = result.cell("double-tests")
    assert (cell.points, cell.status, cell.error_name) == (0, "timeout", "CellTimeoutError")
    assert points(result)["answer-tests"] == 2
    assert any(o.get("ename") == "CellTimeoutError" for o in outputs_of(result, "double-tests"))


def test_cell_ignoring_the_interrupt_is_killed_and_the_rest_scores_zero(grading_sandbox):
    result = grade({TARGET_NAME: SOURCE},
                   {TARGET_NAME: target_with({"ratio-solution": "import signal\n"
                                              "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                              "while True:\n    pass"})},
                   cell_timeout=1)
    got = points(result)
    assert got["answer-tests"] == 2  # ran before
    assert got["ratio-tests"] == got["double-tests"] == got["partial-tests"] == 0
    assert result.cell("double-tests").status == "not_run"
    assert "did not stop when interrupted" in result.notebooks[0].error


def test_run_out_of_its_time_budget(grading_sandbox):
    limits = NotebookLimits(cpu_time=60, wall_time=2, memory=1_000_000, max_processes=100,
                            max_file_size=8192)
    result = grade({TARGET_NAME: SOURCE},
                   {TARGET_NAME: target_with({"ratio-solution": "import time\ntime.sleep(30)"})},
                   cell_timeout=30, limits=limits)
    got = points(result)
    assert got["answer-tests"] == 2  # graded before the budget ran out
    assert got["ratio-tests"] == got["double-tests"] == got["partial-tests"] == 0
    assert "time budget" in result.error


def test_memory_hog(grading_sandbox):
    limits = NotebookLimits(cpu_time=60, wall_time=60, memory=400_000, max_processes=100,
                            max_file_size=8192)
    result = grade({TARGET_NAME: SOURCE},
                   {TARGET_NAME: target_with({"ratio-solution": "hog = bytearray(2 * 1024 ** 3)\nratio = 0.5"})},
                   limits=limits)
    assert points(result)["answer-tests"] == 2
    assert points(result)["ratio-tests"] == 0


def test_flood_of_output_is_truncated(grading_sandbox):
    result = grade({TARGET_NAME: SOURCE},
                   {TARGET_NAME: target_with({"answer-solution": "for i in range(200000):\n"
                                              "    print('spam' * 20)\nanswer = 42"})})
    assert points(result)["answer-tests"] == 2
    nb = json.loads(result.notebooks[0].autograded_notebook)
    spam = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "answer-solution")
    assert len(json.dumps(spam["outputs"])) < 3_000_000


def test_outputs_over_budget_are_dropped_but_stderr_still_counts(grading_sandbox):
    limits = NotebookLimits(cpu_time=60, wall_time=60, memory=1_000_000, max_processes=100,
                            max_file_size=2048)  # 2 MB of results: 1 MB for outputs
    result = grade({TARGET_NAME: SOURCE}, {TARGET_NAME: target_with({"double-solution": (
        "import sys\ndef double(x):\n    print('x' * 3_000_000)\n"
        "    print('careful', file=sys.stderr)\n    return 2 * x")})}, limits=limits)
    assert points(result)["answer-tests"] == 2
    cell = result.cell("double-tests")
    assert (cell.points, cell.error_name) == (0, "StandardError")  # as nbgrader: stderr -> 0
