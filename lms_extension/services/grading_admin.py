"""What a course's instructors do with notebook submissions: look, re-grade, grade by hand.

Every function starts from the course (or the submission's course) and checks that the user
teaches it (or is an admin) before touching anything else.

Re-grading re-queues a submission against the lesson's *newest* published version: after an
author fixes a test and publishes, "re-grade all" grades every submission with the fixed
tests. Manual grades and comments are kept across re-grades (they are keyed by cell).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import permissions
from ..errors import InvalidInput, NotFound
from ..models import Course, Lesson, NotebookSubmission, User
from ..models.base import utcnow
from ..models.grading import ManualGrade
from ..models.submission import GRADED
from . import grading_queue, notebooks, policies, progress

MAX_COMMENT_CHARS = 10_000


def taught_course(session: Session, user: User, slug: str) -> Course:
    """The course ``slug`` if ``user`` teaches it or is an admin."""
    course = session.scalars(select(Course).where(Course.slug == slug)).one_or_none()
    if course is None:
        raise NotFound(f"no course {slug!r}")
    permissions.require_teacher(user, course, "only the course's instructors and admins can see its submissions")
    return course


def _lesson(course: Course, lesson_key: str) -> Lesson:
    lesson = next((ls for ls in course.lessons if ls.key == lesson_key), None)
    if lesson is None:
        raise NotFound(f"course {course.slug!r} has no lesson {lesson_key!r}")
    return lesson


def taught_submission(session: Session, user: User, submission_id: int) -> NotebookSubmission:
    submission = session.get(NotebookSubmission, submission_id)
    if submission is None:
        raise NotFound(f"no submission {submission_id}")
    permissions.require_teacher(user, submission.lesson.course,
                                "only the course's instructors and admins can see this submission")
    return submission


def course_overview(session: Session, user: User, slug: str) -> tuple[Course, list[dict]]:
    """Per lesson: how many submissions, how many students, how many still to grade by hand."""
    course = taught_course(session, user, slug)
    ids = [ls.id for ls in course.lessons]
    counts = {row.lesson_id: row for row in session.execute(
        select(NotebookSubmission.lesson_id, func.count(NotebookSubmission.id).label("submissions"),
               func.count(func.distinct(NotebookSubmission.user_id)).label("students"),
               func.avg(NotebookSubmission.score).label("average"))
        .where(NotebookSubmission.lesson_id.in_(ids)).group_by(NotebookSubmission.lesson_id))}
    rows = []
    for lesson in course.lessons:
        row = counts.get(lesson.id)
        rows.append({"lesson": lesson, "policy": policies.view(policies.for_lesson(session, lesson.id)),
                     "submissions": row.submissions if row else 0, "students": row.students if row else 0,
                     "average": row.average if row else None})
    return course, rows


@dataclass
class SubmissionRow:
    submission: NotebookSubmission
    student: str
    needs_manual_grade: bool


def lesson_submissions(session: Session, user: User, slug: str, lesson_key: str
                       ) -> tuple[Course, Lesson, list[SubmissionRow]]:
    course = taught_course(session, user, slug)
    lesson = _lesson(course, lesson_key)
    subs = session.scalars(
        select(NotebookSubmission).where(NotebookSubmission.lesson_id == lesson.id)
        .options(selectinload(NotebookSubmission.user), selectinload(NotebookSubmission.manual_grades),
                 selectinload(NotebookSubmission.lesson_version))
        .order_by(NotebookSubmission.user_id, NotebookSubmission.id.desc())).all()
    return course, lesson, [SubmissionRow(s, s.user.hub_name, _needs_manual(s)) for s in subs]


def _needs_manual(submission: NotebookSubmission) -> bool:
    graded = {(g.notebook, g.grade_id) for g in submission.manual_grades if g.points is not None}
    return any(cell.get("needs_manual_grade") and key not in graded
               for key, cell in grading_queue.feedback_cells(
                   json.loads(submission.feedback) if submission.feedback else None).items())


def row_view(row: SubmissionRow) -> dict:
    s = row.submission
    return {"id": s.id, "student": row.student, "attempt": s.attempt, "status": s.status,
            "lesson_version": s.lesson_version.number, "submitted_at": s.submitted_at.isoformat(),
            "auto_score": s.auto_score, "manual_score": s.manual_score,
            "late_penalty_percent": s.late_penalty_percent, "score": s.score, "max_score": s.max_score,
            "needs_manual_grade": row.needs_manual_grade, "regrades": s.regrades}


def detail(session: Session, user: User, submission_id: int) -> dict:
    """Everything an instructor sees of one submission, hidden-test results included."""
    s = taught_submission(session, user, submission_id)
    autograded = json.loads(s.autograded) if s.autograded else {}
    feedback = json.loads(s.feedback) if s.feedback else None
    manual = {(g.notebook, g.grade_id): g for g in s.manual_grades}
    titles = notebooks.exercise_titles(s.lesson_version.student_notebook)
    cells = []
    for n, ((notebook, grade_id), cell) in enumerate(grading_queue.feedback_cells(feedback).items(), 1):
        grade = manual.get((notebook, grade_id))
        cells.append({**cell, "notebook": notebook, "title": titles.get(grade_id, f"Part {n}"),
                      "manual_points": grade.points if grade else None,
                      "comment": grade.comment if grade else ""})
    return {**row_view(SubmissionRow(s, s.user.hub_name, _needs_manual(s))),
            "course": s.lesson.course.slug, "lesson": s.lesson.key, "error": s.error,
            "cells": cells, "autograded": {name: json.loads(text) for name, text in autograded.items()}}


def regrade(session: Session, user: User, submission_id: int) -> NotebookSubmission:
    """Queue one submission again, against the lesson's newest published version."""
    submission = taught_submission(session, user, submission_id)
    grading_queue.requeue(session, [submission.id], submission.lesson_id)
    session.refresh(submission)
    return submission


