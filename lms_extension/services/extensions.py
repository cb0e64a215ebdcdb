"""Per-student deadline extensions: the owner of ``deadline_extensions``.

An instructor (or an admin) gives one student a later deadline for one lesson. From then on
``policies.effective_deadline`` answers with it, so the grader's late penalty, the submission
checks and the student's lesson page and JupyterLab sidebar all use the student's own deadline.
Granting, changing or removing one re-prices the student's graded submissions of the lesson
(``grading_queue.reprice_late``) and leaves an audit entry, in the same transaction.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import InvalidInput, NotFound
from ..models import Course, Enrollment, Lesson, User
from ..models.base import utcnow
from ..models.course import SLUG
from ..models.roster import DeadlineExtension
from . import audit, grading_queue, policies

MAX_REASON_CHARS = 500
MAX_EXTENSION = timedelta(days=366)  # a year after the lesson's deadline at most
DEADLINE_EXAMPLE = "2026-12-20T23:59"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def parse_deadline(raw) -> datetime:
    """A new deadline as typed: ``YYYY-MM-DDTHH:MM`` (a form's date and time, in UTC) or an ISO 8601
    date-time with its time zone; returned in UTC."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(f"give the new deadline as a date and time, e.g. {DEADLINE_EXAMPLE} (UTC)")
    text = raw.strip()
    if len(text) > 40:
        raise InvalidInput(f"the new deadline is not a date and time like {DEADLINE_EXAMPLE}")
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise InvalidInput(f"the new deadline {text!r} is not a date and time like {DEADLINE_EXAMPLE}") from None
    if "T" not in text.upper() and " " not in text:
        raise InvalidInput(f"the new deadline needs a time of day too, e.g. {DEADLINE_EXAMPLE}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _plain_name(value) -> bool:
    """A name the database can be asked about (PostgreSQL refuses a NUL in a parameter: a 500)."""
    return isinstance(value, str) and 0 < len(value) <= 255 and not re.search(r"[\x00-\x1f\x7f]", value)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _scope(session: Session, actor: User, slug: str, username: str, lesson_key: str | None
           ) -> tuple[Course, User, Lesson | None]:
    """The course (taught by ``actor``), its enrolled student ``username`` and its lesson."""
    course = session.scalars(select(Course).where(Course.slug == slug)).one_or_none() \
        if isinstance(slug, str) and SLUG.match(slug) else None
    if course is None:
        raise NotFound(f"no course {str(slug)[:100]!r}")
    permissions.require_teacher(actor, course, "only the course's instructor or an admin can change "
                                               "its students' deadlines")
    student = session.scalars(
        select(User).join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id, User.hub_name == username)).one_or_none() \
        if _plain_name(username) else None
    if student is None:
        raise NotFound(f"no student {str(username)[:100]!r} in {course.title!r}")
    lesson = None
    if lesson_key is not None:
        lesson = next((ls for ls in course.lessons if isinstance(lesson_key, str) and ls.key == lesson_key), None)
        if lesson is None:
            raise InvalidInput(f"choose one of the lessons of {course.title!r}")
    return course, student, lesson


def _find(session: Session, user_id: int, lesson_id: int) -> DeadlineExtension | None:
    return session.scalars(select(DeadlineExtension).where(DeadlineExtension.user_id == user_id,
                                                           DeadlineExtension.lesson_id == lesson_id)).one_or_none()


def _record(extension: DeadlineExtension | None) -> dict:
    if extension is None:
        return {"deadline": None, "reason": None}
    return {"deadline": _aware(extension.deadline).isoformat(), "reason": extension.reason}


def grant(session: Session, actor: User, slug: str, username: str, lesson_key: str, deadline,
          reason: str = "") -> DeadlineExtension:
    """Give ``username`` their own, later ``deadline`` for the lesson (or change the one they have)."""
    course, student, lesson = _scope(session, actor, slug, username, lesson_key)
    new = deadline if isinstance(deadline, datetime) else parse_deadline(deadline)
    new = _aware(new).astimezone(timezone.utc).replace(microsecond=0)
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise InvalidInput("the reason must be text")
    reason = _CONTROL.sub("", reason).strip()
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"the reason is longer than {MAX_REASON_CHARS} characters")
    policy = policies.for_lesson(session, lesson.id)
    if policy is None or policy.deadline is None:
        raise InvalidInput(f"{lesson.title!r} has no deadline to extend")
    lesson_deadline = _aware(policy.deadline)
    if new <= lesson_deadline:
        raise InvalidInput(f"the new deadline must be after the lesson's deadline "
                           f"({lesson_deadline:%Y-%m-%d %H:%M} UTC)")
    if new - lesson_deadline > MAX_EXTENSION:
        raise InvalidInput("the new deadline can be at most a year after the lesson's deadline")
    extension = _find(session, student.id, lesson.id)
    before = _record(extension)
    if extension is None:
        extension = DeadlineExtension(user_id=student.id, lesson_id=lesson.id, deadline=new)
        session.add(extension)
    extension.deadline, extension.reason = new, reason
    extension.granted_by_id, extension.updated_at = actor.id, utcnow()
    session.flush()
    action = "extension.grant" if before["deadline"] is None else "extension.change"
    old, changed = audit.changes(before, _record(extension))
    audit.record(session, actor, action, "deadline_extension", f"{course.slug}/{lesson.key}/{student.hub_name}",
                 before=old or None, after=changed,
                 summary=f"Deadline of {lesson.title!r} ({course.title}) for {student.hub_name}: "
                         f"{new:%Y-%m-%d %H:%M} UTC")
    grading_queue.reprice_late(session, student.id, lesson.id)
    return extension


def remove(session: Session, actor: User, slug: str, username: str, lesson_key: str) -> bool:
    """Take the student's extension back (the lesson's deadline applies again); False when there was none."""
    course, student, lesson = _scope(session, actor, slug, username, lesson_key)
    extension = _find(session, student.id, lesson.id)
    if extension is None:
        return False
    before = _record(extension)
    session.delete(extension)
    session.flush()
    audit.record(session, actor, "extension.remove", "deadline_extension",
                 f"{course.slug}/{lesson.key}/{student.hub_name}", before=before, after=_record(None),
                 summary=f"Extension of {lesson.title!r} ({course.title}) for {student.hub_name} removed")
    grading_queue.reprice_late(session, student.id, lesson.id)
    return True


def for_course(session: Session, course_id: int, user_ids: list[int] | None = None
               ) -> dict[tuple[int, int], DeadlineExtension]:
    """(user id, lesson id) -> extension, for the course's lessons (one query)."""
    stmt = (select(DeadlineExtension).join(Lesson, Lesson.id == DeadlineExtension.lesson_id)
            .where(Lesson.course_id == course_id))
    if user_ids is not None:
        if not user_ids:
            return {}
        stmt = stmt.where(DeadlineExtension.user_id.in_(user_ids))
    return {(e.user_id, e.lesson_id): e for e in session.scalars(stmt)}
