from __future__ import annotations

import re

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamped, utcnow
from .user import Instructor

LEVELS = ("beginner", "intermediate", "advanced")
# course slugs, lesson ids and challenge ids
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


class Course(Timestamped, Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    subtitle: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), index=True)
    level: Mapped[str] = mapped_column(String(20), index=True)
    language: Mapped[str] = mapped_column(String(10), default="en")
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    published: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    instructor_id: Mapped[int | None] = mapped_column(
        ForeignKey("instructors.id", ondelete="SET NULL"), nullable=True, index=True
    )

    instructor: Mapped[Instructor | None] = relationship()
    # joined: a course page needs no query of its own for it; services/covers.py writes it
    cover: Mapped["CourseCover | None"] = relationship(viewonly=True, lazy="joined")
    lessons: Mapped[list["Lesson"]] = relationship(
        back_populates="course", order_by="Lesson.position", cascade="all, delete-orphan"
    )

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0

    @property
    def minutes(self) -> int:
        return sum(lesson.minutes or 0 for lesson in self.lessons)


class CourseCover(Base):
    """A cover image an instructor uploaded for a course (``services/covers.py``); without one
    the course gets a generated SVG cover."""

    __tablename__ = "course_covers"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    # changes with each upload: part of the storage keys and URLs, so they can be cached for ever
    version: Mapped[str] = mapped_column(String(32))
    # the widths stored, comma-separated ("320,640,960")
    widths: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)  # of the largest rendition
    height: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("course_id", "key", name="uq_lessons_course_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # the stable id an author gives the lesson in course.toml
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    free_preview: Mapped[bool] = mapped_column(Boolean, default=False)
    filename: Mapped[str] = mapped_column(String(200))
    # estimated study time: course.toml's ``minutes``, else the importer's estimate from the notebook
    minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    course: Mapped[Course] = relationship(back_populates="lessons")
    versions: Mapped[list["LessonVersion"]] = relationship(
        back_populates="lesson", order_by="LessonVersion.number", cascade="all, delete-orphan"
    )
    challenges: Mapped[list["Challenge"]] = relationship(  # noqa: F821
        back_populates="lesson", order_by="Challenge.position", cascade="all, delete-orphan"
    )


class LessonVersion(Timestamped, Base):
    """An immutable published version of a lesson notebook.

    ``source_notebook`` holds solutions and hidden tests and never leaves the server;
    ``student_notebook`` is what nbgrader's generate step produced from it.
    """

    __tablename__ = "lesson_versions"
    __table_args__ = (UniqueConstraint("lesson_id", "number", name="uq_lesson_versions_lesson_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_notebook: Mapped[str] = mapped_column(Text)
    student_notebook: Mapped[str] = mapped_column(Text)

    lesson: Mapped[Lesson] = relationship(back_populates="versions")
