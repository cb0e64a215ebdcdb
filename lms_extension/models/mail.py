"""Email: the outbox (one row per message to send), delivered over SMTP by `lms worker`.

Written only by ``services/mail.py``; the delivery rules (leases, retries, the exactly-once
window) are described there."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamped

# status of an outbox row
QUEUED = "queued"    # waiting for its turn (next_attempt_at)
SENDING = "sending"  # claimed by a worker (lease_owner, lease_expires_at)
SENT = "sent"        # the SMTP server accepted it
FAILED = "failed"    # refused for good (5xx): last_error holds the server's reply
DEAD = "dead"        # temporary failures max_attempts times in a row: given up
STATUSES = (QUEUED, SENDING, SENT, FAILED, DEAD)


class MailOutbox(Timestamped, Base):
    """One email to send. The row is the queue: a worker claims due rows with a lease, sends
    them, and records each result in its own transaction."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    # the same key twice is one message (a unique constraint, so also under concurrent callers)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    unsubscribe_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    # local part of the Message-ID, fixed at enqueue: every attempt sends the same Message-ID
    message_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # set on a ``sending`` row just before its end of DATA goes out (the hand-over): from then on
    # it is never sent again; on a ``sent`` row, when it went
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
