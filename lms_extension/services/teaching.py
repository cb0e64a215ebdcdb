"""What instructors see about the courses they teach."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import permissions
from ..models import Course, Enrollment, Instructor, User


def courses_taught(session: Session, user: User) -> list[dict]:
    permissions.require_instructor(user, "only instructors have a teaching page")
    stmt = select(Course).options(selectinload(Course.lessons)).order_by(Course.title)
    if not permissions.is_admin(user):
        stmt = stmt.join(Instructor).where(Instructor.user_id == user.id)
    courses = session.scalars(stmt).all()
    counts = dict(session.execute(
        select(Enrollment.course_id, func.count(Enrollment.id))
        .where(Enrollment.course_id.in_([c.id for c in courses])).group_by(Enrollment.course_id)
    ).all())
    return [{"course": c, "students": counts.get(c.id, 0)} for c in courses]
