"""Course announcements: the owner of ``announcements``.

An instructor (or an admin) posts a title and a Markdown body to a course; the course page
shows the latest few and the LMS API hands them to JupyterLab's Course panel. The body is
stored as written and rendered through the sanitiser where it is shown.

Every enrolled student is told (in the bell, by email and push, as each chose) by ``lms
worker``, not by the request that posts it: ``post`` stores the announcement and returns at
once; the worker's ``fan_out_forever`` finds announcements not yet delivered and tells their
course's students in batches of ``FANOUT_BATCH``, each batch its own transaction. Every notice
and email carries a dedupe key per announcement and student (``notifications.notify``), so a
worker killed halfway and restarted - or two workers at once - tell each student once per
channel: a batch either committed whole (its students are skipped next time) or not at all.
When a pass over the whole class is done, an ``announcement.delivered`` audit entry records
it (with the counts the staff page shows); until then ``progress`` counts the students reached.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import String, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session, sessionmaker

from .. import permissions
from ..errors import InvalidInput, NotFound
from ..models import Course, Enrollment, User
from ..db import session_scope
from ..models.announcements import Announcement
from ..models.audit import AuditEntry
from ..models.base import utcnow
from ..models.mail import SENT, MailOutbox
from ..models.notifications import Notification
from ..models.course import SLUG
from . import audit, forum, notifications, plaintext

MAX_TITLE = 200
MAX_BODY = 20_000
LATEST = 3  # on the course page and in the Course panel
FANOUT_BATCH = 250  # students told per transaction
FANOUT_WINDOW = timedelta(days=7)  # an announcement older than this is not delivered late
DELIVERED = "announcement.delivered"  # the audit action that ends an announcement's fan-out

log = logging.getLogger("lms.announcements")


def course_to_teach(session: Session, user: User | None, slug: str) -> Course:
    """The course ``slug`` (published or not) if ``user`` teaches it: 404 when there is none,
    403 when it is another instructor's."""
    # a slug that cannot exist is not looked up (PostgreSQL refuses a NUL in a query)
    course = (session.scalars(select(Course).where(Course.slug == slug)).one_or_none()
              if isinstance(slug, str) and SLUG.match(slug) else None)
    if course is None:
        raise NotFound("there is no such course")
    permissions.require_teacher(user, course, "only the course's instructor or an admin can manage this course")
    return course