def regrade_lesson(session: Session, user: User, slug: str, lesson_key: str) -> int:
    """Queue every submission of a lesson again (after a test fix); returns how many."""
    lesson = _lesson(taught_course(session, user, slug), lesson_key)
    ids = list(session.scalars(select(NotebookSubmission.id).where(NotebookSubmission.lesson_id == lesson.id)))
    grading_queue.requeue(session, ids, lesson.id)
    return len(ids)


def save_manual_grades(session: Session, user: User, submission_id: int, grades) -> NotebookSubmission:
    """Store points and comments per cell; the final score becomes auto + manual less the late penalty.

    ``grades``: a list of ``{"notebook", "grade_id", "points" (number or null), "comment"}``.
    """
    submission = taught_submission(session, user, submission_id)
    if submission.status != GRADED:
        raise InvalidInput(f"submission {submission_id} is {submission.status}; grade it by hand once the "
                           "autograder has finished")
    if not isinstance(grades, list) or not grades:
        raise InvalidInput('send {"grades": [{"notebook", "grade_id", "points", "comment"}, ...]}')
    cells = grading_queue.feedback_cells(json.loads(submission.feedback) if submission.feedback else None)
    existing = {(g.notebook, g.grade_id): g for g in submission.manual_grades}
    for item in grades:
        if not isinstance(item, dict):
            raise InvalidInput("each grade must be an object")
        key = (item.get("notebook"), item.get("grade_id"))
        cell = cells.get(key)
        if cell is None:
            raise InvalidInput(f"submission {submission_id} has no graded cell {key[1]!r} in {key[0]!r}")
        points = item.get("points")
        if points is not None:
            if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points):
                raise InvalidInput(f"{key[1]}: points must be a number or null")
            if not 0 <= points <= (cell.get("max_points") or 0):
                raise InvalidInput(f"{key[1]}: points must be between 0 and {cell.get('max_points') or 0:g}")
        comment = item.get("comment") or ""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInput(f"{key[1]}: comment must be text of at most {MAX_COMMENT_CHARS} characters")
        grade = existing.get(key)
        if grade is None:
            grade = ManualGrade(notebook=key[0], grade_id=key[1])
            submission.manual_grades.append(grade)
            existing[key] = grade
        grade.points = float(points) if points is not None else None
        grade.comment, grade.grader_id, grade.updated_at = comment, user.id, utcnow()
    session.flush()
    grading_queue.apply_manual_grades(session, submission)
    # lesson completion, XP and badges follow the new score (same transaction)
    progress.after_score_changed(session, submission)
    return submission
