"""What a question asked from a notebook cell carries: the cell's code and output, the
traceback, the failing public tests and the lesson version (``services/forum_ask.py`` writes it).

Everything here was redacted against the lesson version's instructor notebook before it was
stored, so no hidden test or solution line is ever in these columns. The thread's author is
the thread's (``forum_threads.author_id``): this table holds no user id of its own.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class ForumAttachment(Base):
    __tablename__ = "forum_attachments"
    __table_args__ = (Index("ix_forum_attachments_course_signature", "course_id", "signature"),)

    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    lesson_version_id: Mapped[int | None] = mapped_column(ForeignKey("lesson_versions.id", ondelete="SET NULL"),
                                                          nullable=True)
    cell_id: Mapped[str] = mapped_column(String(100))
    # the error signature: sha256 of lesson, cell, exception type and failing test (similar questions)
    signature: Mapped[str] = mapped_column(String(64))
    exception: Mapped[str] = mapped_column(String(100), default="")  # e.g. AssertionError
    failing_tests: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of public tests' titles
    code: Mapped[str] = mapped_column(Text, default="")
    # the code cells above it as the student had them (to reproduce a failing test cell)
    context: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[str] = mapped_column(Text, default="")
    traceback: Mapped[str] = mapped_column(Text, default="")
    redacted_lines: Mapped[int] = mapped_column(Integer, default=0)  # lines taken out before storing
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
