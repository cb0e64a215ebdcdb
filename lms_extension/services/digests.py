"""The daily or weekly digest email: what happened in a user's courses, one email per period.

The owner of ``digest_preferences`` (each user's choice: off, daily, weekly) and ``digest_runs``
(the digests made). Reads the forum, submissions and deadlines; writes nothing of theirs.

A digest knows the course. For each of the user's courses it lists new answers in the threads
they follow (watch or track, asked or answered in, or a watched course's), feedback released to them, their own upcoming deadlines (with an
extension, ``deadline_reminders``) and, for the course's staff, questions still without an answer
``forum_answer_target_hours`` after they were asked.

Exactly once per period: ``send`` inserts the user's ``digest_runs`` row for the period (unique
per user and period, so a second worker or a second run inserts nothing and stops) and enqueues
the email with the dedupe key ``digest:<user>:<period>`` in the same transaction. A daily period
ends each day at ``digest_hour_utc``; a weekly one on Mondays at that hour. A digest with nothing
in it is recorded and not sent. A worker that was down for days sends the current period's
digest only.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Course, Enrollment, Lesson, NotebookSubmission, User
from ..models.base import utcnow
from ..models.digests import (DIGEST_DAILY, DIGEST_FREQUENCIES, DIGEST_OFF, DIGEST_WEEKLY, DigestPreference,
                              DigestRun)
from ..models.forum import ForumCourseLevel, ForumPost, ForumThread, ForumThreadLevel
from ..models.submission import GRADED
from ..models.user import Instructor
from . import deadline_reminders, feedback_release, mail, notifications

log = logging.getLogger("lms.digests")

LABELS = {DIGEST_OFF: "No digest", DIGEST_DAILY: "Daily digest", DIGEST_WEEKLY: "Weekly digest"}
DEADLINE_HORIZON = timedelta(days=7)
MAX_PER_SECTION = 10


# ---------------------------------------------------------------------------------- the choice
def frequency(session: Session, user_id: int) -> str:
    row = session.get(DigestPreference, user_id)
    return row.frequency if row is not None else DIGEST_OFF


def set_frequency(session: Session, user_id: int, value) -> str:
    if value not in DIGEST_FREQUENCIES:
        raise InvalidInput("choose no digest, a daily digest or a weekly digest", field="digest")
    row = session.get(DigestPreference, user_id)
    if row is None:
        row = DigestPreference(user_id=user_id)
        session.add(row)
    row.frequency, row.updated_at = value, utcnow()
    session.flush()
    return value


# ---------------------------------------------------------------------------------- unsubscribe
def _signature(secret: str, payload: bytes) -> str:
    key = hashlib.sha256(b"lms-digest-unsubscribe:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()[:20]).decode().rstrip("=")


def unsubscribe_token(secret: str, user_id: int) -> str:
    payload = f"{user_id}:digest".encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _signature(secret, payload)


def _token_user(session: Session, secret: str, token) -> User:
    bad = InvalidInput("this unsubscribe link is not valid: it may have been cut short or altered")
    if not isinstance(token, str) or len(token) > 200:
        raise bad
    encoded, _, signature = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (ValueError, TypeError):
        raise bad from None
    if not signature or not hmac.compare_digest(signature, _signature(secret, payload)):
        raise bad
    uid, _, what = payload.decode("utf-8", "replace").partition(":")
    if not uid.isdigit() or what != "digest":
        raise bad
    user = session.get(User, int(uid))
    if user is None or user.deleted_at is not None:
        raise InvalidInput("this unsubscribe link belongs to an account that no longer exists")
    return user


def describe_token(session: Session, secret: str, token) -> User:
    return _token_user(session, secret, token)


def unsubscribe(session: Session, secret: str, token) -> User:
    """The one-click link of a digest: no more digests for its user."""
    user = _token_user(session, secret, token)
    set_frequency(session, user.id, DIGEST_OFF)
    return user


# ---------------------------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    key: str  # "daily:2026-12-08", "weekly:2026-W50"
    start: datetime
    end: datetime
    label: str


def period(freq: str, now: datetime, hour: int) -> Period:
    """The latest period of ``freq`` that has ended at or before ``now``."""
    now = now.astimezone(timezone.utc)
    end = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if freq == DIGEST_DAILY:
        if end > now:
            end -= timedelta(days=1)
        return Period(f"daily:{end.date().isoformat()}", end - timedelta(days=1), end, "Your daily digest")
    if freq == DIGEST_WEEKLY:
        end -= timedelta(days=end.weekday())  # Monday
        if end > now:
            end -= timedelta(days=7)
        year, week, _ = end.isocalendar()
        return Period(f"weekly:{year}-W{week:02d}", end - timedelta(days=7), end, "Your weekly digest")
    raise InvalidInput(f"no digest period for {freq!r}")


# ---------------------------------------------------------------------------------- content
def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _courses(session: Session, user: User) -> tuple[list[Course], set[int]]:
    """The user's courses (enrolled or teaching) and the ids of those they teach."""
    enrolled = set(session.scalars(select(Enrollment.course_id).where(Enrollment.user_id == user.id)))
    taught = set(session.scalars(select(Course.id).join(Instructor, Instructor.id == Course.instructor_id)
                                 .where(Instructor.user_id == user.id)))
    ids = enrolled | taught
    courses = list(session.scalars(select(Course).where(Course.id.in_(ids)).order_by(Course.title))) if ids else []
    return courses, taught


