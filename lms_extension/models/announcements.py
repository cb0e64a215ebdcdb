"""Course announcements: an instructor's news to a course's students (``services/announcements.py``)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamped


class Announcement(Timestamped, Base):
    """A title and a Markdown body, shown on the course page and in JupyterLab's Course panel.
    The body is kept as written; pages render it through the sanitiser (``web/markdown.py``)."""

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_course_created", "course_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