def _text(value, name: str, limit: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{name} cannot be empty")
    if len(value) > limit:
        raise InvalidInput(f"{name} is limited to {limit:,} characters (this one has {len(value):,})")
    if "\x00" in value:
        raise InvalidInput(f"{name} contains a NUL character")
    return value


def post(session: Session, author: User, course: Course, title, body) -> Announcement:
    """A new announcement of ``course`` by its instructor or an admin (audited). Its students
    are told by ``lms worker`` (``fan_out``), not in this transaction."""
    permissions.require_teacher(author, course, "only the course's instructor or an admin can post announcements")
    title = _text(title, "The title", MAX_TITLE, required=True)
    if any(ch in title for ch in "\r\n"):
        raise InvalidInput("The title is one line")
    body = _text(body, "The message", MAX_BODY, required=True)
    item = Announcement(course_id=course.id, author_id=author.id, title=title, body=body)
    session.add(item)
    session.flush()
    audit.record(session, author, "announcement.create", "announcement", item.id,
                 after={"course": course.slug, "title": title, "body": body},
                 summary=f"Announcement \u201c{title}\u201d posted to {course.title}")
    return item


def delete(session: Session, user: User, course: Course, announcement_id: int) -> None:
    """Remove one announcement of ``course`` (audited, with what it said)."""
    permissions.require_teacher(user, course, "only the course's instructor or an admin can remove announcements")
    item = session.get(Announcement, announcement_id) if isinstance(announcement_id, int) else None
    if item is None or item.course_id != course.id:
        raise NotFound("that announcement does not exist (any more)")
    before = {"course": course.slug, "title": item.title, "body": item.body}
    audit.record(session, user, "announcement.delete", "announcement", item.id, before=before,
                 summary=f"Announcement \u201c{item.title}\u201d removed from {course.title}")
    session.delete(item)
    session.flush()


def for_course(session: Session, course_id: int, limit: int | None = None) -> list[Announcement]:
    """Newest first; ``limit`` of them."""
    stmt = (select(Announcement).where(Announcement.course_id == course_id)
            .order_by(Announcement.created_at.desc(), Announcement.id.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


# ------------------------------------------------------------------------- fan-out (lms worker)
def _key(announcement_id: int) -> str:
    return f"announcement:{announcement_id}"


def _delivered_entry(announcement_id):
    return select(AuditEntry).where(AuditEntry.action == DELIVERED, AuditEntry.target_type == "announcement",
                                    AuditEntry.target_id == announcement_id)


def pending(session: Session, *, now: datetime | None = None) -> list[int]:
    """Ids of the announcements of the last ``FANOUT_WINDOW`` not yet delivered, oldest first."""
    now = now or utcnow()
    delivered = _delivered_entry(cast(Announcement.id, String)).exists()
    return list(session.scalars(select(Announcement.id)
                                .where(Announcement.created_at >= now - FANOUT_WINDOW, ~delivered)
                                .order_by(Announcement.id)))


def fan_out_batch(session: Session, announcement_id: int, after: int = 0,
                  batch_size: int = FANOUT_BATCH) -> int | None:
    """Tell the next ``batch_size`` enrolled students (user id above ``after``) of one
    announcement, in the caller's transaction; the last user id told, or None when there are
    no more (or the announcement is gone). Students told before are skipped (dedupe keys)."""
    item = session.get(Announcement, announcement_id)
    if item is None:
        return None
    ids = list(session.scalars(select(Enrollment.user_id)
                               .where(Enrollment.course_id == item.course_id, Enrollment.user_id > after)
                               .order_by(Enrollment.user_id).limit(batch_size)))
    if not ids:
        return None
    course = session.get(Course, item.course_id)
    notifications.notify(session, user_ids=ids, kind="announcement", actor_id=item.author_id,
                         title=f"{course.title}: {item.title}",
                         body=plaintext.excerpt(forum.render(item.body), 500),  # no Markdown marks in a notice
                         url=f"courses/{course.slug}/announcements#announcement-{item.id}",
                         dedupe_key=_key(announcement_id))
    return ids[-1]


def record_delivered(session: Session, announcement_id: int) -> dict | None:
    """After a whole pass: the ``announcement.delivered`` audit entry with the counts; the
    progress (None when the announcement is gone)."""
    item = session.get(Announcement, announcement_id)
    if item is None:
        return None
    counts = _count(session, item)
    audit.record(session, None, DELIVERED, "announcement", announcement_id, after=counts,
                 summary=f"Announcement \u201c{item.title}\u201d delivered to {counts['reached']} of "
                         f"{counts['students']} enrolled students ({counts['in_app']} in the LMS, "
                         f"{counts['email']} by email)")
    return {**counts, "done": True}


def fan_out(factory: sessionmaker[Session], announcement_id: int, *, batch_size: int = FANOUT_BATCH) -> dict | None:
    """The whole fan-out of one announcement, one transaction per batch, then the delivered
    entry; the progress at the end (None when the announcement is gone). Safe to run again
    after a crash, or by two workers at once."""
    after: int | None = 0
    while after is not None:
        with session_scope(factory) as session:
            after = fan_out_batch(session, announcement_id, after, batch_size)
    with session_scope(factory) as session:
        result = record_delivered(session, announcement_id)
    log.info("announcement %s delivered: %s", announcement_id, result)
    return result


def _count(session: Session, item: Announcement) -> dict:
    key = _key(item.id)
    students = select(Enrollment.user_id).where(Enrollment.course_id == item.course_id)
    if item.author_id is not None:
        students = students.where(Enrollment.user_id != item.author_id)
    students = students.subquery()
    in_app = exists().where(Notification.user_id == students.c.user_id, Notification.dedupe_key == key)
    email = exists().where(MailOutbox.dedupe_key == literal(f"notify:{key}:") + cast(students.c.user_id, String))
    row = session.execute(select(func.count(), func.count().filter(or_(in_app, email)),
                                 func.count().filter(in_app), func.count().filter(email))
                          .select_from(students)).one()
    return {"students": row[0], "reached": row[1], "in_app": row[2], "email": row[3]}


def progress(session: Session, item: Announcement) -> dict:
    """How far the fan-out of ``item`` is: students (enrolled, the author left out), reached
    (told on some channel), in_app, email (queued), done. Counted while it runs; read back from
    the ``announcement.delivered`` entry once done."""
    entry = session.scalars(_delivered_entry(str(item.id)).order_by(AuditEntry.id).limit(1)).first()
    if entry is not None and entry.after:
        return {**json.loads(entry.after), "done": True}
    return {**_count(session, item), "done": False}


def _pending(factory: sessionmaker[Session]) -> list[int]:
    with factory() as session:
        return pending(session)


def progress_of_course(session: Session, course_id: int) -> dict[int, dict]:
    """``progress`` of each of the course's announcements of the last ``FANOUT_WINDOW`` (older
    ones were delivered or are not delivered late), by id."""
    since = utcnow() - FANOUT_WINDOW
    return {a.id: progress(session, a) for a in session.scalars(
        select(Announcement).where(Announcement.course_id == course_id, Announcement.created_at >= since))}


async def fan_out_forever(factory: sessionmaker[Session], config, worker: str, stopping: asyncio.Event) -> int:
    """``lms worker``'s announcement loop: deliver pending announcements until ``stopping``."""
    delivered = 0
    while not stopping.is_set():
        try:
            ids = await asyncio.to_thread(_pending, factory)
            for announcement_id in ids:
                if stopping.is_set():
                    break
                if await asyncio.to_thread(fan_out, factory, announcement_id) is not None:
                    delivered += 1
        except Exception:  # the database away for a moment: try again after a pause
            log.exception("announcement delivery failed")
        try:
            await asyncio.wait_for(stopping.wait(), config.worker_poll_seconds)
        except asyncio.TimeoutError:
            pass
    return delivered
