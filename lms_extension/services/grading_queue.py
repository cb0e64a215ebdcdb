"""Notebook submissions and the grading queue: the submission row is the queue.

A submission is stored first (``enqueue``), then graded by whichever worker claims it.
A claim is a lease: the worker must finish (or renew) before it expires, otherwise
another worker may take the job. Only the holder of the current lease can store a
result, so a worker that comes back late cannot overwrite a newer grading, and nothing
is graded twice.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..config import LMSConfig
from ..errors import InvalidInput, NotFound
from ..models import LessonVersion, NotebookSubmission, User
from ..models.base import utcnow
from ..models.submission import FAILED, GRADED, GRADING, QUEUED
from . import enrollments, feedback_release, notebooks, policies, progress

MAX_NOTEBOOK_BYTES = 5 * 1024 * 1024
MAX_CLAIMS = 3  # a job that killed its worker this often is failed, not retried forever


def enqueue(session: Session, user: User, slug: str, lesson_key: str, notebooks: dict) -> NotebookSubmission:
    course, lesson, _ = enrollments.lesson_access(session, user, slug, lesson_key)
    return enqueue_for_lesson(session, user, lesson, notebooks)


def enqueue_for_lesson(session: Session, user: User, lesson, notebooks: dict) -> NotebookSubmission:
    """Store a submission of ``lesson`` (access already checked) after the lesson's policy admits it."""
    if not isinstance(notebooks, dict) or set(notebooks) != {lesson.filename}:
        raise InvalidInput(f"send {{\"notebooks\": {{\"{lesson.filename}\": <notebook>}}}}")
    texts = {}
    for name, nb in notebooks.items():
        text = nb if isinstance(nb, str) else json.dumps(nb)
        if len(text.encode()) > MAX_NOTEBOOK_BYTES:
            raise InvalidInput(f"{name} is larger than {MAX_NOTEBOOK_BYTES // (1024 * 1024)} MB")
        try:
            parsed = json.loads(text)
        except ValueError:
            raise InvalidInput(f"{name} is not a notebook (invalid JSON)") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("cells"), list):
            raise InvalidInput(f"{name} is not a notebook (no cells)")
        texts[name] = text
    attempt = policies.admit(session, user, lesson)
    version = session.scalars(select(LessonVersion).where(LessonVersion.lesson_id == lesson.id)
                              .order_by(LessonVersion.number.desc()).limit(1)).one()
    submission = NotebookSubmission(user_id=user.id, lesson_id=lesson.id, lesson_version_id=version.id,
                                    notebooks=json.dumps(texts), status=QUEUED, submitted_at=utcnow(),
                                    attempt=attempt)
    session.add(submission)
    progress.record_open(session, user, lesson)
    session.flush()
    return submission


def _claimable(now: datetime):
    return or_(NotebookSubmission.status == QUEUED,
               and_(NotebookSubmission.status == GRADING, NotebookSubmission.lease_expires_at < now))


