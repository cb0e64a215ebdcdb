"""Deadlines as each student has them, and the "deadline in 24 h" reminder.

A student's own deadline for a lesson is the lesson's (``lesson_policies``) or the later one an
instructor granted them (``deadline_extensions``), as ``policies.effective_deadline`` says. Reads
those tables, enrollments and submissions; writes nothing of its own: the reminder is a
notification whose dedupe key names the lesson and the deadline, so each enrolled student with the
work not handed in is told once per deadline however often ``lms worker``'s job runs (and a new
deadline, after an extension, gets its own reminder). The digest lists the same deadlines.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..models import Course, Enrollment, Lesson, NotebookSubmission
from ..models.base import utcnow
from ..models.grading import LessonPolicy
from ..models.roster import DeadlineExtension
from ..models.submission import FAILED
from . import notifications

REMINDER_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class OwnDeadline:
    user_id: int
    course: Course
    lesson: Lesson
    deadline: datetime  # UTC, the student's own (an extension included)
    extended: bool


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def own_deadlines(session: Session, start: datetime, end: datetime, *, user_ids=None) -> list[OwnDeadline]:
    """Enrolled students' own deadlines in (start, end], soonest first; ``user_ids`` narrows to them."""
    found: dict[tuple[int, int], OwnDeadline] = {}
    # the lesson's deadline, for enrolled students without a (later) extension of their own
    lessons = select(Enrollment.user_id, Lesson, Course, LessonPolicy.deadline, DeadlineExtension.deadline) \
        .join(Course, Course.id == Enrollment.course_id) \
        .join(Lesson, Lesson.course_id == Course.id) \
        .join(LessonPolicy, LessonPolicy.lesson_id == Lesson.id) \
        .outerjoin(DeadlineExtension, and_(DeadlineExtension.lesson_id == Lesson.id,
                                           DeadlineExtension.user_id == Enrollment.user_id))
    by_lesson = lessons.where(LessonPolicy.deadline > start, LessonPolicy.deadline <= end)
    by_extension = lessons.where(DeadlineExtension.deadline > start, DeadlineExtension.deadline <= end)
    if user_ids is not None:
        ids = list(user_ids)
        by_lesson = by_lesson.where(Enrollment.user_id.in_(ids))
        by_extension = by_extension.where(Enrollment.user_id.in_(ids))
    for query in (by_lesson, by_extension):
        for user_id, lesson, course, lesson_deadline, extension in session.execute(query):
            own = max(_aware(lesson_deadline), _aware(extension)) if extension is not None else _aware(lesson_deadline)
            if start < own <= end:
                found[(user_id, lesson.id)] = OwnDeadline(user_id, course, lesson, own,
                                                          own != _aware(lesson_deadline))
    return sorted(found.values(), key=lambda d: (d.deadline, d.lesson.id, d.user_id))


def handed_in(session: Session, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of the (user, lesson) pairs, those with a submission queued, grading or graded."""
    if not pairs:
        return set()
    users = {u for u, _ in pairs}
    lessons = {ls for _, ls in pairs}
    rows = session.execute(select(NotebookSubmission.user_id, NotebookSubmission.lesson_id).where(
        NotebookSubmission.user_id.in_(users), NotebookSubmission.lesson_id.in_(lessons),
        NotebookSubmission.status != FAILED).distinct())
    return {(u, ls) for u, ls in rows} & pairs


def unfinished(session: Session, start: datetime, end: datetime, *, user_ids=None) -> list[OwnDeadline]:
    """``own_deadlines`` whose work the student has not handed in."""
    due = own_deadlines(session, start, end, user_ids=user_ids)
    done = handed_in(session, {(d.user_id, d.lesson.id) for d in due})
    return [d for d in due if (d.user_id, d.lesson.id) not in done]


def when(moment: datetime) -> str:
    return _aware(moment).astimezone(timezone.utc).strftime("%a %d %b %Y, %H:%M UTC")


def send_reminders(session: Session, now: datetime | None = None) -> int:
    """Tell each enrolled student whose own deadline is at most 24 hours away, with the work not
    handed in; once per student and deadline (the notification's dedupe key). How many were told
    now (in the bell; those told before are not counted)."""
    now = now or utcnow()
    told = 0
    for d in unfinished(session, now, now + REMINDER_WINDOW):
        own = " (your extended deadline)" if d.extended else ""
        made = notifications.notify(
            session, user_ids=[d.user_id], kind="deadline_24h",
            title=f"{d.lesson.title} is due within 24 hours",
            body=f"{d.course.title}: hand in {d.lesson.title} by {when(d.deadline)}{own}.",
            url=f"courses/{d.course.slug}/lessons/{d.lesson.key}",
            dedupe_key=f"deadline:{d.lesson.id}:{d.deadline.strftime('%Y%m%dT%H%M%S')}")
        told += made["in_app"]
    return told
