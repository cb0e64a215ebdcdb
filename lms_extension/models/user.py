from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamped, utcnow


class User(Timestamped, Base):
    """A JupyterHub account, mirrored on first request. JupyterHub owns identity.

    A row belongs to the hub *account* (``hub_account_id``, given by the hub's authenticator),
    not to the name: a name freed by a deleted account may be taken by a new sign-up. A deleted
    account leaves an anonymised tombstone (``deleted_at`` set, ``hub_name`` ``deleted/<id>``,
    which no hub name can be) that only the records kept for accounting point at.
    """

    __tablename__ = "users"
    # a unique index, not a constraint: SQLite adds it without rebuilding the table (a rebuild
    # drops ``users``, and with foreign keys on that cascades into every table pointing at it)
    __table_args__ = (Index("uq_users_hub_account_id", "hub_account_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hub_name: Mapped[str] = mapped_column(String(255), unique=True)
    # NULL: a row made before the account was first seen (imports, demo users, older versions)
    hub_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # set by an admin (services/users.py set_active): cannot log in nor use the LMS until reactivated
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the email given at sign-up (the hub's user_info), for the admin console's search; erased with the account
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    display_name: Mapped[str] = mapped_column(String(255), default="")
    is_instructor: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    instructor: Mapped["Instructor | None"] = relationship(back_populates="user")


class Instructor(Timestamped, Base):
    """Public profile of someone who teaches."""

    __tablename__ = "instructors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    headline: Mapped[str] = mapped_column(String(255), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    # "" without a photo; else a token that changes with each upload (the photo's storage key and URL)
    photo_version: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # ISO 3166-1 alpha-2 country the instructor is paid in (from their application); "" unknown
    payout_country: Mapped[str] = mapped_column(String(2), default="", server_default="")

    user: Mapped[User] = relationship(back_populates="instructor")


class Enrollment(Timestamped, Base):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_enrollments_user_course"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # how access was granted: free, purchase, subscription, admin
    source: Mapped[str] = mapped_column(String(32), default="free")
    last_lesson_key: Mapped[str | None] = mapped_column(String(100), nullable=True)

    user: Mapped[User] = relationship()
    course: Mapped["Course"] = relationship()  # noqa: F821


class ActivityClock(Base):
    """How far a user's reported working time has been counted, across all their lessons: the
    time counted since any moment never exceeds the time since that moment, however many
    lessons a report (or a student's forged reports) name."""

    __tablename__ = "activity_clocks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    counted_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LessonProgress(Base):
    """One row per (user, lesson) the user has opened: time spent (from heartbeats) and completion."""

    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress_user_lesson"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    first_opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seconds_spent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
