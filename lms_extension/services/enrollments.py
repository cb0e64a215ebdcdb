"""Who may learn what: the one writer of ``Enrollment`` rows, and the rule for opening a lesson.

Enrollments come from a free course, a staff member's own course, an all-access subscription
(``enroll``) or a payment (``grant``, called by ``payments.access``); ``revoke`` takes back
those of a refunded order or an ended subscription.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import permissions
from ..errors import Forbidden, NotFound, PaymentRequired
from ..models import Course, Enrollment, Lesson, User
from . import catalog, wishlist
from .payments.subscriptions import has_all_access


def find_enrollment(session: Session, user: User, course: Course) -> Enrollment | None:
    return session.scalars(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    ).one_or_none()


def enroll(session: Session, user: User, slug: str) -> tuple[Enrollment, bool]:
    """Enroll ``user`` in a free course, a course they teach, or any course with all access.
    Returns (enrollment, created); other paid courses need a purchase (``PaymentRequired``)."""
    course = catalog.get_course(session, slug, viewer=user)
    existing = find_enrollment(session, user, course)
    if existing is not None:
        return existing, False
    subscribed = not course.is_free and has_all_access(session, user.id)
    if not course.is_free and not permissions.can_teach(user, course) and not subscribed:
        raise PaymentRequired(
            f"{course.title!r} costs {course.price_cents / 100:.2f} {course.currency.upper()}: "
            "buy it to enroll", price_cents=course.price_cents, currency=course.currency,
        )
    source = "free" if course.is_free else ("subscription" if subscribed else "staff")
    if not grant(session, user.id, course.id, source):  # a concurrent request enrolled first
        return find_enrollment(session, user, course), False
    return find_enrollment(session, user, course), True


def grant(session: Session, user_id: int, course_id: int, source: str) -> bool:
    """Enroll the user unless they are already; True when this call enrolled them."""
    exists = session.scalars(select(Enrollment.id).where(Enrollment.user_id == user_id,
                                                         Enrollment.course_id == course_id)).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Enrollment(user_id=user_id, course_id=course_id, source=source))
    except IntegrityError:  # enrolled concurrently by another request
        return False
    wishlist.drop_enrolled(session, user_id, course_id)  # nothing left to wish for
    return True


def revoke(session: Session, user_id: int, course_id: int, sources: Iterable[str]) -> bool:
    """Take back the user's enrollment in the course if one of ``sources`` gave it (a free or
    staff enrollment is not a purchase's to take back). True when one was removed."""
    removed = session.execute(delete(Enrollment).where(
        Enrollment.user_id == user_id, Enrollment.course_id == course_id,
        Enrollment.source.in_(tuple(sources)))).rowcount
    return bool(removed)


def course_ids_by_source(session: Session, user_id: int, source: str) -> list[int]:
    return list(session.scalars(select(Enrollment.course_id).where(Enrollment.user_id == user_id,
                                                                   Enrollment.source == source)))


def remember_lesson(enrollment: Enrollment, lesson: Lesson) -> None:
    """Where the student is now: ``resume_lesson`` starts there next time."""
    enrollment.last_lesson_key = lesson.key


def enrollments_for(session: Session, user: User) -> list[Enrollment]:
    return list(session.scalars(
        select(Enrollment).where(Enrollment.user_id == user.id)
        .options(selectinload(Enrollment.course).selectinload(Course.lessons))
        .order_by(Enrollment.created_at.desc())
    ))


def lesson_access(session: Session, user: User | None, slug: str, lesson_key: str) -> tuple[Course, Lesson, Enrollment | None]:
    """The lesson, if ``user`` may open it: enrolled, teaching the course, or a free preview."""
    course = catalog.get_course(session, slug, viewer=user)
    lesson = next((ls for ls in course.lessons if ls.key == lesson_key), None)
    if lesson is None:
        raise NotFound(f"course {slug!r} has no lesson {lesson_key!r}")
    enrollment = find_enrollment(session, user, course) if user is not None else None
    if not (lesson.free_preview or enrollment is not None or permissions.can_teach(user, course)):
        raise Forbidden(f"enroll in {course.title!r} to open this lesson")
    return course, lesson, enrollment


def resume_lesson(course: Course, enrollment: Enrollment) -> Lesson | None:
    """Where the student left off: the last lesson opened, else the first one."""
    by_key = {ls.key: ls for ls in course.lessons}
    return by_key.get(enrollment.last_lesson_key) or (course.lessons[0] if course.lessons else None)


def continue_lesson(course: Course, enrollment: Enrollment, completed: set[str]) -> Lesson | None:
    """Where "Continue" goes: the lesson left off if it is unfinished, else the next unfinished one
    after it (then from the start); None when every lesson is ``completed`` (keys)."""
    lessons = list(course.lessons)
    resume = resume_lesson(course, enrollment)
    if resume is None:
        return None
    start = lessons.index(resume)
    return next((ls for ls in lessons[start:] + lessons[:start] if ls.key not in completed), None)
