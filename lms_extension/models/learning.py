"""Learning: progress heartbeats, quizzes, certificates, achievements, XP, streaks, notes, bookmarks, resources.

Time spent and completion live on ``lesson_progress`` (``models.user.LessonProgress``);
everything else has a table here.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamped, utcnow
from .course import Course, Lesson
from .user import User


class LearnerProfile(Base):
    """Per-user learning settings: the time zone streaks are counted in, leaderboard privacy."""

    __tablename__ = "learner_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    leaderboard_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)


class CourseLearningSettings(Base):
    """What course.toml says about completion; a course without a row uses the defaults."""

    __tablename__ = "course_learning_settings"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    pass_threshold: Mapped[float] = mapped_column(Float, default=0.7)


class Quiz(Base):
    """A question authored in a lesson's source notebook (cell metadata ``lms.quiz``).

    ``answer`` (JSON) is the key; it never leaves the server.
    """

    __tablename__ = "quizzes"
    __table_args__ = (UniqueConstraint("lesson_id", "key", name="uq_quizzes_lesson_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # choice | short
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    answer: Mapped[str] = mapped_column(Text)  # JSON: list of option indexes, or accepted strings
    points: Mapped[float] = mapped_column(Float, default=1.0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=0)  # 0: unlimited
    feedback_correct: Mapped[str] = mapped_column(Text, default="")
    feedback_wrong: Mapped[str] = mapped_column(Text, default="")

    lesson: Mapped[Lesson] = relationship()


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    response: Mapped[str] = mapped_column(Text)  # JSON, as submitted (normalised)
    correct: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Certificate(Base):
    """Issued once per (user, course) on completion; names are frozen at issue time."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_certificates_user_course"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    student_name: Mapped[str] = mapped_column(String(255))
    course_title: Mapped[str] = mapped_column(String(200))
    instructor_name: Mapped[str] = mapped_column(String(255), default="")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()


class Achievement(Base):
    """A badge earned: ``key`` says which; ``scope`` makes per-course ones unique per course."""

    __tablename__ = "achievements"
    __table_args__ = (UniqueConstraint("user_id", "key", "scope", name="uq_achievements_user_key_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(120), default="")
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), nullable=True)
    awarded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class XPEvent(Base):
    """Experience points; (user, reason, ref) is unique so nothing is counted twice."""

    __tablename__ = "xp_events"
    __table_args__ = (UniqueConstraint("user_id", "reason", "ref", name="uq_xp_events_user_reason_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(32))  # lesson | exercise | challenge | quiz
    ref: Mapped[str] = mapped_column(String(120))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class ActivityDay(Base):
    """A calendar day (in the learner's time zone at that moment) with learning activity."""

    __tablename__ = "activity_days"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_activity_days_user_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)


class LessonNote(Base):
    __tablename__ = "lesson_notes"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id", name="uq_lesson_notes_user_lesson"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LessonBookmark(Timestamped, Base):
    __tablename__ = "lesson_bookmarks"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id", name="uq_lesson_bookmarks_user_lesson"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")


class LessonResource(Timestamped, Base):
    """A downloadable file of a lesson, kept in the configured storage under ``storage_key``."""

    __tablename__ = "lesson_resources"
    __table_args__ = (UniqueConstraint("lesson_id", "name", name="uq_lesson_resources_lesson_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    storage_key: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")


class LessonVideo(Base):
    """A lesson's video (a storage key) and its chapters (JSON list of {start, title})."""

    __tablename__ = "lesson_videos"

    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(100), default="video/mp4")
    chapters: Mapped[str] = mapped_column(Text, default="[]")
