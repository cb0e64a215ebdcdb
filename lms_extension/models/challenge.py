from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamped
from .course import Lesson


class Challenge(Base):
    """A code challenge inside a lesson: statement, starter code, test cases."""

    __tablename__ = "challenges"
    __table_args__ = (UniqueConstraint("lesson_id", "key", name="uq_challenges_lesson_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # JSON object: editor mode (python, cpp, c, java, javascript) -> starter code
    starter_code: Mapped[str] = mapped_column(Text, default="{}")
    cpu_time_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory_limit_kb: Mapped[int | None] = mapped_column(Integer, nullable=True)

    lesson: Mapped[Lesson] = relationship(back_populates="challenges")
    tests: Mapped[list["ChallengeTest"]] = relationship(
        back_populates="challenge", order_by="ChallengeTest.position", cascade="all, delete-orphan")


class ChallengeTest(Base):
    __tablename__ = "challenge_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    stdin: Mapped[str] = mapped_column(Text, default="")
    expected_output: Mapped[str] = mapped_column(Text, default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)

    challenge: Mapped[Challenge] = relationship(back_populates="tests")


class ChallengeSubmission(Timestamped, Base):
    """A stored submission: the source and per-test outcomes (never hidden inputs)."""

    __tablename__ = "challenge_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    language_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    # passed | failed | compilation_error | error
    status: Mapped[str] = mapped_column(String(32))
    passed: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    compile_output: Mapped[str | None] = mapped_column(Text, nullable=True)
    # JSON list of per-test outcomes as shown to the student
    results: Mapped[str] = mapped_column(Text, default="[]")
