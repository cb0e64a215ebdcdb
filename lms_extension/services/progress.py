"""Lesson and course progress: time from heartbeats, completion rules, resume and next lesson.

Completion rule: a lesson completes when each of its graded parts reaches the course's
pass threshold (``pass_threshold`` in course.toml, default 0.7):

* the lesson notebook (nbgrader graded cells): the best graded submission's score / max;
* every code challenge of the lesson: its best submission's passed / total tests;
* the lesson's quizzes together: the sum of each quiz's best score / their points.

A lesson without graded parts completes when the student opens it. A course completes
when all its lessons do; that issues the certificate. Completion is never taken back.

This module is the one writer of ``LessonProgress`` rows.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Forbidden, NotFound
from ..models import (Challenge, ChallengeSubmission, Course, Enrollment, Lesson, LessonProgress,
                      LessonVersion, NotebookSubmission, User)
from ..models.base import utcnow
from ..models.learning import CourseLearningSettings, Quiz, QuizAttempt
from ..models.user import ActivityClock
from ..models.submission import GRADED
from . import catalog, certificates, enrollments, feedback_release, gamification

log = logging.getLogger("lms.progress")
DEFAULT_PASS_THRESHOLD = 0.7
DEFAULT_IDLE_SECONDS = 300


def pass_threshold(session: Session, course_id: int) -> float:
    row = session.get(CourseLearningSettings, course_id)
    return row.pass_threshold if row is not None else DEFAULT_PASS_THRESHOLD


def _find(session: Session, user_id: int, lesson_id: int) -> LessonProgress | None:
    return session.scalars(select(LessonProgress).where(LessonProgress.user_id == user_id,
                                                        LessonProgress.lesson_id == lesson_id)).one_or_none()


def record_open(session: Session, user: User, lesson: Lesson) -> None:
    """The student opened the lesson or worked on it (a submission, a quiz answer): started."""
    row = _find(session, user.id, lesson.id)
    if row is not None:
        row.last_opened_at = utcnow()
        return
    try:
        with session.begin_nested():
            session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id))
    except IntegrityError:  # opened concurrently in another request
        pass


def _row(session: Session, user_id: int, lesson_id: int) -> LessonProgress:
    row = _find(session, user_id, lesson_id)
    if row is None:
        record_open(session, session.get(User, user_id), session.get(Lesson, lesson_id))
        row = _find(session, user_id, lesson_id)
    return row


def _enrolled_lesson(session: Session, user: User, slug: str, lesson_key: str) -> tuple[Course, Lesson, Enrollment]:
    """The lesson, only for a student enrolled in its course (free previews record nothing)."""
    course, lesson, enrollment = enrollments.lesson_access(session, user, slug, lesson_key)
    if enrollment is None:
        raise Forbidden(f"enroll in {course.title!r} to record progress")
    return course, lesson, enrollment


# heartbeats ---------------------------------------------------------------------------------
def heartbeat(session: Session, user: User, slug: str, lesson_key: str, *, seconds: float | None = None,
              now: datetime | None = None, idle_seconds: float = DEFAULT_IDLE_SECONDS) -> dict:
    """The student worked on the lesson for ``seconds`` since the last report, as the student's
    server measured it from the browser's activity pings (only the notebook in the visible tab,
    only while the student is active). Each report counts at most ``idle_seconds`` and at most
    the time since this lesson's previous report, so a repeated or inflated report cannot add
    more than the wall-clock time. A report without ``seconds`` (an older student server, which
    measured kernel activity and over-counted) marks the lesson active and adds no time."""
    course, lesson, enrollment = _enrolled_lesson(session, user, slug, lesson_key)
    now = now or utcnow()
    row = _row(session, user.id, lesson.id)
    previous = row.last_heartbeat_at
    claimed = max(0.0, min(float(seconds or 0), idle_seconds))
    if previous is not None:
        if previous.tzinfo is None:  # SQLite hands back naive UTC
            previous = previous.replace(tzinfo=now.tzinfo)
        gap = (now - previous).total_seconds()
        if gap <= 0:  # a replica's clock behind another's, or a duplicate: nothing to add
            now, claimed = previous, 0.0
        claimed = max(0.0, min(claimed, gap))
    gained = int(round(_spend(session, user.id, now, claimed, idle_seconds))) if claimed > 0 else 0
    # compare-and-set on the previous heartbeat: two replicas never count one gap twice
    done = session.execute(
        update(LessonProgress)
        .where(LessonProgress.id == row.id,
               LessonProgress.last_heartbeat_at.is_(None) if row.last_heartbeat_at is None
               else LessonProgress.last_heartbeat_at == row.last_heartbeat_at)
        .values(last_heartbeat_at=now, last_opened_at=now,
                seconds_spent=LessonProgress.seconds_spent + gained)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(row)
    enrollments.remember_lesson(enrollment, lesson)
    gamification.record_activity(session, user.id, now)
    refresh_lesson(session, user.id, lesson)
    return {**lesson_status(session, user.id, lesson, course), "counted_seconds": gained if done else 0}


def _spend(session: Session, user_id: int, now: datetime, claimed: float, idle_seconds: float) -> float:
    """How much of ``claimed`` the user's activity clock allows: across all their lessons, the time
    counted since any moment is at most the time since it (reports naming ten lessons at once
    count no more than one), and idle time earns at most ``idle_seconds`` of credit. A report
    racing another for the same user gets nothing rather than double counting."""
    floor = now - timedelta(seconds=idle_seconds)
    clock = session.get(ActivityClock, user_id)
    if clock is None:
        try:
            with session.begin_nested():
                session.add(ActivityClock(user_id=user_id, counted_until=floor))
        except IntegrityError:  # created by a concurrent report
            pass
        clock = session.get(ActivityClock, user_id)
    seen = clock.counted_until
    until = seen.replace(tzinfo=now.tzinfo) if seen.tzinfo is None else seen  # SQLite: naive UTC
    start = max(until, floor)
    allowed = max(0.0, min(claimed, (now - start).total_seconds()))
    if allowed <= 0:
        return 0.0
    done = session.execute(
        update(ActivityClock).where(ActivityClock.user_id == user_id, ActivityClock.counted_until == seen)
        .values(counted_until=start + timedelta(seconds=allowed))
        .execution_options(synchronize_session=False)).rowcount
    session.expire(clock)
    return allowed if done else 0.0


# completion ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    kind: str  # notebook | challenge | quizzes
    ref: str
    ratio: float  # best result so far, 0..1
    title: str  # what the student sees: "Exercises", the challenge's title, "Quizzes"

    def view(self, threshold: float) -> dict:
        return {"kind": self.kind, "ref": self.ref, "title": self.title, "score": round(self.ratio, 4),
                "passed": self.ratio >= threshold}


def _notebook_graded(session: Session, lesson: Lesson) -> bool:
    source = session.scalars(select(LessonVersion.source_notebook).where(LessonVersion.lesson_id == lesson.id)
                             .order_by(LessonVersion.number.desc()).limit(1)).first()
    if not source:
        return False
    try:
        cells = json.loads(source).get("cells", [])
    except ValueError:
        return False
    return any((c.get("metadata", {}).get("nbgrader") or {}).get("grade") for c in cells)


def graded_parts(session: Session, user_id: int, lesson: Lesson) -> list[Part]:
    parts: list[Part] = []
    if _notebook_graded(session, lesson):
        stmt = (select(func.max(NotebookSubmission.score / NotebookSubmission.max_score))
                .where(NotebookSubmission.user_id == user_id, NotebookSubmission.lesson_id == lesson.id,
                       NotebookSubmission.status == GRADED, NotebookSubmission.max_score > 0))
        if feedback_release.held(session, lesson.course_id):  # a held score counts once released
            stmt = stmt.where(NotebookSubmission.feedback_released_at.is_not(None))
        best = session.scalar(stmt)
        parts.append(Part("notebook", lesson.filename, float(best or 0.0), "Exercises"))
    challenges = session.scalars(select(Challenge).where(Challenge.lesson_id == lesson.id)
                                 .order_by(Challenge.position)).all()
    for ch in challenges:
        best = session.scalar(
            select(func.max(ChallengeSubmission.passed * 1.0 / ChallengeSubmission.total))
            .where(ChallengeSubmission.user_id == user_id, ChallengeSubmission.challenge_id == ch.id,
                   ChallengeSubmission.total > 0))
        parts.append(Part("challenge", ch.key, float(best or 0.0), ch.title or ch.key))
    quizzes = session.scalars(select(Quiz).where(Quiz.lesson_id == lesson.id)).all()
    if quizzes:
        points = sum(q.points for q in quizzes)
        best = dict(session.execute(
            select(QuizAttempt.quiz_id, func.max(QuizAttempt.score))
            .where(QuizAttempt.user_id == user_id, QuizAttempt.quiz_id.in_([q.id for q in quizzes]))
            .group_by(QuizAttempt.quiz_id)).all())
        parts.append(Part("quizzes", "quizzes", sum(best.values()) / points if points else 1.0, "Quizzes"))
    return parts


def refresh_lesson(session: Session, user_id: int, lesson: Lesson) -> bool:
    """Re-evaluate the completion rule after something happened; True when it just completed."""
    row = session.scalars(select(LessonProgress).where(LessonProgress.user_id == user_id,
                                                       LessonProgress.lesson_id == lesson.id)).one_or_none()
    if row is None or row.completed_at is not None:
        return False
    threshold = pass_threshold(session, lesson.course_id)
    parts = graded_parts(session, user_id, lesson)
    if not all(p.ratio >= threshold for p in parts):
        return False
    row.completed_at = utcnow()
    gamification.add_xp(session, user_id, "lesson", f"lesson:{lesson.id}", course_id=lesson.course_id)
    _course_changed(session, user_id, lesson.course_id)
    return True


def _course_changed(session: Session, user_id: int, course_id: int) -> None:
    course = session.get(Course, course_id)
    done, total = _completed_count(session, user_id, course)
    percent = 100 * done // total if total else 0
    for milestone in gamification.MILESTONES:
        if percent >= milestone:
            gamification.award(session, user_id, f"milestone-{milestone}", scope=course.slug, course_id=course.id)
    if total and done == total:
        enrolled = session.scalars(select(Enrollment.id).where(Enrollment.user_id == user_id,
                                                               Enrollment.course_id == course.id)).first()
        if enrolled is not None:
            certificates.issue(session, session.get(User, user_id), course)
            gamification.award(session, user_id, "first-course")


def _completed_count(session: Session, user_id: int, course: Course) -> tuple[int, int]:
    lesson_ids = [ls.id for ls in course.lessons]
    if not lesson_ids:
        return 0, 0
    done = session.scalar(select(func.count(LessonProgress.id)).where(
        LessonProgress.user_id == user_id, LessonProgress.lesson_id.in_(lesson_ids),
        LessonProgress.completed_at.is_not(None)))
    return int(done or 0), len(lesson_ids)


# hooks where scores are produced -------------------------------------------------------------
def after_notebook_graded(session: Session, submission_id: int) -> None:
    """Called by the grading queue once a grade is stored (its transaction already committed)."""
    try:
        sub = session.get(NotebookSubmission, submission_id, populate_existing=True)
        if sub is not None:
            after_score_changed(session, sub)
        session.commit()
    except Exception:  # the grade is stored already; progress catches up on the next event
        session.rollback()
        log.exception("updating progress after submission %s failed", submission_id)


def after_score_changed(session: Session, sub: NotebookSubmission) -> None:
    """A notebook submission's score was stored or changed (autograder, manual grades), in the
    caller's transaction: XP, badges, lesson completion, certificate."""
    if sub.status != GRADED or not sub.max_score or sub.score is None:
        return
    if not feedback_release.visible(sub, session):  # held: XP and badges would tell the score
        return
    lesson = sub.lesson
    if sub.score / sub.max_score >= pass_threshold(session, lesson.course_id):
        gamification.add_xp(session, sub.user_id, "exercise", f"notebook:{lesson.id}", course_id=lesson.course_id)
        gamification.award(session, sub.user_id, "first-exercise")
    if sub.score >= sub.max_score:
        gamification.award(session, sub.user_id, "perfect-score")
    gamification.record_activity(session, sub.user_id, sub.submitted_at)
    refresh_lesson(session, sub.user_id, lesson)


