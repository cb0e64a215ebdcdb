"""Digest emails (each user's choice and the digests already made) and the email templates an
admin edited. ``services/digests.py`` writes ``digest_preferences`` and ``digest_runs``;
``services/email_templates.py`` writes ``email_templates``."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamped, utcnow

DIGEST_OFF, DIGEST_DAILY, DIGEST_WEEKLY = "off", "daily", "weekly"
DIGEST_FREQUENCIES = (DIGEST_OFF, DIGEST_DAILY, DIGEST_WEEKLY)


class DigestPreference(Base):
    """How often a user wants the digest email; without a row: never."""

    __tablename__ = "digest_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(8), default=DIGEST_OFF)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DigestRun(Timestamped, Base):
    """One user's digest of one period ("daily:2026-12-08", "weekly:2026-W50"), made once: the
    unique (user, period) decides between workers; ``items`` 0 means nothing was worth sending."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("user_id", "period", name="uq_digest_runs_user_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(32))
    items: Mapped[int] = mapped_column(Integer, default=0)


class EmailTemplate(Base):
    """An admin's version of one email's subject, text and HTML (a notification kind or
    "digest"); without a row the files in ``templates/email/`` are used."""

    __tablename__ = "email_templates"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
