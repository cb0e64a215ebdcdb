"""The roster service: per-student figures, search, filters, sort, pages, permissions, and a
query count that does not grow with the number of students (both databases)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from lms_extension.errors import Forbidden, InvalidInput, NotFound
from lms_extension.models import Enrollment, User
from lms_extension.models.base import utcnow
from lms_extension.services import certificates, enrollments, extensions, grading_admin, progress, roster
from tests.factories import make_user
from tests.grading_admin.conftest import NB, grade

from .conftest import DEADLINE, SLUG


@pytest.fixture
def classroom(session, course, teacher, student):
    """roster-student: worked on l1 (graded late, then an extension), l2 opened; bob: nothing;
    carol: everything completed with a certificate; dave: a submission waiting for a manual grade."""
    from lms_extension.services import grading_queue as queue

    progress.heartbeat(session, student, SLUG, "l1", seconds=30, now=utcnow() - timedelta(minutes=5))
    progress.heartbeat(session, student, SLUG, "l1", seconds=60, now=utcnow() - timedelta(minutes=4))
    progress.heartbeat(session, student, SLUG, "l2")
    sub = queue.enqueue(session, student, SLUG, "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id, test_points=2.0)
    grading_admin.save_manual_grades(session, teacher, sub.id, [
        {"notebook": "l1.ipynb", "grade_id": "explain", "points": 3, "comment": "clear"}])
    extensions.grant(session, teacher, SLUG, "roster-student", "l1", utcnow() + timedelta(days=1))
    names = {}
    for name in ("bob", "carol", "dave"):
        names[name] = make_user(session, f"roster-{name}")
        enrollments.enroll(session, names[name], SLUG)
    carol = names["carol"]
    certificates.issue(session, carol, course)
    dave = names["dave"]
    sub2 = queue.enqueue(session, dave, SLUG, "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub2.id, test_points=0.0)
    session.commit()
    return names


def by_name(page):
    return {r.user.hub_name: r for r in page.rows}


def test_figures_per_student(session, teacher, classroom):
    page = roster.course_roster(session, teacher, SLUG)
    assert page.total == page.enrolled == 4
    rows = by_name(page)
    ada = rows["roster-student"]
    l1, l2, l3 = ada.cells
    assert (l1.attempts, l1.raw_score, l1.late_penalty_percent, l1.score, l1.max_score) == (1, 5.0, 0.0, 5.0, 5.0)
    assert l1.extended and l1.deadline > DEADLINE and l1.completed
    assert l1.seconds == 90 and l2.started and not l3.started
    assert ada.percent == 33 and ada.status == "in_progress" and not ada.ungraded
    assert ada.last_activity is not None and ada.certificate_uid is None
    assert rows["roster-bob"].status == "not_started" and rows["roster-bob"].last_activity is None
    assert rows["roster-carol"].status == "completed" and rows["roster-carol"].certificate_uid
    dave = rows["roster-dave"]
    assert dave.ungraded and dave.cells[0].needs_manual_grade and dave.cells[0].late_penalty_percent == 40.0
    view = roster.row_view(ada, "https://lms.example/certificates/")
    assert view["display_name"] == "Ada Lovelace" and view["progress_percent"] == 33
    assert view["lessons"][0]["deadline_extended"] is True and view["certificate"] is None
    assert roster.row_view(rows["roster-carol"], "https://x/c/")["certificate"]["url"].startswith("https://x/c/")


def test_search_filter_sort_and_pages(session, teacher, classroom):
    names = lambda page: [r.user.hub_name for r in page.rows]  # noqa: E731
    assert names(roster.course_roster(session, teacher, SLUG, q="lovelace")) == ["roster-student"]
    assert names(roster.course_roster(session, teacher, SLUG, q="  CAR ")) == ["roster-carol"]
    assert names(roster.course_roster(session, teacher, SLUG, q="%")) == []  # a wildcard is a character
    assert names(roster.course_roster(session, teacher, SLUG, status="completed")) == ["roster-carol"]
    assert names(roster.course_roster(session, teacher, SLUG, status="ungraded")) == ["roster-dave"]
    assert set(names(roster.course_roster(session, teacher, SLUG, status="not_started"))) == {"roster-bob"}
    assert set(names(roster.course_roster(session, teacher, SLUG, status="in_progress"))) == {
        "roster-student", "roster-dave"}
    assert names(roster.course_roster(session, teacher, SLUG, sort="score", order="desc"))[0] == "roster-student"
    assert names(roster.course_roster(session, teacher, SLUG, sort="time", order="desc"))[0] == "roster-student"
    first = roster.course_roster(session, teacher, SLUG, per_page=3)
    second = roster.course_roster(session, teacher, SLUG, per_page="3", page="2")
    assert (first.pages, len(first.rows), len(second.rows), first.total) == (2, 3, 1, 4)
    assert set(names(first)) | set(names(second)) == {"roster-student", "roster-bob", "roster-carol", "roster-dave"}


@pytest.mark.parametrize("kwargs, message", [
    ({"status": "everyone"}, "status"), ({"sort": "password"}, "sort"), ({"order": "sideways"}, "order"),
    ({"page": "two"}, "page"), ({"page": 0}, "page"), ({"per_page": 10_000}, "per_page"),
    ({"q": "x" * 101}, "search"), ({"q": ["x"]}, "search"), ({"q": "bob\x00"}, "control characters"),
])
def test_bad_queries_are_refused(session, teacher, course, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        roster.course_roster(session, teacher, SLUG, **kwargs)


def test_only_the_course_teacher_or_an_admin(session, course, student):
    other = make_user(session, "roster-outsider", instructor=True)
    for user in (other, student):
        with pytest.raises(Forbidden):
            roster.course_roster(session, user, SLUG)
        with pytest.raises(Forbidden):
            roster.student(session, user, SLUG, "roster-student")
    boss = make_user(session, "roster-boss", admin=True)
    assert roster.course_roster(session, boss, SLUG).total == 1
    with pytest.raises(NotFound):
        roster.course_roster(session, boss, "nope")
    with pytest.raises(NotFound):
        roster.student(session, boss, SLUG, "roster-outsider")  # not enrolled
    # a NUL reaches no query (PostgreSQL refuses it in a parameter: a 500)
    for slug, name in ((SLUG + "\x00", "roster-student"), (SLUG, "roster-student\x00"), (SLUG, "x" * 300)):
        with pytest.raises(NotFound):
            roster.student(session, boss, slug, name)


def enroll_many(session, course, count: int, prefix: str) -> None:
    now = utcnow()
    session.execute(insert(User), [{"hub_name": f"{prefix}{i:04d}", "display_name": f"Student {i}",
                                    "is_instructor": False, "is_admin": False, "last_seen_at": now,
                                    "created_at": now} for i in range(count)])
    ids = session.scalars(select(User.id).where(User.hub_name.like(f"{prefix}%"))).all()
    session.execute(insert(Enrollment), [{"user_id": uid, "course_id": course.id, "source": "free",
                                          "created_at": now} for uid in ids])
    session.flush()


def test_query_count_does_not_grow_with_students(session, engine, teacher, classroom, course):
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    def queries(**kwargs) -> int:
        session.expire_all()
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = roster.course_roster(session, teacher, SLUG, **kwargs)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert page.rows
        return len(statements)

    small = queries(sort="activity", order="desc"), queries(status="ungraded")
    enroll_many(session, course, 300, "crowd")
    big = queries(sort="activity", order="desc"), queries(status="ungraded")
    assert all(b <= s for b, s in zip(big, small)) and max(big) <= 15, \
        f"{small} queries with 4 students, {big} with 304"
    assert roster.course_roster(session, teacher, SLUG, per_page=200, page=2).total == 304
