"""Applications to teach: a signed-in user's profile for review, and an admin's decision."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamped
from .user import User

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


class InstructorApplication(Timestamped, Base):
    """One application; a rejected applicant may apply again (a new row, the old one kept).

    At most one pending application per user (a partial unique index). The decision stays on
    the row: the applicant's status page and banner read it (``seen_at``: the applicant has
    seen the decision, so the banner stops)."""

    __tablename__ = "instructor_applications"
    __table_args__ = (
        Index("uq_instructor_applications_pending", "user_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    display_name: Mapped[str] = mapped_column(String(80))
    headline: Mapped[str] = mapped_column(String(120), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    payout_country: Mapped[str] = mapped_column(String(2))
    # "" without a photo; else the version of its renditions in storage (applications/<id>/...)
    photo_version: Mapped[str] = mapped_column(String(32), default="", server_default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