def after_challenge_submission(session: Session, user: User, challenge: Challenge, submission: ChallengeSubmission) -> None:
    """Called when a challenge submission is recorded (in the caller's transaction)."""
    lesson = challenge.lesson
    if submission.status == "passed":
        gamification.add_xp(session, user.id, "challenge", f"challenge:{challenge.id}", course_id=lesson.course_id)
        gamification.award(session, user.id, "first-exercise")
    gamification.record_activity(session, user.id)
    refresh_lesson(session, user.id, lesson)


# views --------------------------------------------------------------------------------------
def lesson_status(session: Session, user_id: int, lesson: Lesson, course: Course | None = None) -> dict:
    course = course or lesson.course
    row = session.scalars(select(LessonProgress).where(LessonProgress.user_id == user_id,
                                                       LessonProgress.lesson_id == lesson.id)).one_or_none()
    threshold = pass_threshold(session, course.id)
    return {
        "course": course.slug, "lesson": lesson.key, "title": lesson.title,
        "started": row is not None,
        "completed": bool(row and row.completed_at),
        "completed_at": row.completed_at.isoformat() if row and row.completed_at else None,
        "seconds_spent": row.seconds_spent if row else 0,
        "pass_threshold": threshold,
        "parts": [p.view(threshold) for p in graded_parts(session, user_id, lesson)],
    }


