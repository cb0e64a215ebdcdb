"""Grading: per-lesson grading policies, manual grades and comments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

# when students see a notebook submission's score, per-cell results and comments
RELEASE_ON_GRADING, RELEASE_HELD = "on_grading", "held"
FEEDBACK_RELEASES = (RELEASE_ON_GRADING, RELEASE_HELD)

# late policies a lesson may have (course.toml ``late_policy``)
LATE_NONE, LATE_ZERO, LATE_PERCENT = "none", "zero", "percent_per_day"
LATE_POLICIES = (LATE_NONE, LATE_ZERO, LATE_PERCENT)


class LessonPolicy(Base):
    """Deadline, late policy, attempt limit and cooldown of one lesson (absent: no limits)."""

    __tablename__ = "lesson_policies"

    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    late_policy: Mapped[str] = mapped_column(String(20), default=LATE_NONE)
    late_percent_per_day: Mapped[float] = mapped_column(Float, default=0.0)
    max_attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=0)


class ManualGrade(Base):
    """An instructor's points and comment for one cell of one submission (written answers, tasks)."""

    __tablename__ = "manual_grades"
    __table_args__ = (UniqueConstraint("submission_id", "notebook", "grade_id", name="uq_manual_grades_cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("notebook_submissions.id", ondelete="CASCADE"), index=True)
    notebook: Mapped[str] = mapped_column(String(200))
    grade_id: Mapped[str] = mapped_column(String(200))
    # None: a comment only; the autograder's points (if any) stand
    points: Mapped[float | None] = mapped_column(Float, nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CourseGradingSettings(Base):
    """A course's grading workflow settings (absent: feedback is released on grading)."""

    __tablename__ = "course_grading_settings"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    # "on_grading": students see each result as soon as it is stored; "held": only once the
    # instructor releases it (per lesson), which stamps ``notebook_submissions.feedback_released_at``
    feedback_release: Mapped[str] = mapped_column(String(20), default=RELEASE_ON_GRADING,
                                                  server_default=RELEASE_ON_GRADING)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
