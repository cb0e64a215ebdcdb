"""Course announcements: the owner of ``announcements``.

An instructor (or an admin) posts a title and a Markdown body to a course; the course page
shows the latest few and the LMS API hands them to JupyterLab's Course panel. The body is
stored as written and rendered through the sanitiser where it is shown. Delivery by email and
notification comes with notifications; until then students see announcements on the course
page and in JupyterLab.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import InvalidInput, NotFound
from ..models import Course, Enrollment, User
from ..models.announcements import Announcement
from ..models.course import SLUG
from . import audit, notifications

MAX_TITLE = 200
MAX_BODY = 20_000
LATEST = 3  # on the course page and in the Course panel


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
    """A new announcement of ``course`` by its instructor or an admin (audited)."""
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
    students = session.scalars(select(Enrollment.user_id).where(Enrollment.course_id == course.id)).all()
    notifications.notify(session, user_ids=students, kind="announcement", actor_id=author.id,
                         title=f"{course.title}: {title}", body=body if len(body) <= 500 else body[:499] + "\u2026",
                         url=f"courses/{course.slug}#announcements", dedupe_key=f"announcement:{item.id}")
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
