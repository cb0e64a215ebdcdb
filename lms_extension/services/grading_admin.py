"""What a course's instructors do with notebook submissions: look, re-grade, grade by hand.

Every function starts from the course (or the submission's course) and checks that the user
teaches it (or is an admin) before touching anything else.

Re-grading re-queues a submission against the lesson's *newest* published version: after an
author fixes a test and publishes, "re-grade all" grades every submission with the fixed
tests. Manual grades and comments are kept across re-grades (they are keyed by cell).

The grading queue (``queue``) is every graded submission with a written answer or task still
without points, oldest first; ``neighbours`` walks it (next/previous ungraded). A course whose
feedback is held (``feedback_release``) shows students nothing of a grade until
``release_lesson``. Manual grades, re-grades, releases and policy changes are audited.
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
from ..models.grading import RELEASE_HELD, ManualGrade
from ..models.submission import GRADED
from . import audit, feedback_release, graded_notebook, grading_queue, notebooks, policies, progress

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
    # an id beyond the column's range is no submission (PostgreSQL would refuse the query)
    submission = session.get(NotebookSubmission, submission_id) if 0 < submission_id < 2**31 else None
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
            "lesson_title": s.lesson.title, "course_title": s.lesson.course.title,
            "student_name": s.user.display_name or s.user.hub_name,
            "feedback_released": feedback_release.visible(s, session),
            "cells": cells, "autograded": {name: json.loads(text) for name, text in autograded.items()}}


def notebook_view(detail_: dict) -> list[dict]:
    """The autograded notebooks of ``detail(...)`` cell by cell, rendered, each graded cell carrying
    its grade (``cell["grade"]``: the autograder's result, manual points and comment); graded cells
    the notebook lacks come last. ``[{"name", "cells", "unplaced"}]``."""
    by_key = {(c["notebook"], c["grade_id"]): c for c in detail_["cells"]}
    books, placed = [], set()
    for name, nb in detail_["autograded"].items():
        rendered = graded_notebook.cells(nb)
        for cell in rendered:
            grade = by_key.get((name, cell["grade_id"])) if cell["grade_id"] else None
            if grade is not None and (name, cell["grade_id"]) not in placed:
                cell["grade"] = grade
                placed.add((name, cell["grade_id"]))
        books.append({"name": name, "cells": rendered, "unplaced": []})
    rest = [c for key, c in by_key.items() if key not in placed]
    if rest:
        if not books:
            books.append({"name": "", "cells": [], "unplaced": []})
        books[-1]["unplaced"] = rest
    return books


def regrade(session: Session, user: User, submission_id: int) -> NotebookSubmission:
    """Queue one submission again, against the lesson's newest published version."""
    submission = taught_submission(session, user, submission_id)
    grading_queue.requeue(session, [submission.id], submission.lesson_id)
    audit.record(session, user, "grading.regrade", "submission", submission.id,
                 summary=f"re-graded submission {submission.id} of {submission.lesson.title}")
    session.refresh(submission)
    return submission


def regrade_lesson(session: Session, user: User, slug: str, lesson_key: str) -> int:
    """Queue every submission of a lesson again (after a test fix); returns how many."""
    lesson = _lesson(taught_course(session, user, slug), lesson_key)
    ids = list(session.scalars(select(NotebookSubmission.id).where(NotebookSubmission.lesson_id == lesson.id)))
    grading_queue.requeue(session, ids, lesson.id)
    if ids:
        audit.record(session, user, "grading.regrade_lesson", "lesson", lesson.id, after={"submissions": len(ids)},
                     summary=f"re-graded all {len(ids)} submission(s) of {lesson.title}")
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
    before = {f"{nb}:{gid}": {"points": g.points, "comment": g.comment} for (nb, gid), g in existing.items()}
    score_before = submission.score
    waiting_before = _needs_manual(submission)
    titles = notebooks.exercise_titles(submission.lesson_version.student_notebook)
    names = {key: titles.get(key[1], f"Part {n}") for n, key in enumerate(cells, 1)}
    checked = []  # every item is checked before any is applied: a refused save changes nothing
    for item in grades:
        if not isinstance(item, dict):
            raise InvalidInput("each grade must be an object")
        key = (item.get("notebook"), item.get("grade_id"))
        cell = cells.get(key) if all(isinstance(k, str) for k in key) else None
        if cell is None:
            raise InvalidInput("this submission has no such graded part: reload the page and try again")
        name, top = names[key], cell.get("max_points") or 0
        points = item.get("points")
        if points is not None:
            if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points):
                raise InvalidInput(f"{name}: points must be a number, or empty")
            if not 0 <= points <= top:
                raise InvalidInput(f"{name}: points must be between 0 and {top:g}")
        comment = item.get("comment") or ""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInput(f"{name}: the comment must be text of at most {MAX_COMMENT_CHARS:,} characters")
        checked.append((key, float(points) if points is not None else None, comment))
    for key, points, comment in checked:
        grade = existing.get(key)
        if grade is None:
            grade = ManualGrade(notebook=key[0], grade_id=key[1])
            submission.manual_grades.append(grade)
            existing[key] = grade
        if grade.points != points or grade.comment != comment:
            grade.grader_id, grade.updated_at = user.id, utcnow()
        grade.points, grade.comment = points, comment
    session.flush()
    grading_queue.apply_manual_grades(session, submission)
    after = {f"{g.notebook}:{g.grade_id}": {"points": g.points, "comment": g.comment}
             for g in submission.manual_grades}
    changed_before, changed_after = audit.changes(before, after)
    if changed_after:
        changed_before["score"], changed_after["score"] = score_before, submission.score
        audit.record(session, user, "grading.manual_grade", "submission", submission.id,
                     before=changed_before, after=changed_after,
                     summary=f"graded {len(changed_after) - 1} cell(s) of submission {submission.id} "
                             f"by {submission.user.hub_name}")
    # lesson completion, XP and badges follow the new score (same transaction)
    progress.after_score_changed(session, submission)
    if waiting_before and not _needs_manual(submission):  # the last hand-graded part got its points
        feedback_release.announce_manual_grading(session, submission)
    return submission


