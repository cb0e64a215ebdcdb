from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .course import Lesson, LessonVersion
from .user import User

# status of a notebook submission; the row itself is the grading queue
QUEUED, GRADING, GRADED, FAILED = "queued", "grading", "graded", "failed"


class NotebookSubmission(Base):
    """A student's submitted lesson notebook(s), stored before anything grades them.

    Workers claim rows (status + lease); a worker that dies loses nothing: its lease
    expires and another worker takes the job. Only the holder of the current lease can
    store a result, so nothing is graded twice.
    """

    __tablename__ = "notebook_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    lesson_version_id: Mapped[int] = mapped_column(ForeignKey("lesson_versions.id", ondelete="CASCADE"))
    # JSON object: notebook filename -> the student's notebook (nbformat JSON text)
    notebooks: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # JSON: per-cell results as the student may see them (no hidden test source)
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the student's n-th submission to this lesson (attempt limits count these)
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # score = max(0, (auto_score + manual_score) * (1 - late_penalty_percent / 100))
    auto_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    manual_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    late_penalty_percent: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # JSON object: notebook filename -> autograded notebook (hidden tests restored): instructors only
    autograded: Mapped[str | None] = mapped_column(Text, nullable=True)
    regrades: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # when the instructor released the feedback (score, per-cell results, comments) of a course whose
    # feedback is held (``course_grading_settings``); stays set once released
    feedback_released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    user: Mapped[User] = relationship()
    lesson: Mapped[Lesson] = relationship()
    lesson_version: Mapped[LessonVersion] = relationship()
    manual_grades: Mapped[list["ManualGrade"]] = relationship(  # noqa: F821
        cascade="all, delete-orphan", order_by="ManualGrade.id", passive_deletes=True)
