"""Validate and Preview (services/authoring.py) with the real grader and the real sandbox: a
notebook marked as nbgrader's Create Assignment tool marks it validates with its solutions; a
broken solution is named by its exercise's title; each code challenge's reference solution runs
in every language it offers; the preview holds no solution and no hidden test; bad input is a
clear 400."""
from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from graders.notebook import grade_submission
from lms_extension.errors import CourseFormatError, InvalidInput
from lms_extension.labserver.teach import lesson_scaffold, nbgrader_cell
from lms_extension.services import authoring
from lms_extension.services.challenges import load_challenge_text
from lms_extension.services.notebooks import exercise_titles

CHALLENGE = '''
id = "add"
title = "Add two numbers"
statement = "Print the sum of two whole numbers."

[starter]
python = "a, b = input().split()\\n"
javascript = "// read two numbers\\n"

[solution]
python = """a, b = input().split()
print(int(a) + int(b))
"""
javascript = """const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\\\s+/).map(Number);
console.log(a - b);
"""

[[tests]]
stdin = "2 3\\n"
expected = "5\\n"

[[tests]]
stdin = "-4 -10\\n"
expected = "-14\\n"
hidden = true
'''


@pytest.fixture(scope="module")
def sandbox():
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (cgroups, tmpfs mounts, per-run uids)")
    if not shutil.which("bwrap"):
        pytest.fail("bubblewrap is not installed (apt-get install bubblewrap)")
    from graders.submissions import SubmissionSandbox

    return SubmissionSandbox()


def run(coro):
    return asyncio.run(coro)


def validate(sandbox, books, challenges=None):
    async def run_tests(source, language_id, cases, limits):
        return await sandbox.run_tests(source, language_id, cases, limits=limits)

    return run(authoring.validate(books, challenges or {}, grade=grade_submission, run_tests=run_tests))


def scaffold(title="Doubling") -> dict:
    return lesson_scaffold(title)


def test_create_assignment_metadata_is_nbgraders_own():
    """The metadata of each Create Assignment cell type, as nbgrader 0.9's JupyterLab tool writes
    it (newNbgraderData in @jupyter/nbgrader), passes nbgrader's own schema-3 validator."""
    assert nbgrader_cell("solution", "a") == {"grade": False, "grade_id": "a", "locked": False, "schema_version": 3,
                                              "solution": True, "task": False}
    assert nbgrader_cell("tests", "t", 2) == {"grade": True, "grade_id": "t", "locked": True, "points": 2,
                                              "schema_version": 3, "solution": False, "task": False}
    assert nbgrader_cell("manual", "m", 3) == {"grade": True, "grade_id": "m", "locked": False, "points": 3,
                                               "schema_version": 3, "solution": True, "task": False}
    assert nbgrader_cell("readonly", "r") == {"grade": False, "grade_id": "r", "locked": True, "schema_version": 3,
                                              "solution": False, "task": False}
    assert nbgrader_cell("solution")["grade_id"].startswith("cell-")  # the tool's random ids
    nb = scaffold()
    nb["cells"].append({"cell_type": "markdown", "id": "essay", "metadata": {"nbgrader": nbgrader_cell("manual", "m", 3)},
                        "source": "YOUR ANSWER HERE"})
    MetadataValidator().validate_nb(nbformat.reads(json.dumps(nb), as_version=4))  # raises on what nbgrader rejects


def test_a_scaffolded_lesson_validates_and_a_broken_solution_is_named(sandbox):
    good = scaffold()
    broken = copy.deepcopy(good)
    broken["cells"][3]["source"] = "def double(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"
    report = validate(sandbox, {"01-good.ipynb": json.dumps(good), "02-broken.ipynb": json.dumps(broken)})
    assert report["ok"] is False
    by_name = {row["notebook"]: row for row in report["notebooks"]}
    ok, bad = by_name["01-good.ipynb"], by_name["02-broken.ipynb"]
    assert ok["ok"] and ok["failing"] == [] and (ok["score"], ok["max_score"]) == (2, 2)
    assert [cell["title"] for cell in bad["failing"]] == ["Exercise 1 - Double a number"]
    assert bad["failing"][0]["status"] == "failed" and "assert double(2) == 4" in bad["failing"][0]["message"]
    # every check passes: the report says so
    assert validate(sandbox, {"01-good.ipynb": json.dumps(good)})["ok"] is True