def _answers(session: Session, user: User, course_ids: list[int], taught: set[int], p: Period, base: str) -> dict:
    """New posts by others in the threads the user follows, per course: those they watch or track
    (``forum_thread_levels``; asking watches, replying tracks), asked or posted in, and every
    thread of a course they watch; never a thread they muted, nor hidden posts and threads."""
    took_part = select(ForumPost.thread_id).where(ForumPost.author_id == user.id)
    levels = select(ForumThreadLevel.thread_id).where(ForumThreadLevel.user_id == user.id)
    following = levels.where(ForumThreadLevel.level.in_(("watching", "tracking")))
    muted = levels.where(ForumThreadLevel.level == "muted")
    watched_courses = select(ForumCourseLevel.course_id).where(ForumCourseLevel.user_id == user.id,
                                                               ForumCourseLevel.level == "watching")
    threads = select(ForumThread.id).where(
        ForumThread.course_id.in_(course_ids),
        or_(ForumThread.author_id == user.id, ForumThread.id.in_(took_part), ForumThread.id.in_(following),
            ForumThread.course_id.in_(watched_courses)),
        ForumThread.id.not_in(muted),
        # a private or hidden thread shows to its author and the staff only
        or_(ForumThread.author_id == user.id, ForumThread.course_id.in_(taught),
            and_(ForumThread.private.is_(False), ForumThread.hidden.is_(False))))
    rows = session.execute(
        select(ForumThread, func.count(ForumPost.id))
        .join(ForumPost, ForumPost.thread_id == ForumThread.id)
        .where(ForumThread.id.in_(threads), ForumPost.author_id != user.id, ForumPost.opening.is_(False),
               ForumPost.hidden_at.is_(None), ForumPost.created_at > p.start, ForumPost.created_at <= p.end)
        .group_by(ForumThread.id).order_by(ForumThread.last_activity_at.desc()))
    found: dict[int, list] = {}
    for thread, count in rows:
        found.setdefault(thread.course_id, []).append(
            {"title": thread.title, "count": count, "url": f"{base}forum/threads/{thread.id}"})
    return found


