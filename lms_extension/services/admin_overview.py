"""The admin console's overview: how many of each thing waits for an admin (read-only)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Course, NotebookSubmission, User
from ..models.commerce import RefundRequest
from ..models.discovery import ReviewReport


def _count(session: Session, stmt) -> int:
    return session.scalar(stmt) or 0


def counts(session: Session) -> dict[str, int | None]:
    """Users, instructors, courses, and what waits: instructor applications, refund requests,
    reported reviews, submissions not graded yet. ``None``: not available in this version."""
    live = User.deleted_at.is_(None)
    values: dict[str, int | None] = {
        "users": _count(session, select(func.count(User.id)).where(live)),
        "deactivated": _count(session, select(func.count(User.id)).where(live, User.deactivated_at.is_not(None))),
        "instructors": _count(session, select(func.count(User.id)).where(live, User.is_instructor.is_(True))),
        "admins": _count(session, select(func.count(User.id)).where(live, User.is_admin.is_(True))),
        "courses": _count(session, select(func.count(Course.id))),
        "published_courses": _count(session, select(func.count(Course.id)).where(Course.published.is_(True))),
        "pending_refunds": _count(session, select(func.count(RefundRequest.id)).where(RefundRequest.status == "pending")),
        "reported_reviews": _count(session, select(func.count(func.distinct(ReviewReport.review_id)))
                                   .where(ReviewReport.status == "open")),
        "ungraded_submissions": _count(session, select(func.count(NotebookSubmission.id))
                                       .where(NotebookSubmission.status.in_(("queued", "grading")))),
        "pending_applications": None,
    }
    try:  # instructor applications (services/instructor_applications.py) may not be installed
        from ..models.applications import InstructorApplication
    except ImportError:
        return values
    values["pending_applications"] = _count(session, select(func.count(InstructorApplication.id))
                                            .where(InstructorApplication.status == "pending"))
    return values
