"""Achievements, XP, streaks in the learner's own time zone, leaderboards, Open Badges 3.0.

Everything here is idempotent: an achievement or an XP award is a unique row, so a
regrade, a retried request or two replicas racing never count anything twice.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import Course, User
from ..models.base import utcnow
from ..models.learning import Achievement, ActivityDay, LearnerProfile, XPEvent

# XP per kind of work (one award per lesson / notebook / challenge / quiz)
XP = {"lesson": 50, "exercise": 30, "challenge": 30, "quiz": 10}
MILESTONES = (25, 50, 75, 100)

# key -> (name, description, criteria); forums add more later
BADGES = {
    "first-exercise": ("First exercise", "Passed a first graded exercise.",
                       "Pass the automatic tests of a notebook exercise or a code challenge."),
    "first-course": ("First course", "Completed a first course.",
                     "Complete every lesson of a course."),
    "streak-7": ("7-day streak", "Learned on 7 days in a row.",
                 "Have learning activity on 7 consecutive days in your own time zone."),
    "streak-30": ("30-day streak", "Learned on 30 days in a row.",
                  "Have learning activity on 30 consecutive days in your own time zone."),
    "perfect-score": ("Perfect score", "Got every point of a graded notebook.",
                      "Submit a lesson notebook that scores the maximum on its automatic tests."),
    **{f"milestone-{p}": (f"{p}% of a course", f"Completed {p}% of a course's lessons.",
                          f"Complete {p}% of the lessons of a course.") for p in MILESTONES},
}


# profile ------------------------------------------------------------------------------------
def profile(session: Session, user_id: int) -> LearnerProfile:
    row = session.get(LearnerProfile, user_id)
    if row is None:
        row = LearnerProfile(user_id=user_id, timezone="UTC", leaderboard_opt_out=False)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # created concurrently
            row = session.get(LearnerProfile, user_id)
    return row


def zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or len(name) > 64:
        raise InvalidInput("timezone must be an IANA name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from None


def update_profile(session: Session, user: User, *, timezone_name: str | None = None,
                   leaderboard_opt_out: bool | None = None) -> LearnerProfile:
    row = profile(session, user.id)
    if timezone_name is not None:
        zone(timezone_name)
        row.timezone = timezone_name
    if leaderboard_opt_out is not None:
        if not isinstance(leaderboard_opt_out, bool):
            raise InvalidInput("leaderboard_opt_out must be true or false")
        row.leaderboard_opt_out = leaderboard_opt_out
    session.flush()
    return row


# streaks ------------------------------------------------------------------------------------
def local_day(moment: datetime, tz_name: str) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone(tz_name)).date()


def record_activity(session: Session, user_id: int, at: datetime | None = None) -> None:
    """Mark the learner's local calendar day of ``at`` as active; award streak badges."""
    day = local_day(at or utcnow(), profile(session, user_id).timezone)
    exists = session.scalars(select(ActivityDay.id).where(ActivityDay.user_id == user_id,
                                                          ActivityDay.day == day)).first()
    if exists is None:
        try:
            with session.begin_nested():
                session.add(ActivityDay(user_id=user_id, day=day))
        except IntegrityError:
            pass
    current = streak(session, user_id, day)["current"]
    if current >= 7:
        award(session, user_id, "streak-7")
    if current >= 30:
        award(session, user_id, "streak-30")


def streak(session: Session, user_id: int, today: date | datetime | None = None) -> dict:
    """Current streak (ending today or yesterday, local days) and the longest one."""
    if today is None or isinstance(today, datetime):
        today = local_day(today or utcnow(), profile(session, user_id).timezone)
    days = sorted(set(session.scalars(select(ActivityDay.day).where(ActivityDay.user_id == user_id))))
    longest = run = 0
    previous = None
    for d in days:
        run = run + 1 if previous is not None and d - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = d
    active = set(days)
    cursor = today if today in active else today - timedelta(days=1)
    current = 0
    while cursor in active:
        current += 1
        cursor -= timedelta(days=1)
    return {"current": current, "longest": longest, "active_today": today in active, "today": today.isoformat()}


# achievements and XP ------------------------------------------------------------------------
def award(session: Session, user_id: int, key: str, *, scope: str = "", course_id: int | None = None) -> bool:
    """Give a badge once; True when it is new."""
    if key not in BADGES:
        raise ValueError(f"unknown badge {key}")
    found = session.scalars(select(Achievement.id).where(Achievement.user_id == user_id, Achievement.key == key,
                                                         Achievement.scope == scope)).first()
    if found is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Achievement(uid=uuid.uuid4().hex, user_id=user_id, key=key, scope=scope,
                                    course_id=course_id, awarded_at=utcnow()))
    except IntegrityError:
        return False
    return True


