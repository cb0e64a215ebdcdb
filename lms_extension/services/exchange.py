"""The LMS side of the nbgrader Exchange: what ``nbgrader list/fetch_assignment/submit/
fetch_feedback`` (and JupyterLab's Assignments panel) see, with no shared filesystem.

course_id is the course slug, assignment_id the lesson key; a student sees the lessons of
every course they are enrolled in. Fetching gives the student version only; submitting goes
through ``grading_queue.enqueue`` exactly like the LMS's Submit button.
"""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import Course, Enrollment, Lesson, NotebookSubmission, User
from ..models.course import SLUG
from ..models.submission import GRADED
from . import enrollments, feedback, feedback_release, grading_queue, lessons, policies
from .payments import access as paid_access

MAX_ACCESS_CHECKS = 500


def _check_id(value: str | None, what: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not SLUG.match(value):
        raise InvalidInput(f"{what} must be an id (a-z, 0-9, -)")
    return value


def list_assignments(session: Session, user: User, course_id: str | None = None) -> list[dict]:
    """Every lesson of the courses ``user`` is enrolled in (one course with ``course_id``)."""
    course_id = _check_id(course_id, "course_id")
    stmt = (select(Course).join(Enrollment, Enrollment.course_id == Course.id)
            .where(Enrollment.user_id == user.id).options(selectinload(Course.lessons))
            .order_by(Course.slug))
    if course_id:
        stmt = stmt.where(Course.slug == course_id)
    out = []
    for course in session.scalars(stmt):
        for lesson in course.lessons:
            out.append({"course_id": course.slug, "assignment_id": lesson.key, "title": lesson.title,
                        "notebooks": [lesson.filename],
                        "policy": policies.view_for(session, user.id, lesson.id)})  # their own deadline
    return out


def fetch(session: Session, user: User, course_id: str, assignment_id: str) -> dict:
    """The student version of an assignment's notebooks (never the source)."""
    delivery = lessons.deliver(session, user, _check_id(course_id, "course_id"),
                               _check_id(assignment_id, "assignment_id"))
    return {"course_id": delivery.course_slug, "assignment_id": delivery.lesson_key,
            "version": delivery.version, "notebooks": {delivery.filename: delivery.notebook}}


def lesson_access(session: Session, user: User, lessons_asked) -> list[dict]:
    """May the student still open these lessons (``[{"course": slug, "lesson": key}]``)?

    The student's server asks this about the lessons in their home and locks the ones answered
    ``access: false`` (a refunded purchase, an enrollment taken back). ``access: null`` means
    the LMS does not know the lesson any more (removed, course unpublished): left alone."""
    if not isinstance(lessons_asked, list) or len(lessons_asked) > MAX_ACCESS_CHECKS:
        raise InvalidInput(f'send {{"lessons": [{{"course": <slug>, "lesson": <id>}}, ...]}} '
                           f"(at most {MAX_ACCESS_CHECKS})")
    out, denied = [], {}
    for item in lessons_asked:
        if not isinstance(item, dict):
            raise InvalidInput('each of "lessons" is {"course": <slug>, "lesson": <id>}')
        slug = _check_id(item.get("course"), "course")
        key = _check_id(item.get("lesson"), "lesson")
        if slug is None or key is None:
            raise InvalidInput('each of "lessons" is {"course": <slug>, "lesson": <id>}')
        answer = {"course": slug, "lesson": key, "access": True, "message": None}
        try:
            enrollments.lesson_access(session, user, slug, key)
        except NotFound:
            answer["access"] = None
        except Forbidden:
            answer["access"] = False
            course = _course(session, slug)
            if course is not None:
                denied.setdefault(course.id, (course, []))[1].append(answer)
        out.append(answer)
    ended = paid_access.ended_purchases(session, user.id, list(denied))
    for course_id, (course, answers) in denied.items():
        status, when = ended.get(course_id, (None, None))
        if status == "refunded":
            why = f"Your purchase of {course.title!r} was refunded on {when:%Y-%m-%d}"
        elif status is not None:
            why = f"Your access to {course.title!r} ended on {when:%Y-%m-%d} ({status})"
        else:
            why = f"You are not enrolled in {course.title!r}"
        for answer in answers:
            answer["message"] = (f"{why}, so this lesson's notebook was replaced by this notice. "
                                 "Enroll in the course again to get the lesson back.")
    return out


def _course(session: Session, slug: str) -> Course | None:
    return session.scalars(select(Course).where(Course.slug == slug)).one_or_none()


def submit(session: Session, user: User, course_id: str, assignment_id: str, notebooks) -> NotebookSubmission:
    return grading_queue.enqueue(session, user, _check_id(course_id, "course_id"),
                                 _check_id(assignment_id, "assignment_id"), notebooks)


def _submission_view(submission: NotebookSubmission) -> dict:
    lesson = submission.lesson
    released = feedback_release.visible(submission)  # held feedback: no score, no feedback file yet
    return {"id": submission.id, "course_id": lesson.course.slug, "assignment_id": lesson.key,
            "status": submission.status, "attempt": submission.attempt,
            "submitted_at": submission.submitted_at.isoformat(),
            "score": submission.score if released else None, "max_score": submission.max_score,
            "notebooks": [lesson.filename],
            "has_feedback": submission.status == GRADED and bool(submission.autograded) and released,
            "feedback_digest": feedback.digest(submission) if submission.status == GRADED and released else None}


def list_submissions(session: Session, user: User, course_id: str | None = None,
                     assignment_id: str | None = None) -> list[dict]:
    """My submissions, oldest first (nbgrader lists them by timestamp)."""
    course_id = _check_id(course_id, "course_id")
    assignment_id = _check_id(assignment_id, "assignment_id")
    stmt = (select(NotebookSubmission).join(Lesson, Lesson.id == NotebookSubmission.lesson_id)
            .join(Course, Course.id == Lesson.course_id)
            .where(NotebookSubmission.user_id == user.id)
            .options(selectinload(NotebookSubmission.manual_grades))
            .order_by(NotebookSubmission.id))
    if course_id:
        stmt = stmt.where(Course.slug == course_id)
    if assignment_id:
        stmt = stmt.where(Lesson.key == assignment_id)
    return [_submission_view(s) for s in session.scalars(stmt)]


def feedback_files(session: Session, user: User, submission_id: int) -> dict:
    """``{"<notebook_id>.html": html}`` of one of my graded submissions."""
    submission = grading_queue.get_own(session, user, submission_id)
    if submission.status != GRADED:
        raise Conflict(f"submission {submission_id} is {submission.status}: no feedback yet")
    if not feedback_release.visible(submission):
        raise Conflict("your instructor has not released the feedback on this submission yet")
    files = {}
    for name in json.loads(submission.notebooks):
        html = feedback.feedback_html(submission, name)
        if html is not None:
            files[name.rsplit(".", 1)[0] + ".html"] = html
    if not files:
        raise NotFound(f"submission {submission_id} has no feedback notebook")
    return {**_submission_view(submission), "files": files}
