"""Opening a lesson: what it means across enrollments (may they, where to resume) and
progress (started, and completed when it has no graded parts)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import LessonVersion, User
from . import enrollments, progress


@dataclass(frozen=True)
class LessonDelivery:
    course_slug: str
    lesson_key: str
    filename: str
    version: int
    notebook: str  # the student version (nbformat JSON)


def deliver(session: Session, user: User | None, slug: str, lesson_key: str) -> LessonDelivery:
    """The student version of a lesson, for an enrolled user, its teacher or a free preview."""
    course, lesson, enrollment = enrollments.lesson_access(session, user, slug, lesson_key)
    version = session.scalars(
        select(LessonVersion).where(LessonVersion.lesson_id == lesson.id)
        .order_by(LessonVersion.number.desc()).limit(1)
    ).one()
    if enrollment is not None:
        enrollments.remember_lesson(enrollment, lesson)
    if user is not None:
        progress.record_open(session, user, lesson)
        if enrollment is not None:
            progress.refresh_lesson(session, user.id, lesson)
    return LessonDelivery(course.slug, lesson.key, lesson.filename, version.number,
                          version.student_notebook)