def _feedback(session: Session, user: User, course_ids: list[int], p: Period, base: str) -> dict:
    """The user's submissions whose feedback became visible to them in the period."""
    rows = session.execute(
        select(NotebookSubmission, Lesson, Course).join(Lesson, Lesson.id == NotebookSubmission.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(NotebookSubmission.user_id == user.id, NotebookSubmission.status == GRADED,
               Course.id.in_(course_ids),
               or_(NotebookSubmission.feedback_released_at.between(p.start, p.end),
                   NotebookSubmission.finished_at.between(p.start, p.end)))
        .order_by(NotebookSubmission.id))
    found: dict[int, list] = {}
    for sub, lesson, course in rows:
        released = sub.feedback_released_at
        if released is not None and not p.start <= _aware(released) <= p.end:
            continue  # finished in the period, released before it (a re-grade) or after it
        if released is None and not feedback_release.visible(sub, session):
            continue  # held: not the student's to see yet
        score = f"{sub.score:g} of {sub.max_score:g}" if sub.score is not None and sub.max_score else ""
        found.setdefault(course.id, []).append(
            {"title": lesson.title, "score": score, "url": f"{base}courses/{course.slug}/lessons/{lesson.key}"})
    return found


def _deadlines(session: Session, user: User, now: datetime, base: str) -> dict:
    found: dict[int, list] = {}
    for d in deadline_reminders.unfinished(session, now, now + DEADLINE_HORIZON, user_ids=[user.id]):
        found.setdefault(d.course.id, []).append(
            {"title": d.lesson.title, "when": deadline_reminders.when(d.deadline), "extended": d.extended,
             "url": f"{base}courses/{d.course.slug}/lessons/{d.lesson.key}"})
    return found


def _unanswered(session: Session, taught: set[int], now: datetime, target_hours: float, base: str) -> dict:
    """Questions of the courses the user teaches without any reply ``target_hours`` after asking."""
    if not taught:
        return {}
    rows = session.scalars(
        select(ForumThread).where(ForumThread.course_id.in_(taught), ForumThread.kind == "question",
                                  ForumThread.reply_count == 0, ForumThread.closed.is_(False),
                                  ForumThread.created_at <= now - timedelta(hours=target_hours))
        .order_by(ForumThread.created_at))
    found: dict[int, list] = {}
    for thread in rows:
        items = found.setdefault(thread.course_id, [])
        if len(items) < MAX_PER_SECTION:
            items.append({"title": thread.title, "url": f"{base}forum/threads/{thread.id}",
                          "hours": int((now - _aware(thread.created_at)).total_seconds() // 3600)})
    return found


def collect(session: Session, user: User, p: Period, now: datetime, *, target_hours: float,
            base_url: str = "") -> tuple[list[dict], int]:
    """The digest's sections per course (only courses with something in them) and the item count."""
    courses, taught = _courses(session, user)
    if not courses:
        return [], 0
    ids = [c.id for c in courses]
    answers = _answers(session, user, ids, taught, p, base_url)
    feedback = _feedback(session, user, ids, p, base_url)
    deadlines = _deadlines(session, user, now, base_url)
    unanswered = _unanswered(session, taught, now, target_hours, base_url)
    sections, total = [], 0
    for course in courses:
        parts = {"answers": answers.get(course.id, [])[:MAX_PER_SECTION],
                 "feedback": feedback.get(course.id, [])[:MAX_PER_SECTION],
                 "deadlines": deadlines.get(course.id, [])[:MAX_PER_SECTION],
                 "unanswered": unanswered.get(course.id, [])}
        count = sum(len(v) for v in parts.values())
        if count:
            sections.append({"title": course.title, "url": f"{base_url}courses/{course.slug}", **parts})
            total += count
    return sections, total


# ---------------------------------------------------------------------------------- sending
def subscribers(session: Session) -> list[int]:
    """Users who chose a digest and can get email."""
    return list(session.scalars(
        select(DigestPreference.user_id).join(User, User.id == DigestPreference.user_id)
        .where(DigestPreference.frequency != DIGEST_OFF, User.email != "", User.deleted_at.is_(None),
               User.deactivated_at.is_(None))
        .order_by(DigestPreference.user_id)))


def _claim(session: Session, user_id: int, key: str) -> DigestRun | None:
    """The new run row of (user, period), or None when one exists (also one another worker
    inserted concurrently: the unique constraint decides, as in notifications)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    new_id = session.scalar(insert(DigestRun).values(user_id=user_id, period=key, items=0, created_at=utcnow())
                            .on_conflict_do_nothing(index_elements=["user_id", "period"]).returning(DigestRun.id))
    return session.get(DigestRun, new_id) if new_id is not None else None


SENT, EMPTY, DONE, OFF = "sent", "empty", "done", "off"


def links_from(config) -> notifications.EmailLinks:
    """The service's public address and the secret that signs unsubscribe links (the worker's config)."""
    base = config.public_url + config.service_prefix
    return notifications.EmailLinks(base if base.endswith("/") else base + "/", config.cookie_secret)


def send(session: Session, user_id: int, *, now: datetime | None = None, hour: int = 7,
         target_hours: float = 24.0, links: notifications.EmailLinks | None = None) -> str:
    """Make the user's digest of the current period, once: ``sent`` (an email is in the outbox),
    ``empty`` (nothing to tell: recorded, not sent), ``done`` (made before) or ``off``. Runs in the
    caller's transaction; commit after each user. ``links``: where the email's links point (none:
    relative links and no unsubscribe header, as in tests of the content)."""
    now = now or utcnow()
    user = session.get(User, user_id)
    freq = frequency(session, user_id)
    if user is None or freq == DIGEST_OFF or not user.email or user.deleted_at or user.deactivated_at:
        return OFF
    p = period(freq, now, hour)
    run = _claim(session, user_id, p.key)
    if run is None:
        return DONE
    base = links.base_url if links else ""
    sections, total = collect(session, user, p, now, target_hours=target_hours, base_url=base)
    run.items = total
    if not total:
        session.flush()
        return EMPTY
    unsubscribe_url = f"{base}notifications/digest/unsubscribe/{unsubscribe_token(links.secret, user.id)}" \
        if links else None
    context = {"name": user.display_name or user.hub_name, "period_label": p.label,
               "since": deadline_reminders.when(p.start), "courses": sections, "total": total,
               "unsubscribe_url": unsubscribe_url, "preferences_url": base + "notifications/preferences"}
    subject, text, html = mail.render("digest", context, session=session)  # an admin's version, else the files
    try:
        mail.enqueue(session, to=user.email, kind="digest", subject=subject, text=text, html=html,
                     user_id=user.id, dedupe_key=f"digest:{user.id}:{p.key}", unsubscribe_url=unsubscribe_url)
    except InvalidInput as exc:  # an address the outbox refuses: recorded, not retried every run
        log.warning("no digest to user %s: %s", user.id, exc)
        run.items = 0
        session.flush()
        return EMPTY
    session.flush()
    return SENT
