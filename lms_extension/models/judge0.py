from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class Judge0Submission(Base):
    """One submission to the Judge0-compatible API, readable by its token from any process.

    Texts a program reads or writes are bytes (a program may print anything); the API
    renders them as text or Base64 when asked. Rows go ``submission_ttl`` after creation.
    """

    __tablename__ = "judge0_submissions"

    token: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The hub user who sent it; None on a standalone server, where X-Auth-Token holders share all.
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    language_id: Mapped[int] = mapped_column(Integer)
    source_code: Mapped[bytes] = mapped_column(LargeBinary)
    stdin: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    expected_output: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # graders.limits.Limits as a JSON object
    limits: Mapped[str] = mapped_column(Text)
    number_of_runs: Mapped[int] = mapped_column(Integer, default=1)
    compiler_options: Mapped[str | None] = mapped_column(Text, nullable=True)
    command_line_arguments: Mapped[str | None] = mapped_column(Text, nullable=True)
    redirect_stderr_to_stdout: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_id: Mapped[int] = mapped_column(Integer, default=1)
    # graders.judging.Status of the result, which Judge0's status id does not tell apart
    verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)
    stdout: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    stderr: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    compile_output: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exit_signal: Mapped[str | None] = mapped_column(String(16), nullable=True)  # "SIGSEGV"
    time: Mapped[float | None] = mapped_column(Float, nullable=True)
    wall_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