# the grading queue --------------------------------------------------------------------------
QUEUE_ATTEMPTS = ("latest", "all")


def _pending_manual(session: Session, lesson_ids: list[int]) -> list[NotebookSubmission]:
    """Graded submissions of these lessons with a written answer or task still without points,
    oldest first."""
    if not lesson_ids:
        return []
    candidates = session.scalars(
        select(NotebookSubmission)
        .where(NotebookSubmission.lesson_id.in_(lesson_ids), NotebookSubmission.status == GRADED,
               # the grader's JSON says so per cell; the exact check is _needs_manual
               NotebookSubmission.feedback.like('%"needs_manual_grade": true%'))
        .options(selectinload(NotebookSubmission.manual_grades), selectinload(NotebookSubmission.user))
        .order_by(NotebookSubmission.submitted_at, NotebookSubmission.id)).all()
    return [s for s in candidates if _needs_manual(s)]


def _latest_ids(session: Session, lesson_ids: list[int]) -> set[int]:
    """Each student's newest submission per lesson."""
    if not lesson_ids:
        return set()
    newest = (select(func.max(NotebookSubmission.id))
              .where(NotebookSubmission.lesson_id.in_(lesson_ids))
              .group_by(NotebookSubmission.user_id, NotebookSubmission.lesson_id))
    return set(session.scalars(newest))


def queue(session: Session, user: User, slug: str, *, lesson_key: str | None = None,
          attempts: str = "latest") -> dict:
    """The course's submissions that need a manual grade, oldest first, and per lesson: how many
    wait, how many are graded, how many graded ones are held from their students.

    ``attempts``: "latest" (each student's newest submission of a lesson, the default) or "all"."""
    course = taught_course(session, user, slug)
    if attempts not in QUEUE_ATTEMPTS:
        raise InvalidInput(f"attempts must be one of: {', '.join(QUEUE_ATTEMPTS)}")
    lessons = list(course.lessons)
    if lesson_key:
        lessons = [_lesson(course, lesson_key)]
    ids = [ls.id for ls in lessons]
    pending = _pending_manual(session, ids)
    if attempts == "latest":
        latest = _latest_ids(session, ids)
        pending = [s for s in pending if s.id in latest]
    held = feedback_release.held(session, course.id)
    counts = {row.lesson_id: row for row in session.execute(
        select(NotebookSubmission.lesson_id, func.count(NotebookSubmission.id).label("graded"),
               func.count(NotebookSubmission.feedback_released_at).label("released"))
        .where(NotebookSubmission.lesson_id.in_(ids), NotebookSubmission.status == GRADED)
        .group_by(NotebookSubmission.lesson_id))} if ids else {}
    waiting = {}
    for s in pending:
        waiting[s.lesson_id] = waiting.get(s.lesson_id, 0) + 1
    by_id = {ls.id: ls for ls in lessons}
    summary = []
    for ls in lessons:
        row = counts.get(ls.id)
        graded = row.graded if row else 0
        summary.append({"lesson": ls.key, "title": ls.title, "needs_grading": waiting.get(ls.id, 0),
                        "graded": graded, "held": (graded - (row.released if row else 0)) if held else 0})
    items = [{"id": s.id, "lesson": by_id[s.lesson_id].key, "lesson_title": by_id[s.lesson_id].title,
              "student": s.user.display_name or s.user.hub_name, "attempt": s.attempt,
              "submitted_at": s.submitted_at.isoformat(), "auto_score": s.auto_score, "max_score": s.max_score}
             for s in pending]
    return {"course": course, "feedback_release": feedback_release.policy(session, course.id),
            "lessons": summary, "submissions": items, "attempts": attempts, "lesson": lesson_key or None}