def course_progress(session: Session, user: User, slug: str) -> dict:
    course = catalog.get_course(session, slug, viewer=user)
    enrollment = enrollments.find_enrollment(session, user, course)
    if enrollment is None:
        raise NotFound(f"you are not enrolled in {course.title!r}")
    return _course_view(session, user, course, enrollment)


def _course_view(session: Session, user: User, course: Course, enrollment: Enrollment) -> dict:
    rows = {r.lesson_id: r for r in session.scalars(select(LessonProgress).where(
        LessonProgress.user_id == user.id, LessonProgress.lesson_id.in_([ls.id for ls in course.lessons] or [0])))}
    lessons = []
    for ls in course.lessons:
        r = rows.get(ls.id)
        lessons.append({"lesson": ls.key, "title": ls.title, "started": r is not None,
                        "completed": bool(r and r.completed_at), "seconds_spent": r.seconds_spent if r else 0})
    done = sum(1 for x in lessons if x["completed"])
    total = len(lessons)
    resume = enrollments.resume_lesson(course, enrollment)
    nxt = next((x for x in lessons if not x["completed"]), None)
    cert = certificates.for_user_course(session, user.id, course.id)
    return {
        "course": course.slug, "title": course.title,
        "percent": round(100 * done / total) if total else 0,
        "completed_lessons": done, "total_lessons": total,
        "seconds_spent": sum(x["seconds_spent"] for x in lessons),
        "resume": resume.key if resume else None,
        "next": nxt["lesson"] if nxt else None,
        "completed": bool(total) and done == total,
        "certificate": cert.uid if cert is not None else None,
        "lessons": lessons,
    }


def my_progress(session: Session, user: User) -> list[dict]:
    return [_course_view(session, user, e.course, e) for e in enrollments.enrollments_for(session, user)]


def started_counts(session: Session, user: User, course_ids: list[int]) -> dict[int, int]:
    """Lessons started per course."""
    if not course_ids:
        return {}
    rows = session.execute(
        select(Lesson.course_id, func.count(LessonProgress.id))
        .join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
        .where(LessonProgress.user_id == user.id, Lesson.course_id.in_(course_ids))
        .group_by(Lesson.course_id)
    )
    return dict(rows.all())
