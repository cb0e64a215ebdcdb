"""Courses authored on the web: each lesson's draft (``services/course_authoring.py`` owns it).

A draft holds what the instructor is editing: the lesson's title, place, preview flag, its
nbgrader source notebook and its grading policy. Publish turns the drafts into lessons and
new ``LessonVersion`` rows through ``course_import`` (which owns lessons and versions), so the
students' notebooks are generated exactly as ``lms course import`` generates them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class LessonDraft(Base):
    __tablename__ = "lesson_drafts"
    __table_args__ = (UniqueConstraint("course_id", "key", name="uq_lesson_drafts_course_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))  # the lesson's id (Lesson.key once published)
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    free_preview: Mapped[bool] = mapped_column(Boolean, default=False)
    # the nbgrader source notebook (solutions and hidden tests): never shown to students
    source_notebook: Mapped[str] = mapped_column(Text)
    # the lesson's policy as course.toml keys (JSON object); "" for none
    policy: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