def add_xp(session: Session, user_id: int, reason: str, ref: str, *, course_id: int | None = None,
           points: int | None = None) -> bool:
    found = session.scalars(select(XPEvent.id).where(XPEvent.user_id == user_id, XPEvent.reason == reason,
                                                     XPEvent.ref == ref)).first()
    if found is not None:
        return False
    try:
        with session.begin_nested():
            session.add(XPEvent(user_id=user_id, course_id=course_id, reason=reason, ref=ref,
                                points=XP[reason] if points is None else points, created_at=utcnow()))
    except IntegrityError:
        return False
    return True


def total_xp(session: Session, user_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(XPEvent.points), 0))
                              .where(XPEvent.user_id == user_id)) or 0)


def achievements_of(session: Session, user_id: int) -> list[Achievement]:
    return list(session.scalars(select(Achievement).where(Achievement.user_id == user_id)
                                .order_by(Achievement.awarded_at, Achievement.id)))


def achievement_view(a: Achievement, course_titles: dict[int, str] | None = None) -> dict:
    name, description, _ = BADGES[a.key]
    course = (course_titles or {}).get(a.course_id) if a.course_id else None
    return {"id": a.uid, "key": a.key, "name": name + (f": {course}" if course else ""),
            "description": description, "scope": a.scope, "awarded_at": a.awarded_at.isoformat()}


def get_achievement(session: Session, uid: str) -> Achievement:
    if not isinstance(uid, str) or not uid.isalnum() or len(uid) > 64:
        raise NotFound("no such achievement")
    found = session.scalars(select(Achievement).where(Achievement.uid == uid)).one_or_none()
    if found is None:
        raise NotFound("no such achievement")
    return found


def open_badge(session: Session, achievement: Achievement, *, base_url: str, issuer_name: str = "Jupyter LMS") -> dict:
    """An Open Badges 3.0 ``OpenBadgeCredential`` (a W3C Verifiable Credential, unsigned)."""
    user = session.get(User, achievement.user_id)
    name, description, criteria = BADGES[achievement.key]
    course = session.get(Course, achievement.course_id) if achievement.course_id else None
    if course is not None:
        name = f"{name}: {course.title}"
    base = base_url.rstrip("/")
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2",
                     "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "id": f"{base}/achievements/{achievement.uid}/credential",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "issuer": {"id": f"{base}/", "type": ["Profile"], "name": issuer_name},
        "validFrom": achievement.awarded_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {
            "id": f"{base}/users/{user.hub_name}",
            "type": ["AchievementSubject"],
            "name": user.display_name or user.hub_name,
            "achievement": {
                "id": f"{base}/badges/{achievement.key}",
                "type": ["Achievement"],
                "achievementType": "Badge",
                "name": name,
                "description": description,
                "criteria": {"narrative": criteria},
            },
        },
    }


# leaderboards -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Standing:
    rank: int
    name: str
    xp: int
    is_me: bool


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of ``now``'s week: one week boundary shared by everyone."""
    now = now.astimezone(timezone.utc)
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) - timedelta(days=now.weekday())


def leaderboard(session: Session, *, course_id: int | None = None, period: str = "all",
                viewer_id: int | None = None, now: datetime | None = None, limit: int = 20) -> list[Standing]:
    """Ranked XP; learners who opted out never appear. Ties share a rank (1, 1, 3)."""
    if period not in ("week", "all"):
        raise InvalidInput("period must be 'week' or 'all'")
    opted_out = select(LearnerProfile.user_id).where(LearnerProfile.leaderboard_opt_out.is_(True))
    total = func.sum(XPEvent.points).label("xp")
    query = (select(User.id, User.hub_name, User.display_name, total).join(XPEvent, XPEvent.user_id == User.id)
             .where(User.id.not_in(opted_out)).group_by(User.id, User.hub_name, User.display_name)
             .order_by(total.desc(), User.hub_name).limit(limit))
    if course_id is not None:
        query = query.where(XPEvent.course_id == course_id)
    if period == "week":
        query = query.where(XPEvent.created_at >= week_start(now or utcnow()))
    rows = session.execute(query).all()
    out, rank, last = [], 0, None
    for index, (uid, hub_name, display, xp) in enumerate(rows, 1):
        if xp != last:
            rank, last = index, xp
        out.append(Standing(rank, display or hub_name, int(xp), uid == viewer_id))
    return out
