"""Per-student deadline extensions (written only by ``services/extensions.py``)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamped, utcnow


class DeadlineExtension(Timestamped, Base):
    """One student's own deadline for one lesson, granted by the course's instructor or an admin.

    The grader, the submission checks and the student's sidebar use it in place of the lesson's
    deadline (``policies.effective_deadline``); it never makes a deadline earlier."""

    __tablename__ = "deadline_extensions"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id", name="uq_deadline_extensions_user_lesson"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500), default="")
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
