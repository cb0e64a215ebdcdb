"""Who may learn what: enrollments and access to lesson notebooks."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import permissions
from ..errors import Forbidden, NotFound, PaymentRequired
from ..models import Course, Enrollment, Lesson, LessonProgress, LessonVersion, User
from ..models.base import utcnow
from . import catalog


def find_enrollment(session: Session, user: User, course: Course) -> Enrollment | None:
    return session.scalars(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    ).one_or_none()


def enroll(session: Session, user: User, slug: str) -> tuple[Enrollment, bool]:
    """Enroll ``user`` in a free course. Returns (enrollment, created).

    Paid courses need a purchase (``PaymentRequired``) until the commerce issue grants them.
    """
    course = catalog.get_course(session, slug, viewer=user)
    existing = find_enrollment(session, user, course)
    if existing is not None:
        return existing, False
    subscribed = not course.is_free and _has_all_access(session, user)
    if not course.is_free and not permissions.can_teach(user, course) and not subscribed:
        raise PaymentRequired(
            f"{course.title!r} costs {course.price_cents / 100:.2f} {course.currency.upper()}: "
            "buy it to enroll", price_cents=course.price_cents, currency=course.currency,
        )
    enrollment = Enrollment(user_id=user.id, course_id=course.id,
                            source="free" if course.is_free else ("subscription" if subscribed else "staff"))
    try:
        with session.begin_nested():
            session.add(enrollment)
    except IntegrityError:  # a concurrent request enrolled first
        return find_enrollment(session, user, course), False
    return enrollment, True


def _has_all_access(session: Session, user: User) -> bool:
    from .payments.access import has_all_access  # commerce (issue 5): an all-access subscription

    return has_all_access(session, user.id)


def enrollments_for(session: Session, user: User) -> list[Enrollment]:
    return list(session.scalars(
        select(Enrollment).where(Enrollment.user_id == user.id)
        .options(selectinload(Enrollment.course).selectinload(Course.lessons))
        .order_by(Enrollment.created_at.desc())
    ))


@dataclass(frozen=True)
class LessonDelivery:
    course_slug: str
    lesson_key: str
    filename: str
    version: int
    notebook: str  # the student version (nbformat JSON)


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


def deliver_lesson(session: Session, user: User | None, slug: str, lesson_key: str) -> LessonDelivery:
    """The student version of a lesson, for an enrolled user or a free preview."""
    course, lesson, enrollment = lesson_access(session, user, slug, lesson_key)
    version = session.scalars(
        select(LessonVersion).where(LessonVersion.lesson_id == lesson.id)
        .order_by(LessonVersion.number.desc()).limit(1)
    ).one()
    if enrollment is not None:
        enrollment.last_lesson_key = lesson.key
    if user is not None:
        record_open(session, user, lesson)
        from . import progress; progress.after_lesson_opened(session, user, lesson, enrollment)  # noqa: E702
    return LessonDelivery(course.slug, lesson.key, lesson.filename, version.number,
                          version.student_notebook)


def resume_lesson(course: Course, enrollment: Enrollment) -> Lesson | None:
    """Where the student left off: the last lesson opened, else the first one."""
    by_key = {ls.key: ls for ls in course.lessons}
    return by_key.get(enrollment.last_lesson_key) or (course.lessons[0] if course.lessons else None)


def record_open(session: Session, user: User, lesson: Lesson) -> None:
    progress = session.scalars(
        select(LessonProgress).where(LessonProgress.user_id == user.id,
                                     LessonProgress.lesson_id == lesson.id)
    ).one_or_none()
    if progress is None:
        try:
            with session.begin_nested():
                session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id))
        except IntegrityError:  # opened concurrently in another request
            pass
    else:
        progress.last_opened_at = utcnow()


def started_counts(session: Session, user: User, course_ids: list[int]) -> dict[int, int]:
    """Lessons started per course (issue 6 turns this into completion-based progress)."""
    if not course_ids:
        return {}
    rows = session.execute(
        select(Lesson.course_id, func.count(LessonProgress.id))
        .join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
        .where(LessonProgress.user_id == user.id, Lesson.course_id.in_(course_ids))
        .group_by(Lesson.course_id)
    )
    return dict(rows.all())
