"""When students see their grades: a course's feedback is released on grading (the default) or held
until an instructor releases it, lesson by lesson.

Owner of ``course_grading_settings``. A submission's feedback (score, per-cell results, comments,
the feedback notebook) is visible to its student when the course releases on grading, or once
``notebook_submissions.feedback_released_at`` is set (``grading_admin.release_lesson`` stamps it
through ``grading_queue.mark_feedback_released``). Every student-facing path asks ``visible``:
``grading_queue.view`` (lesson page, REST API, the JupyterLab sidebar), ``exchange`` (nbgrader
feedback), ``progress`` (completion, XP, badges, certificates wait for the release too).

Reads only models: ``grading_queue`` and ``progress`` import it. ``announce`` tells students
their feedback became visible (``grade_released`` notifications); ``announce_manual_grading`` that
an instructor finished grading their work by hand (``manual_grade_done``).
"""
from __future__ import annotations

from sqlalchemy.orm import Session, object_session

from ..errors import InvalidInput
from ..models.base import utcnow
from ..models.grading import FEEDBACK_RELEASES, RELEASE_HELD, RELEASE_ON_GRADING, CourseGradingSettings
from . import notifications

LABELS = {RELEASE_ON_GRADING: "Released on grading", RELEASE_HELD: "Held until I release it"}


def policy(session: Session, course_id: int) -> str:
    row = session.get(CourseGradingSettings, course_id)
    return row.feedback_release if row is not None else RELEASE_ON_GRADING


def held(session: Session, course_id: int) -> bool:
    return policy(session, course_id) == RELEASE_HELD


def visible(submission, session: Session | None = None) -> bool:
    """Whether the submission's student may see its score, results and comments."""
    if submission.feedback_released_at is not None:
        return True
    session = session or object_session(submission)
    return session is None or not held(session, submission.lesson.course_id)


def store_policy(session: Session, course_id: int, value: str) -> tuple[str, str]:
    """Set the course's release policy (the caller checked the user and records the audit entry);
    returns (before, after)."""
    if value not in FEEDBACK_RELEASES:
        raise InvalidInput(f"feedback release must be one of: {', '.join(FEEDBACK_RELEASES)}")
    row = session.get(CourseGradingSettings, course_id)
    before = row.feedback_release if row is not None else RELEASE_ON_GRADING
    if row is None:
        row = CourseGradingSettings(course_id=course_id)
        session.add(row)
    row.feedback_release, row.updated_at = value, utcnow()
    session.flush()
    return before, value


def announce(session: Session, submissions) -> None:
    """Tell each submission's student that its grade and feedback are visible now (once per
    submission), in the caller's transaction."""
    for s in submissions:
        lesson = s.lesson
        notifications.notify(
            session, user_ids=[s.user_id], kind="grade_released", title=f"Your grade for {lesson.title} is out",
            body=f"Your submission scored {s.score:g} of {s.max_score:g}." if s.score is not None and s.max_score else "",
            url=f"courses/{lesson.course.slug}/lessons/{lesson.key}", dedupe_key=f"grade:{s.id}")


def announce_manual_grading(session: Session, submission) -> bool:
    """Tell the student that the last hand-graded part of their submission has its points. Only
    when its feedback is visible: held feedback is announced once, by ``announce`` at its release
    (one notice for one event). Once per submission; True when told now or before."""
    if not visible(submission, session):
        return False
    lesson = submission.lesson
    score = submission.score
    notifications.notify(
        session, user_ids=[submission.user_id], kind="manual_grade_done",
        title=f"Your {lesson.title} is graded by hand",
        body=f"Your submission now scores {score:g} of {submission.max_score:g}."
        if score is not None and submission.max_score else "",
        url=f"courses/{lesson.course.slug}/lessons/{lesson.key}", dedupe_key=f"manual-grade:{submission.id}")
    return True
