"""'Manual grade done' tells a student once, when the last hand-graded part of a visible submission
gets its points; held feedback is told once, at its release. Every kind is emitted somewhere."""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from lms_extension.models import NotebookSubmission
from lms_extension.models.notifications import Notification
from lms_extension.services import enrollments, grading_admin, grading_queue, notifications
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import NB, WRITTEN, grade

EXPLAIN = {"notebook": "l1.ipynb", "grade_id": "explain"}


def kinds_of(session, user_id):
    return [n.kind for n in session.scalars(select(Notification).where(Notification.user_id == user_id)
                                            .order_by(Notification.id))]


def _graded(session, tmp_path, tag, *, held=False):
    teacher = make_user(session, f"mg-t-{tag}", instructor=True)
    course = import_course(session, load_course_folder(
        write_course(tmp_path, f"mg-{tag}", instructor=teacher.hub_name, notebook=WRITTEN)))
    if held:
        grading_admin.set_release_policy(session, teacher, course.slug, "held")
    student = make_user(session, f"mg-s-{tag}")
    enrollments.enroll(session, student, course.slug)
    sub = grading_queue.enqueue(session, student, course.slug, "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id, test_points=2.0)
    session.expire_all()
    return course, teacher, student, session.get(NotebookSubmission, sub.id)


def test_manual_grading_done_tells_the_student_once(session, tmp_path, tag):
    course, teacher, student, sub = _graded(session, tmp_path, tag)
    assert kinds_of(session, student.id) == ["grade_released"]  # the autograder's part, on grading
    grading_admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": None, "comment": "more"}])
    assert kinds_of(session, student.id) == ["grade_released"]  # still a part without points
    grading_admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": 3, "comment": "good"}])
    assert kinds_of(session, student.id) == ["grade_released", "manual_grade_done"]
    n = session.scalars(select(Notification).where(Notification.user_id == student.id,
                                                   Notification.kind == "manual_grade_done")).one()
    assert "5 of 5" in n.body and n.url == f"courses/{course.slug}/lessons/l1"
    # changing a grade afterwards is not a second "done"
    grading_admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": 2, "comment": "ok"}])
    assert kinds_of(session, student.id).count("manual_grade_done") == 1


def test_held_feedback_is_told_once_at_release_not_when_graded_by_hand(session, tmp_path, tag):
    course, teacher, student, sub = _graded(session, tmp_path, tag, held=True)
    grading_admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": 3, "comment": "good"}])
    assert kinds_of(session, student.id) == []  # held: the student may not learn of it yet
    assert grading_admin.release_lesson(session, teacher, course.slug, "l1")["released"] == 1
    assert kinds_of(session, student.id) == ["grade_released"]  # one notice for one event


def test_every_kind_is_emitted_somewhere():
    """Each of the KINDS is passed to notify by some module (a literal kind="..." or a kind
    computed from a literal, as the forum's accepted/endorsed)."""
    root = Path(notifications.__file__).resolve().parent.parent
    source = "\n".join(p.read_text() for p in root.rglob("*.py") if p.name != "notifications.py")
    emitted = set(re.findall(r'kind="([a-z_0-9]+)"', source))
    emitted |= {f"answer_{w}" for w in re.findall(r'"answer_(accepted|endorsed)"', source)}
    missing = set(notifications.KINDS) - emitted
    assert not missing, f"kinds nothing emits: {sorted(missing)}"