def neighbours(session: Session, user: User, submission_id: int) -> dict:
    """The previous and next submission of the course's grading queue (each student's newest
    submission per lesson still needing a manual grade), around this one; None at either end.
    ``first``: the queue's first other submission (where "next" goes when this one was last)."""
    submission = taught_submission(session, user, submission_id)
    course = submission.lesson.course
    ids = [ls.id for ls in course.lessons]
    latest = _latest_ids(session, ids)
    order = [s for s in _pending_manual(session, ids) if s.id in latest or s.id == submission.id]
    key = (submission.submitted_at, submission.id)
    before = [s.id for s in order if (s.submitted_at, s.id) < key]
    after = [s.id for s in order if (s.submitted_at, s.id) > key]
    others = [s.id for s in order if s.id != submission.id]
    return {"previous": before[-1] if before else None, "next": after[0] if after else None,
            "first": others[0] if others else None, "remaining": len(others)}


def set_release_policy(session: Session, user: User, slug: str, value: str) -> str:
    """Feedback "on_grading" or "held" for the whole course. Holding from now on keeps what
    students already saw: graded submissions are released as they stand."""
    course = taught_course(session, user, slug)
    if not isinstance(value, str):
        raise InvalidInput("feedback release must be one of: on_grading, held")
    before, after = feedback_release.store_policy(session, course.id, value)
    if before == after:
        return after
    if after == RELEASE_HELD:
        ids = list(session.scalars(select(NotebookSubmission.id).where(
            NotebookSubmission.lesson_id.in_([ls.id for ls in course.lessons]), NotebookSubmission.status == GRADED)))
        grading_queue.mark_feedback_released(session, ids)
    else:  # everything graded so far becomes visible: progress, XP and badges catch up
        shown = session.scalars(select(NotebookSubmission).where(
            NotebookSubmission.lesson_id.in_([ls.id for ls in course.lessons]),
            NotebookSubmission.status == GRADED, NotebookSubmission.feedback_released_at.is_(None))).all()
        _catch_up_progress(session, shown)
        feedback_release.announce(session, shown)
    audit.record(session, user, "grading.feedback_policy", "course", course.slug,
                 before={"feedback_release": before}, after={"feedback_release": after},
                 summary=f"feedback of {course.title}: {feedback_release.LABELS[after].lower()}")
    return after


def _catch_up_progress(session: Session, submissions) -> None:
    for s in submissions:
        progress.after_score_changed(session, s)


def release_lesson(session: Session, user: User, slug: str, lesson_key: str) -> dict:
    """Release the held feedback of a lesson's graded submissions to their students; those still
    needing a manual grade stay held. ``{"released", "still_ungraded"}``."""
    course = taught_course(session, user, slug)
    lesson = _lesson(course, lesson_key)
    unreleased = session.scalars(
        select(NotebookSubmission)
        .where(NotebookSubmission.lesson_id == lesson.id, NotebookSubmission.status == GRADED,
               NotebookSubmission.feedback_released_at.is_(None))
        .options(selectinload(NotebookSubmission.manual_grades))
        .order_by(NotebookSubmission.id)).all()
    ready = [s for s in unreleased if not _needs_manual(s)]
    released = grading_queue.mark_feedback_released(session, [s.id for s in ready])
    for s in ready:
        session.refresh(s)
    _catch_up_progress(session, ready)  # completion, XP, badges, certificates now count
    feedback_release.announce(session, ready)
    result = {"released": released, "still_ungraded": len(unreleased) - len(ready)}
    if released:
        audit.record(session, user, "grading.release_feedback", "lesson", lesson.id, after=result,
                     summary=f"released feedback of {released} submission(s) of {lesson.title}")
    return result