def test_a_hidden_test_failing_with_the_solution_is_reported(sandbox):
    nb = scaffold()
    nb["cells"][4]["source"] = ("assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == 6\n"
                                "### END HIDDEN TESTS")
    report = validate(sandbox, {"l.ipynb": json.dumps(nb)})
    (failing,) = report["notebooks"][0]["failing"]
    assert failing["title"] == "Exercise 1 - Double a number" and failing["grade_id"] == "ex1-double-tests"


def test_malformed_notebooks_are_reported_without_running(sandbox):
    dup = scaffold()
    dup["cells"][4]["metadata"]["nbgrader"]["grade_id"] = "ex1-double"
    report = validate(sandbox, {"a.ipynb": "{not json", "b.ipynb": json.dumps(dup)})
    errors = {row["notebook"]: row["error"] for row in report["notebooks"]}
    assert "not a valid Jupyter notebook" in errors["a.ipynb"]
    assert "duplicate grade_id 'ex1-double'" in errors["b.ipynb"]
    assert report["ok"] is False


def test_reference_solutions_run_in_every_offered_language(sandbox):
    report = validate(sandbox, {}, {"challenges/add.toml": CHALLENGE})
    (challenge,) = report["challenges"]
    rows = {row["language"]: row for row in challenge["languages"]}
    assert set(rows) == {"python", "javascript"}  # the starter's languages
    assert rows["python"]["ok"] and rows["python"]["failing"] == []
    assert not rows["javascript"]["ok"] and rows["javascript"]["message"] == "2 of 2 tests fail"
    assert [t["test"] for t in rows["javascript"]["failing"]] == [1, 2]
    assert rows["javascript"]["failing"][1]["hidden"] is True
    assert report["ok"] is False
    # a language offered without a reference solution is a failure that says what to add
    without = CHALLENGE.replace('[starter]\n', '[starter]\ncpp = "int main() {}\\n"\n')
    rows = {row["language"]: row for row in
            validate(sandbox, {}, {"add.toml": without})["challenges"][0]["languages"]}
    assert not rows["cpp"]["ok"] and "no reference solution in C++" in rows["cpp"]["message"]
    # a bad file is named
    bad = validate(sandbox, {}, {"x.toml": "id = 3"})["challenges"][0]
    assert bad["ok"] is False and "x.toml" in bad["error"]


def test_the_reference_solution_is_never_stored():
    spec = load_challenge_text(CHALLENGE, "add.toml")
    assert "print(int(a) + int(b))" in spec.solution["python"]
    from lms_extension.models import Challenge

    assert not any("solution" in column.name for column in Challenge.__table__.columns)
    with pytest.raises(CourseFormatError, match="solution keys"):
        load_challenge_text(CHALLENGE.replace("[solution]\npython", "[solution]\ncobol"), "add.toml")


def test_preview_is_the_student_version():
    nb = scaffold("Doubling")
    text = authoring.student_preview("l.ipynb", json.dumps(nb))
    assert "return 2 * x" not in text and "BEGIN SOLUTION" not in text
    assert "double(-3)" not in text and "HIDDEN" not in text
    assert "assert double(2) == 4" in text and "raise NotImplementedError()" in text
    assert exercise_titles(text)["ex1-double"] == "Exercise 1 - Double a number"
    with pytest.raises(InvalidInput, match="not a valid Jupyter notebook"):
        authoring.student_preview("l.ipynb", "[]")
    with pytest.raises(InvalidInput, match="file name"):
        authoring.student_preview(None, json.dumps(nb))
    with pytest.raises(InvalidInput, match="at most 5 MB"):
        authoring.student_preview("l.ipynb", "x" * (6 * 1024 * 1024))


@pytest.mark.parametrize("body, words", [
    ([], "send"),
    ({}, "nothing to validate"),
    ({"notebooks": []}, "notebooks must be an object"),
    ({"notebooks": {"a.ipynb": 3}}, "must be the file's text"),
    ({"notebooks": {"../a.ipynb": "{}"}}, "by file name"),
    ({"notebooks": {"a.txt": "{}"}}, "by file name"),
    ({"notebooks": {"a.ipynb": "x" * (5 * 1024 * 1024 + 1)}}, "larger than 5 MB"),
    ({"notebooks": {f"n{i}.ipynb": "{}" for i in range(41)}}, "at most 40"),
    ({"challenges": {"": "x"}}, "needs a name"),
])
def test_bad_requests_are_refused_clearly(body, words):
    with pytest.raises(InvalidInput, match=words):
        authoring.parse_request(body)
