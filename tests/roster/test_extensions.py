"""Per-student deadline extensions: the grader, the submission checks and the student's standing
use the student's own deadline; bad input is refused and nothing stored changes (both databases)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lms_extension.errors import Forbidden, InvalidInput, NotFound
from lms_extension.models import NotebookSubmission
from lms_extension.models.audit import AuditEntry
from lms_extension.models.base import utcnow
from lms_extension.models.roster import DeadlineExtension
from lms_extension.services import enrollments, exchange, extensions, grading_queue as queue, policies
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import NB, grade

from .conftest import DEADLINE, SLUG


def submit_and_grade(session, student, points=2.0):
    sub = queue.enqueue(session, student, SLUG, "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id, test_points=points)
    session.expire_all()
    return session.get(NotebookSubmission, sub.id)


def audit_actions(session, target_id):
    return [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.target_id == target_id)
                                              .order_by(AuditEntry.id))]


def test_late_submission_is_penalised_without_an_extension(session, course, student):
    sub = submit_and_grade(session, student)
    # three days (and a bit) late: four started days at ten percent each
    assert sub.late_penalty_percent == 40.0
    assert (sub.auto_score, sub.score) == (2.0, 1.2)
    standing = policies.standing(session, student, sub.lesson)
    assert standing["past_deadline"] is True and standing["deadline_extended"] is False


def test_extension_granted_before_submitting_means_no_penalty(session, course, teacher, student):
    new = utcnow() + timedelta(days=2)
    extensions.grant(session, teacher, SLUG, "roster-student", "l1", new.strftime("%Y-%m-%dT%H:%M"),
                     reason="ill, doctor's note")
    session.commit()
    lesson = course.lessons[0]
    standing = policies.standing(session, student, lesson)
    assert standing["past_deadline"] is False and standing["deadline_extended"] is True
    assert standing["late_penalty_percent_now"] == 0
    assert standing["policy"]["deadline"].startswith(new.strftime("%Y-%m-%dT%H:%M"))
    # nbgrader's Exchange (``nbgrader list``, the Assignments panel) shows the student's own deadline too
    listed = {a["assignment_id"]: a for a in exchange.list_assignments(session, student, SLUG)}
    assert listed["l1"]["policy"]["deadline"] == standing["policy"]["deadline"]
    sub = submit_and_grade(session, student)
    assert (sub.late_penalty_percent, sub.score) == (0.0, 2.0)
    # another student without an extension is still late
    other = make_user(session, "roster-other")
    enrollments.enroll(session, other, SLUG)
    assert policies.standing(session, other, lesson)["past_deadline"] is True
    assert audit_actions(session, f"{SLUG}/l1/roster-student") == ["extension.grant"]


def test_extension_granted_after_grading_reprices_and_removal_restores(session, course, teacher, student):
    sub = submit_and_grade(session, student)
    assert sub.score == 1.2
    extensions.grant(session, teacher, SLUG, "roster-student", "l1", utcnow() + timedelta(days=1))
    session.commit()
    session.refresh(sub)
    assert (sub.late_penalty_percent, sub.score) == (0.0, 2.0)
    # a changed extension that still ends before the submission: one day late again
    extensions.grant(session, teacher, SLUG, "roster-student", "l1",
                     (sub.submitted_at.replace(tzinfo=None) - timedelta(hours=1)).isoformat() + "Z")
    session.refresh(sub)
    assert sub.late_penalty_percent == 10.0 and sub.score == 1.8
    assert extensions.remove(session, teacher, SLUG, "roster-student", "l1") is True
    session.commit()
    session.refresh(sub)
    assert (sub.late_penalty_percent, sub.score) == (40.0, 1.2)
    assert extensions.remove(session, teacher, SLUG, "roster-student", "l1") is False
    assert audit_actions(session, f"{SLUG}/l1/roster-student") == [
        "extension.grant", "extension.change", "extension.remove"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "extension.remove")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.actor_name == "roster-teacher" and "roster-student" in entry.summary


def test_an_admin_may_grant_too(session, course, student):
    boss = make_user(session, "roster-admin", admin=True)
    ext = extensions.grant(session, boss, SLUG, "roster-student", "l1", (DEADLINE + timedelta(days=30)).isoformat())
    assert ext.granted_by_id == boss.id


@pytest.mark.parametrize("deadline, message", [
    ("", "date and time"),
    ("tomorrow", "not a date and time"),
    ("2026-13-45T10:00", "not a date and time"),
    ("2026-12-20", "time of day"),
    ("x" * 1000, "not a date and time"),
    (None, "date and time"),
    (12345, "date and time"),
    ("before", "after the lesson's deadline"),
    ("far", "at most a year"),
])
def test_bad_dates_are_refused(session, course, teacher, student, deadline, message):
    if deadline == "before":
        deadline = (DEADLINE - timedelta(hours=1)).isoformat()
    elif deadline == "far":
        deadline = (DEADLINE + timedelta(days=400)).isoformat()
    with pytest.raises(InvalidInput, match=message):
        extensions.grant(session, teacher, SLUG, "roster-student", "l1", deadline)
    assert session.scalars(select(DeadlineExtension)).all() == []


def test_unknown_student_lesson_and_reason_are_refused(session, tmp_path, course, teacher, student):
    later = DEADLINE + timedelta(days=5)
    make_user(session, "not-enrolled")
    for name in ("nobody", "not-enrolled", "", None, "roster-student\x00", "x" * 300):
        with pytest.raises(NotFound):
            extensions.grant(session, teacher, SLUG, name, "l1", later)
    with pytest.raises(InvalidInput, match="lessons of"):
        extensions.grant(session, teacher, SLUG, "roster-student", "l9", later)
    with pytest.raises(InvalidInput, match="no deadline"):  # l2 has no deadline
        extensions.grant(session, teacher, SLUG, "roster-student", "l2", later)
    with pytest.raises(InvalidInput, match="longer than"):
        extensions.grant(session, teacher, SLUG, "roster-student", "l1", later, reason="x" * 501)
    with pytest.raises(InvalidInput, match="text"):
        extensions.grant(session, teacher, SLUG, "roster-student", "l1", later, reason=["x"])
    with pytest.raises(NotFound):
        extensions.grant(session, teacher, "no-such-course", "roster-student", "l1", later)
    with pytest.raises(NotFound):
        extensions.grant(session, teacher, SLUG + "\x00", "roster-student", "l1", later)
    assert session.scalars(select(DeadlineExtension)).all() == []


def test_other_instructors_and_students_are_refused(session, tmp_path, course, teacher, student):
    other = make_user(session, "roster-other-teacher", instructor=True)
    import_course(session, load_course_folder(write_course(tmp_path / "o", "othercourse",
                                                           instructor="roster-other-teacher")))
    kept = extensions.grant(session, teacher, SLUG, "roster-student", "l1", DEADLINE + timedelta(days=1))
    for user in (other, student):
        with pytest.raises(Forbidden):
            extensions.grant(session, user, SLUG, "roster-student", "l1", DEADLINE + timedelta(days=9))
        with pytest.raises(Forbidden):
            extensions.remove(session, user, SLUG, "roster-student", "l1")
    session.refresh(kept)
    assert policies.effective_deadline(session, student.id, kept.lesson_id) == DEADLINE + timedelta(days=1)
