"""Per-lesson grading policy: deadline, late penalty, attempt limit, cooldown.

Authors set them in ``course.toml`` (``deadline``, ``late_policy``, ``late_percent_per_day``,
``max_attempts``, ``cooldown_seconds`` on a ``[[lessons]]`` entry). Limits are enforced when a
submission is stored; the late penalty is applied to the score when it is graded and kept
apart from it (``NotebookSubmission.late_penalty_percent``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, CourseFormatError, TooManyRequests
from ..models import Lesson, NotebookSubmission, User
from ..models.base import utcnow
from ..models.grading import LATE_NONE, LATE_PERCENT, LATE_POLICIES, LATE_ZERO, LessonPolicy
from ..models.roster import DeadlineExtension
from ..models.submission import FAILED

POLICY_KEYS = {"deadline", "late_policy", "late_percent_per_day", "max_attempts", "cooldown_seconds"}
MAX_COOLDOWN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class PolicySpec:
    deadline: datetime | None = None
    late_policy: str = LATE_NONE
    late_percent_per_day: float = 0.0
    max_attempts: int | None = None
    cooldown_seconds: int = 0


def _whole(raw: dict, key: str, where: str, minimum: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CourseFormatError(f"{where}: {key} must be a whole number >= {minimum}, got {value!r}")
    return value


def parse_policy(raw: dict, where: str) -> PolicySpec | None:
    """The policy keys of one ``[[lessons]]`` table; None when it has none."""
    if not POLICY_KEYS & set(raw):
        return None
    deadline = raw.get("deadline")
    if isinstance(deadline, str):
        try:
            deadline = datetime.fromisoformat(deadline)
        except ValueError:
            raise CourseFormatError(f"{where}: deadline {deadline!r} is not an ISO 8601 date-time, "
                                    "e.g. 2026-12-01T23:59:00+01:00") from None
    if deadline is not None:
        if not isinstance(deadline, datetime):
            kind = "a date without a time" if isinstance(deadline, date) else type(deadline).__name__
            raise CourseFormatError(f"{where}: deadline must be a date-time with a time zone, got {kind}")
        if deadline.tzinfo is None or deadline.utcoffset() is None:
            raise CourseFormatError(f"{where}: deadline {deadline.isoformat()} needs a time zone "
                                    "(e.g. +00:00 or Z)")
        deadline = deadline.astimezone(timezone.utc)
    late_policy = raw.get("late_policy", LATE_NONE)
    if late_policy not in LATE_POLICIES:
        raise CourseFormatError(f"{where}: late_policy must be one of {', '.join(LATE_POLICIES)}, got {late_policy!r}")
    percent = raw.get("late_percent_per_day")
    if late_policy == LATE_PERCENT:
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100:
            raise CourseFormatError(f"{where}: late_policy = \"percent_per_day\" needs late_percent_per_day "
                                    f"between 0 (exclusive) and 100, got {percent!r}")
    elif percent is not None:
        raise CourseFormatError(f"{where}: late_percent_per_day only applies with late_policy = \"percent_per_day\"")
    if late_policy != LATE_NONE and deadline is None:
        raise CourseFormatError(f"{where}: late_policy {late_policy!r} needs a deadline")
    cooldown = _whole(raw, "cooldown_seconds", where, 0) or 0
    if cooldown > MAX_COOLDOWN_SECONDS:
        raise CourseFormatError(f"{where}: cooldown_seconds must be at most {MAX_COOLDOWN_SECONDS} (a week)")
    return PolicySpec(deadline=deadline, late_policy=late_policy, late_percent_per_day=float(percent or 0),
                      max_attempts=_whole(raw, "max_attempts", where, 1), cooldown_seconds=cooldown)


def apply(session: Session, lesson: Lesson, spec: PolicySpec | None) -> None:
    """Store ``spec`` as the lesson's policy (None removes it). ``lesson`` must have an id."""
    policy = session.get(LessonPolicy, lesson.id)
    if spec is None:
        if policy is not None:
            session.delete(policy)
        return
    if policy is None:
        policy = LessonPolicy(lesson_id=lesson.id)
        session.add(policy)
    policy.deadline, policy.late_policy = spec.deadline, spec.late_policy
    policy.late_percent_per_day, policy.max_attempts = spec.late_percent_per_day, spec.max_attempts
    policy.cooldown_seconds = spec.cooldown_seconds


def for_lesson(session: Session, lesson_id: int) -> LessonPolicy | None:
    return session.get(LessonPolicy, lesson_id)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


_LOOK_UP = object()


def effective_deadline(session: Session, user_id: int, lesson_id: int, policy=_LOOK_UP) -> datetime | None:
    """The deadline that applies to this student: the lesson's, or their own later one when the
    instructor granted an extension (``services/extensions.py``). None: the lesson has no deadline.

    The one answer used by grading (late penalty), the student's standing (lesson page, sidebar)
    and the roster; an extension never makes a deadline earlier."""
    if policy is _LOOK_UP:
        policy = for_lesson(session, lesson_id)
    if policy is None or policy.deadline is None:
        return None
    own = session.scalar(select(DeadlineExtension.deadline).where(DeadlineExtension.user_id == user_id,
                                                                  DeadlineExtension.lesson_id == lesson_id))
    deadline = _aware(policy.deadline)
    return max(deadline, _aware(own)) if own is not None else deadline


