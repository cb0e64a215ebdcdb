"""``lms autograde`` (graders.autograde.main) as a drop-in for ``nbgrader autograde``:
what it leaves must keep nbgrader's own tools working."""

from __future__ import annotations

import csv
import os
import stat

import pytest

from graders import autograde
from tests.grading.conftest import PAIR_LESSONS, run_nbgrader, write_config
from tests.grading.helpers import COURSES, cells_by_id, edit, release_of

NAMES = [p.rsplit("/", 1)[1] for p in PAIR_LESSONS]


def submit(course, student: str, notebooks: dict[str, str], assignment: str = "pair",
           files: dict[str, str] | None = None) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in notebooks.items():
        (folder / name).write_text(text)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)


def pair_sources(course) -> dict[str, str]:
    return {n: (course / "source" / "pair" / n).read_text() for n in NAMES}


def pair_releases(course) -> dict[str, str]:
    return {n: (course / "release" / "pair" / n).read_text() for n in NAMES}


def export_rows(course) -> dict[str, float]:
    run_nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv") as handle:
        return {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)
                if row["assignment"] == "pair"}


@pytest.mark.timeout(900)
def test_drop_in_then_nbgrader_export_and_feedback(course_copy, grading_sandbox):
    sources, releases = pair_sources(course_copy), pair_releases(course_copy)
    first, second = NAMES
    submit(course_copy, "alice", sources, files={"notes.txt": "mine", "timestamp.txt": "2024-01-01 10:00:00 UTC"})
    submit(course_copy, "bob", {first: sources[first], second: releases[second]})
    submit(course_copy, "carol", {first: releases[first]})  # second notebook missing
    assert autograde.main(["pair", "--course-dir", str(course_copy), "--quiet"]) == 0

    out = course_copy / "autograded" / "alice" / "pair"
    assert sorted(p.name for p in out.iterdir()) == sorted([*NAMES, "data.txt", "notes.txt", "timestamp.txt"])
    assert stat.S_IMODE(os.stat(out / first).st_mode) == 0o444
    assert not (course_copy / "autograded" / "carol" / "pair" / second).exists()

    scores = export_rows(course_copy)
    assert scores["alice"] > scores["bob"] > scores["carol"] == 0

    run_nbgrader(course_copy, "generate_feedback", "pair", "--force")
    for student in ("alice", "bob"):
        feedback = course_copy / "feedback" / student / "pair"
        assert sorted(p.name for p in feedback.glob("*.html")) == sorted(
            n.replace(".ipynb", ".html") for n in NAMES)
    assert "Score:" in (course_copy / "feedback" / "alice" / "pair" / first.replace(".ipynb", ".html")).read_text()


@pytest.mark.timeout(900)
def test_skips_existing_unless_forced_and_filters_students(course_copy, grading_sandbox, caplog):
    sources = pair_sources(course_copy)
    submit(course_copy, "alice", sources)
    submit(course_copy, "bob", sources)
    assert autograde.main(["pair", "--course-dir", str(course_copy), "--student", "alice"]) == 0
    assert not (course_copy / "autograded" / "bob").exists()
    marker = course_copy / "autograded" / "alice" / "pair" / NAMES[0]
    before = marker.stat().st_mtime_ns
    assert autograde.main(["pair", "--course-dir", str(course_copy), "--student", "alice"]) == 0
    assert marker.stat().st_mtime_ns == before  # skipped, as nbgrader does
    assert autograde.main(["pair", "--course-dir", str(course_copy), "--force", "--batch-size", "1"]) == 0
    assert marker.stat().st_mtime_ns != before
    assert (course_copy / "autograded" / "bob" / "pair" / NAMES[1]).exists()


@pytest.mark.timeout(900)
def test_course_never_released(tmp_path, grading_sandbox):
    """No generate_assignment, no gradebook: the assignment is recorded from source/ as
    nbgrader would have, and nbgrader's export works on the result."""
    course = tmp_path / "fresh"
    (course / "source" / "pair").mkdir(parents=True)
    write_config(course)
    sources = {n: (COURSES / p).read_text() for n, p in zip(NAMES, PAIR_LESSONS)}
    for name, text in sources.items():
        (course / "source" / "pair" / name).write_text(text)
    submit(course, "dana", sources)
    submit(course, "eve", {n: release_of(t, n) for n, t in sources.items()})
    assert autograde.main(["pair", "--course-dir", str(course), "--quiet"]) == 0
    scores = export_rows(course)
    assert scores["dana"] > 0 and scores["eve"] == 0


@pytest.mark.timeout(900)
def test_the_gradebook_version_of_the_tests_wins(course_copy, grading_sandbox):
    """nbgrader grades with the cells generate_assignment recorded, not today's source."""
    name = NAMES[0]
    path = course_copy / "source" / "pair" / name
    source = path.read_text()
    tests = [gid for gid, c in cells_by_id(__import__("json").loads(source)).items()
             if c["metadata"]["nbgrader"].get("grade") and not c["metadata"]["nbgrader"].get("solution")]
    path.write_text(edit(source, {tests[0]: "assert False, 'changed after release'"}))
    submit(course_copy, "frank", {name: source})
    assert autograde.main(["pair", "--course-dir", str(course_copy), "--quiet"]) == 0
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_copy / 'gradebook.db'}", "lms-test") as gb:
        grade = gb.find_grade(tests[0], name.replace(".ipynb", ""), "pair", "frank")
        assert grade.auto_score == grade.max_score
