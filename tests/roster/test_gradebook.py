"""The gradebook: CSV with raw and final scores per exercise, and nbgrader's gradebook.db read back
with nbgrader's own API (both databases)."""
from __future__ import annotations

import csv
import io
import sqlite3
from datetime import timedelta

import pytest
from nbgrader.api import Gradebook

from lms_extension.errors import Forbidden, NotFound
from lms_extension.models.base import utcnow
from lms_extension.services import enrollments, extensions, gradebook, grading_admin, grading_queue as queue, users
from tests.factories import make_user
from tests.grading_admin.conftest import NB, grade

from .conftest import SLUG


@pytest.fixture
def graded(session, course, teacher, student):
    """roster-student: l1 graded late (40 % off), 2 auto + 2.5 manual points; "=cmd" never submitted."""
    sub = queue.enqueue(session, student, SLUG, "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id, test_points=2.0)
    grading_admin.save_manual_grades(session, teacher, sub.id, [
        {"notebook": "l1.ipynb", "grade_id": "explain", "points": 2.5, "comment": "Say why."}])
    hostile = make_user(session, "roster-hostile")
    users.update_profile(session, hostile, display_name="=HYPERLINK(\"http://evil\")")
    enrollments.enroll(session, hostile, SLUG)
    session.commit()
    return sub


def test_csv_rows_raw_and_final(session, teacher, graded):
    course, text = gradebook.csv_text(session, teacher, SLUG)
    table = list(csv.reader(io.StringIO(text)))
    header, rows = table[0], {r[0]: r for r in table[1:]}
    assert header[0] == "username"
    # every lesson of the fixture has the graded notebook: three exercises
    assert header[2:5] == ["l1 raw", "l1 late penalty %", "l1 final"] and header[-3:] == [
        "total raw", "total final", "total max"]
    ada = dict(zip(header, rows["roster-student"]))
    assert (ada["display_name"], ada["l1 raw"], ada["l1 late penalty %"], ada["l1 final"]) == (
        "Ada Lovelace", "4.5", "40", "2.7")
    assert ada["l2 raw"] == ada["l2 final"] == "" and ada["total final"] == "2.7" and ada["total max"] == "15"
    evil = dict(zip(header, rows["roster-hostile"]))
    assert evil["display_name"].startswith("'=")  # not a formula in a spreadsheet
    assert len(rows) == 2


def test_csv_follows_an_extension(session, teacher, graded):
    extensions.grant(session, teacher, SLUG, "roster-student", "l1", utcnow() + timedelta(days=1))
    _, text = gradebook.csv_text(session, teacher, SLUG)
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["username"] == "roster-student")
    assert (row["l1 late penalty %"], row["l1 final"]) == ("0", "4.5")


def test_nbgrader_reads_the_export(session, teacher, graded, tmp_path, monkeypatch):
    # an extension that still ends an hour before the submission: one started day late
    extensions.grant(session, teacher, SLUG, "roster-student", "l1", graded.submitted_at - timedelta(hours=1))
    session.commit()
    # the service's PATH need not have nbgrader's ``alembic`` command (Gradebook runs it for a new file)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    course, data = gradebook.nbgrader_db(session, teacher, SLUG)
    monkeypatch.undo()
    assert data.startswith(b"SQLite format 3")
    path = tmp_path / "gradebook.db"
    path.write_bytes(data)
    with sqlite3.connect(path) as db:  # stamped with nbgrader's schema revision, as nbgrader does
        (stamp,) = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert stamp[0] == gradebook._nbgrader_schema_revision() and len(stamp[0]) == 12
    with Gradebook(f"sqlite:///{path}", course_id=SLUG) as gb:
        assert sorted(s.id for s in gb.students) == ["roster-hostile", "roster-student"]
        assert sorted(a.name for a in gb.assignments) == ["l1", "l2", "l3"]
        assert gb.find_assignment("l1").max_score == 5.0
        submission = gb.find_submission("l1", "roster-student")
        assert submission.score == 4.5  # nbgrader's raw score: 2 autograded + 2.5 by hand
        assert submission.extension is not None and submission.total_seconds_late > 0
        notebook = gb.find_submission_notebook("l1", "l1", "roster-student")
        assert notebook.late_submission_penalty == pytest.approx(0.45)  # one day late: 10 % of 4.5
        assert gb.find_grade("explain", "l1", "l1", "roster-student").manual_score == 2.5
        assert gb.find_grade("test_square", "l1", "l1", "roster-student").auto_score == 2.0
        assert gb.find_comment("explain", "l1", "l1", "roster-student").manual_comment == "Say why."
        assert gb.find_student("roster-student").first_name == "Ada Lovelace"
        with pytest.raises(Exception):
            gb.find_submission("l2", "roster-student")  # never submitted


def test_gradebook_only_for_the_course_teacher(session, tmp_path, course, student, graded):
    other = make_user(session, "roster-gb-outsider", instructor=True)
    for user in (other, student):
        with pytest.raises(Forbidden):
            gradebook.csv_text(session, user, SLUG)
        with pytest.raises(Forbidden):
            gradebook.nbgrader_db(session, user, SLUG)
    with pytest.raises(NotFound):
        gradebook.csv_text(session, other, "no-such-course")