def late_penalty_for(session: Session, user_id: int, lesson_id: int, submitted_at: datetime) -> float:
    """The late penalty of a submission by ``user_id``, against their effective deadline."""
    policy = for_lesson(session, lesson_id)
    return late_penalty_percent(policy, submitted_at, effective_deadline(session, user_id, lesson_id, policy))


def admit(session: Session, user: User, lesson: Lesson, now: datetime | None = None) -> int:
    """Check attempt limit and cooldown for a new submission; returns its attempt number.

    Submissions that failed to grade (sandbox trouble, not the student's doing) do not count.
    """
    now = now or utcnow()
    # FOR UPDATE (PostgreSQL): two submissions racing for the last attempt are counted one after the other
    policy = session.scalars(select(LessonPolicy).where(LessonPolicy.lesson_id == lesson.id)
                             .with_for_update()).one_or_none()
    mine = (NotebookSubmission.user_id == user.id, NotebookSubmission.lesson_id == lesson.id)
    used, last = session.execute(
        select(func.count(NotebookSubmission.id), func.max(NotebookSubmission.submitted_at))
        .where(*mine, NotebookSubmission.status != FAILED)).one()
    if policy is not None and policy.max_attempts is not None and used >= policy.max_attempts:
        raise Conflict(f"you have used all {policy.max_attempts} attempt(s) for this lesson",
                       attempts=used, max_attempts=policy.max_attempts)
    if policy is not None and policy.cooldown_seconds and last is not None:
        wait = policy.cooldown_seconds - (now - _aware(last)).total_seconds()
        if wait > 0:
            retry = math.ceil(wait)
            raise TooManyRequests(f"wait {retry} s before submitting this lesson again "
                                  f"(a cooldown of {policy.cooldown_seconds} s between submissions)",
                                  retry_after=retry)
    total = session.scalar(select(func.count(NotebookSubmission.id)).where(*mine)) or 0
    return total + 1


def standing(session: Session, user: User, lesson: Lesson, now: datetime | None = None) -> dict:
    """Where ``user`` stands against the lesson's policy: what ``admit`` would decide, before submitting."""
    now = now or utcnow()
    policy = for_lesson(session, lesson.id)
    mine = (NotebookSubmission.user_id == user.id, NotebookSubmission.lesson_id == lesson.id)
    used, last = session.execute(
        select(func.count(NotebookSubmission.id), func.max(NotebookSubmission.submitted_at))
        .where(*mine, NotebookSubmission.status != FAILED)).one()
    limit = policy.max_attempts if policy is not None else None
    wait = 0
    if policy is not None and policy.cooldown_seconds and last is not None:
        wait = max(0, math.ceil(policy.cooldown_seconds - (now - _aware(last)).total_seconds()))
    deadline = effective_deadline(session, user.id, lesson.id, policy)
    lesson_deadline = _aware(policy.deadline) if policy is not None and policy.deadline else None
    shown = view(policy)
    if shown is not None and deadline is not None:
        shown["deadline"] = deadline.isoformat()  # the student's own, with an extension
    return {"policy": shown, "attempts_used": used,
            "attempts_left": None if limit is None else max(0, limit - used),
            "cooldown_remaining_seconds": wait,
            "past_deadline": deadline is not None and now > deadline,
            "deadline_extended": deadline is not None and deadline != lesson_deadline,
            "late_penalty_percent_now": late_penalty_percent(policy, now, deadline)}


def late_penalty_percent(policy: LessonPolicy | None, submitted_at: datetime,
                         deadline: datetime | None = None) -> float:
    """How much of the score a submission made at ``submitted_at`` loses, in percent.

    ``percent_per_day`` counts every started day after the deadline: ``deadline`` when given
    (the student's ``effective_deadline``), else the lesson's.
    """
    if policy is None or policy.deadline is None or policy.late_policy == LATE_NONE:
        return 0.0
    late = (_aware(submitted_at) - _aware(deadline or policy.deadline)).total_seconds()
    if late <= 0:
        return 0.0
    if policy.late_policy == LATE_ZERO:
        return 100.0
    return min(100.0, math.ceil(late / 86400) * policy.late_percent_per_day)


def final_score(auto_score: float | None, manual_score: float | None, penalty_percent: float) -> float | None:
    if auto_score is None and manual_score is None:
        return None
    raw = (auto_score or 0.0) + (manual_score or 0.0)
    return max(0.0, round(raw * (1 - penalty_percent / 100.0), 4))


def view_for(session: Session, user_id: int, lesson_id: int) -> dict | None:
    """The lesson's policy as ``user_id`` sees it: with their own deadline when they have an extension."""
    policy = for_lesson(session, lesson_id)
    shown = view(policy)
    deadline = effective_deadline(session, user_id, lesson_id, policy)
    if shown is not None and deadline is not None:
        shown["deadline"] = deadline.isoformat()
    return shown


def view(policy: LessonPolicy | None) -> dict | None:
    if policy is None:
        return None
    return {"deadline": _aware(policy.deadline).isoformat() if policy.deadline else None,
            "late_policy": policy.late_policy, "late_percent_per_day": policy.late_percent_per_day,
            "max_attempts": policy.max_attempts, "cooldown_seconds": policy.cooldown_seconds}
