"""``graders.notebook.grade_submission`` / ``grade_submissions``: what the grading worker
gets, and the isolation between submissions graded in one run."""

from __future__ import annotations

import asyncio
import json

from graders.notebook import MasterNotebook, Submission, _redact, grade_submissions
from tests.grading.helpers import (TARGET_NAME, all_text, grade, lesson, release_of,
                                   outputs_of, target_lesson, target_with)

SOURCE = target_lesson()
HELLO = "01-hello-python.ipynb"
HELLO_SOURCE = lesson("python-for-beginners/lessons/01-hello-python.ipynb")


def test_result_is_plain_and_json_serialisable(grading_sandbox):
    result = grade({TARGET_NAME: SOURCE}, {TARGET_NAME: SOURCE})
    data = json.loads(json.dumps(result.to_dict()))
    assert data["score"] == 8.5 and data["max_score"] == 10 and data["needs_manual_grade"]
    (notebook,) = data["notebooks"]
    assert [c["grade_id"] for c in notebook["cells"]] == [
        "answer-tests", "ratio-tests", "double-tests", "partial-tests", "essay"]
    essay = notebook["cells"][-1]
    assert essay["points"] is None and essay["needs_manual_grade"] and essay["status"] == "manual"
    executed = json.loads(notebook["autograded_notebook"])
    assert executed["nbformat"] == 4 and any(c.get("outputs") for c in executed["cells"])


def test_several_notebooks_files_and_unknown_names(grading_sandbox):
    reads_file = target_with({"answer-solution": "answer = 42 if open('data/in.txt').read() == 'hi' else 0"})
    result = grade({TARGET_NAME: SOURCE, HELLO: HELLO_SOURCE},
                   {TARGET_NAME: reads_file, HELLO: release_of(HELLO_SOURCE, HELLO),
                    "not-in-the-lesson.ipynb": SOURCE},
                   files={"data/in.txt": b"hi"})
    by_name = {n.name: n for n in result.notebooks}
    assert sorted(by_name) == sorted([TARGET_NAME, HELLO])
    assert result.cell("answer-tests", TARGET_NAME).points == 2
    assert by_name[HELLO].score == 0 and by_name[HELLO].max_score == 6
    assert result.max_score == 16


def test_stderr_in_a_test_scores_zero_like_nbgrader(grading_sandbox):
    result = grade({TARGET_NAME: SOURCE}, {TARGET_NAME: target_with({
        "double-solution": "import sys\ndef double(x):\n    print('careful', file=sys.stderr)\n    return 2 * x"})})
    cell = result.cell("double-tests")
    assert (cell.points, cell.error_name) == (0, "StandardError")
    # the cell ran after hidden tests: what it wrote is for instructors (the autograded
    # notebook), the student is told only that it wrote to standard error
    assert cell.error_message == "the test cell wrote to standard error"
    assert "careful" in json.dumps(outputs_of(result, "double-tests"))


def test_messages_blank_out_hidden_test_lines():
    master = MasterNotebook.from_source(TARGET_NAME, SOURCE)
    message = "I read: assert isinstance(answer, int)"
    assert _redact(master, message) == "I read: [hidden test]"


def test_submissions_of_one_run_do_not_see_each_other(grading_sandbox):
    polluter = target_with({"answer-solution": (
        "import os, subprocess, sys\n"
        "open('left-behind.txt', 'w').write('x')\nopen('/tmp/left-behind', 'w').write('x')\n"
        "open('/dev/shm/left-behind', 'w').write('x')\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
        "import mmap\n"
        "answer = 41")})
    checker = target_with({"answer-solution": (
        "import os\n"
        "left = [p for p in ('left-behind.txt', '/tmp/left-behind', '/dev/shm/left-behind') if os.path.exists(p)]\n"
        "others = [p for p in os.listdir('/proc') if p.isdigit() and\n"
        "          b'sleep(60)' in open(f'/proc/{p}/cmdline', 'rb').read()]\n"
        "print('leftovers:', left, others)\nanswer = 42")})
    grades = asyncio.run(grade_submissions({TARGET_NAME: SOURCE}, [
        Submission({TARGET_NAME: polluter}), Submission({TARGET_NAME: checker}),
        Submission({TARGET_NAME: SOURCE})]))
    assert [g.score for g in grades] == [5.5, 8.5, 8.5]  # answer 41: -2, and -1 of the partial credit
    assert "leftovers: [] []" in all_text(grades[1])
    assert all(g.error is None for g in grades)


def test_failure_message_after_hidden_tests_comes_from_the_visible_source():
    from graders.notebook import authored_failure_message

    source = ('x = compute()\n'
              'assert x == 4, "x should be 4"\n'
              'assert (x ==\n'
              '        4)\n'
              '### BEGIN HIDDEN TESTS\n'
              'assert x != 7391, "the secret message"\n'
              '### END HIDDEN TESTS')
    assert authored_failure_message(source, 2) == "x should be 4"
    assert authored_failure_message(source, 4) == "failed: assert x ==\n        4"
    assert authored_failure_message(source, 1) == "failed: x = compute()"
    for line in (6, 5, 99, None, "2", True):  # hidden, a marker, nonsense: the executor said it
        assert authored_failure_message(source, line) == "a hidden test failed"
    assert authored_failure_message("%time assert f(1)\nassert f(2)", 2) == "failed: assert f(2)"
    assert authored_failure_message("assert f(1)", 5) == "the test failed"


def test_every_cell_after_the_first_hidden_test_is_marked_across_notebooks():
    from graders.notebook import _after_hidden_tests, _prepare_notebook

    visible_only = json.loads(SOURCE)
    for cell in visible_only["cells"]:
        cell["source"] = cell["source"].split("### BEGIN HIDDEN TESTS")[0]
    first = MasterNotebook.from_source("a.ipynb", SOURCE)
    second = MasterNotebook.from_source("b.ipynb", json.dumps(visible_only))
    plan = [_prepare_notebook(first, SOURCE), _prepare_notebook(second, json.dumps(visible_only))]
    marked = _after_hidden_tests(plan)
    cells = plan[0].nb["cells"]
    hidden_at = next(i for i in plan[0].run_cells if "BEGIN HIDDEN TESTS" in cells[i]["source"])
    assert marked[0] == {i for i in plan[0].run_cells if i >= hidden_at}
    assert marked[1] == set(plan[1].run_cells)  # the notebooks of a submission share /box
    assert _after_hidden_tests([_prepare_notebook(second, json.dumps(visible_only))]) == [set()]