def claim(session: Session, worker: str,
          lease_seconds: float = LMSConfig.worker_lease_seconds.default_value) -> NotebookSubmission | None:
    """Take the oldest job that is queued or whose lease expired; None when there is none.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets many workers claim different rows at once.
    SQLite: the single UPDATE runs under the database's write lock, which serializes claims.
    """
    now = utcnow()
    candidate = (select(NotebookSubmission.id).where(_claimable(now))
                 .order_by(NotebookSubmission.id).limit(1).with_for_update(skip_locked=True)
                 .scalar_subquery())
    claimed = session.execute(
        update(NotebookSubmission)
        .where(NotebookSubmission.id == candidate, _claimable(now))
        .values(status=GRADING, lease_owner=worker, lease_expires_at=now + timedelta(seconds=lease_seconds),
                claims=NotebookSubmission.claims + 1, started_at=now)
        .returning(NotebookSubmission.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    session.commit()
    if claimed is None:
        return None
    job = session.get(NotebookSubmission, claimed, populate_existing=True)
    if job.claims > MAX_CLAIMS:
        job.status, job.error, job.finished_at = FAILED, f"grading stopped {MAX_CLAIMS} times; not retried", utcnow()
        job.lease_owner = None
        session.commit()
        return claim(session, worker, lease_seconds)
    return job


def _held(submission_id: int, worker: str, now: datetime):
    return and_(NotebookSubmission.id == submission_id, NotebookSubmission.status == GRADING,
                NotebookSubmission.lease_owner == worker, NotebookSubmission.lease_expires_at >= now)


def renew(session: Session, submission_id: int, worker: str,
          lease_seconds: float = LMSConfig.worker_lease_seconds.default_value) -> bool:
    now = utcnow()
    done = session.execute(update(NotebookSubmission).where(_held(submission_id, worker, now))
                           .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done == 1


def complete(session: Session, submission_id: int, worker: str, *, score: float, max_score: float,
             feedback: dict, autograded: dict[str, str] | None = None) -> bool:
    """Store the grade if ``worker`` still holds the lease; False when it lost it.

    ``score`` is the autograder's; the stored score also counts manual grades already given
    (kept across re-grades) and the lesson's late penalty.
    """
    submission = session.get(NotebookSubmission, submission_id)
    if submission is None:
        return False
    # against the student's own deadline (an extension), not only the lesson's
    penalty = policies.late_penalty_for(session, submission.user_id, submission.lesson_id, submission.submitted_at)
    manual = manual_adjustment(submission.manual_grades, feedback)
    now = utcnow()
    done = session.execute(update(NotebookSubmission).where(_held(submission_id, worker, now))
                           .values(status=GRADED, auto_score=score, manual_score=manual,
                                   late_penalty_percent=penalty,
                                   score=policies.final_score(score, manual, penalty), max_score=max_score,
                                   feedback=json.dumps(feedback),
                                   autograded=json.dumps(autograded) if autograded is not None else None,
                                   finished_at=now, lease_owner=None, lease_expires_at=None, error=None)
                           .execution_options(synchronize_session=False)).rowcount
    if done == 1:
        session.refresh(submission)
        if feedback_release.visible(submission, session):  # released on grading: the student is told
            feedback_release.announce(session, [submission])
    session.commit()
    if done == 1:  # lesson completion, XP, badges, certificate
        progress.after_notebook_graded(session, submission_id)
    return done == 1


def feedback_cells(feedback: dict | None) -> dict[tuple[str, str], dict]:
    """(notebook, grade_id) -> the autograder's result for that cell."""
    return {(nb.get("name"), cell.get("grade_id")): cell
            for nb in (feedback or {}).get("notebooks", []) for cell in nb.get("cells", [])}


def manual_adjustment(grades, feedback: dict | None) -> float | None:
    """What manual grades add to the autograder's score: a cell's manual points replace its
    automatic points (cells needing a manual grade have none). None when nothing was graded by hand."""
    cells = feedback_cells(feedback)
    total, any_points = 0.0, False
    for grade in grades:
        cell = cells.get((grade.notebook, grade.grade_id))
        if grade.points is None or cell is None:
            continue
        any_points = True
        total += grade.points - (cell.get("points") or 0.0)
    return round(total, 4) if any_points else None


def requeue(session: Session, ids: list[int], lesson_id: int) -> None:
    """Queue these submissions of a lesson again, against its newest version (a regrade)."""
    if not ids:
        return
    newest = session.scalars(select(LessonVersion.id).where(LessonVersion.lesson_id == lesson_id)
                             .order_by(LessonVersion.number.desc()).limit(1)).one()
    # a worker grading one of these loses its lease: complete() needs status "grading"
    session.execute(update(NotebookSubmission).where(NotebookSubmission.id.in_(ids))
                    .values(status=QUEUED, lesson_version_id=newest, lease_owner=None, lease_expires_at=None,
                            claims=0, error=None, finished_at=None, regrades=NotebookSubmission.regrades + 1)
                    .execution_options(synchronize_session=False))
    session.flush()


def apply_manual_grades(session: Session, submission: NotebookSubmission) -> None:
    """The final score after the submission's manual grades changed: auto + manual less the late penalty."""
    submission.manual_score = manual_adjustment(
        submission.manual_grades, json.loads(submission.feedback) if submission.feedback else None)
    submission.score = policies.final_score(submission.auto_score, submission.manual_score,
                                            submission.late_penalty_percent)
    session.flush()


def reprice_late(session: Session, user_id: int, lesson_id: int) -> int:
    """After the student's deadline for the lesson changed (``extensions.grant`` / ``remove``): the
    late penalty and final score of their graded submissions again. How many changed."""
    changed = 0
    for submission in session.scalars(select(NotebookSubmission).where(
            NotebookSubmission.user_id == user_id, NotebookSubmission.lesson_id == lesson_id,
            NotebookSubmission.status == GRADED)).all():
        penalty = policies.late_penalty_for(session, user_id, lesson_id, submission.submitted_at)
        if penalty == submission.late_penalty_percent:
            continue
        submission.late_penalty_percent = penalty
        submission.score = policies.final_score(submission.auto_score, submission.manual_score, penalty)
        progress.after_score_changed(session, submission)  # a higher score may complete the lesson
        changed += 1
    session.flush()
    return changed


def fail(session: Session, submission_id: int, worker: str, error: str) -> bool:
    now = utcnow()
    done = session.execute(update(NotebookSubmission).where(_held(submission_id, worker, now))
                           .values(status=FAILED, error=error[:2000], finished_at=now, lease_owner=None,
                                   lease_expires_at=None)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done == 1


@dataclass(frozen=True)
class GradingJob:
    """What a worker needs, detached from the session: the source stays server-side."""

    id: int
    source_notebooks: dict[str, str]
    submitted_notebooks: dict[str, str]


def job_for(submission: NotebookSubmission) -> GradingJob:
    version = submission.lesson_version
    return GradingJob(submission.id, {submission.lesson.filename: version.source_notebook},
                      json.loads(submission.notebooks))


def view(submission: NotebookSubmission) -> dict:
    """What the student sees: scores, per-cell results with the instructor's comments."""
    feedback = json.loads(submission.feedback) if submission.feedback else None
    if feedback is not None:
        manual = {(g.notebook, g.grade_id): g for g in submission.manual_grades}
        titles = notebooks.exercise_titles(submission.lesson_version.student_notebook)
        for nb in feedback.get("notebooks", []):
            for n, cell in enumerate(nb.get("cells", []), 1):
                cell["title"] = titles.get(cell.get("grade_id"), f"Part {n}")  # never the raw grade id
                grade = manual.get((nb.get("name"), cell.get("grade_id")))
                cell["manual_points"] = grade.points if grade is not None else None
                cell["comment"] = grade.comment if grade is not None and grade.comment else None
    return _unless_held(submission, {"id": submission.id, "lesson": submission.lesson.key, "status": submission.status,
            "attempt": submission.attempt,
            "submitted_at": submission.submitted_at.isoformat(),
            "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
            "score": submission.score, "max_score": submission.max_score,
            "auto_score": submission.auto_score, "manual_score": submission.manual_score,
            "late_penalty_percent": submission.late_penalty_percent,
            "feedback": feedback,
            "error": submission.error if submission.status == FAILED else None})


WITHHELD_FIELDS = ("score", "auto_score", "manual_score", "feedback")


def _unless_held(submission: NotebookSubmission, view: dict) -> dict:
    """A student's view without score, results and comments while the course holds its feedback."""
    released = feedback_release.visible(submission)
    return {**view, **({} if released else dict.fromkeys(WITHHELD_FIELDS)), "feedback_released": released}


def mark_feedback_released(session: Session, ids: list[int]) -> int:
    """Release the feedback of these graded submissions (``grading_admin.release_lesson`` chose
    them); those released before keep their time. How many were released now."""
    if not ids:
        return 0
    done = session.execute(update(NotebookSubmission)
                           .where(NotebookSubmission.id.in_(ids), NotebookSubmission.status == GRADED,
                                  NotebookSubmission.feedback_released_at.is_(None))
                           .values(feedback_released_at=utcnow())
                           .execution_options(synchronize_session=False)).rowcount
    session.flush()
    return done


def get_own(session: Session, user: User, submission_id: int) -> NotebookSubmission:
    submission = session.get(NotebookSubmission, submission_id)
    if submission is None or submission.user_id != user.id:
        raise NotFound(f"no submission {submission_id}")
    return submission


def submissions_for_lesson(session: Session, user: User, lesson_id: int, limit: int = 20) -> list[NotebookSubmission]:
    return list(session.scalars(
        select(NotebookSubmission).where(NotebookSubmission.user_id == user.id,
                                         NotebookSubmission.lesson_id == lesson_id)
        .order_by(NotebookSubmission.id.desc()).limit(limit)))


def my_lesson_submissions(session: Session, user: User, slug: str, lesson_key: str) -> dict:
    """The lesson's policy, where the student stands against it, and their submissions (newest first)."""
    _, lesson, _ = enrollments.lesson_access(session, user, slug, lesson_key)
    return {"course": slug, "lesson": lesson.key, **policies.standing(session, user, lesson),
            "submissions": [view(s) for s in submissions_for_lesson(session, user, lesson.id)]}
