"""Web push: each browser a user asked to be told in, and the push outbox that `lms worker`
delivers. Written only by ``services/push.py``; the delivery rules are described there."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamped

# status of a push outbox row
QUEUED = "queued"    # waiting for its turn (next_attempt_at)
SENDING = "sending"  # claimed by a worker (lease_owner, lease_expires_at)
SENT = "sent"        # the push service accepted it (201)
FAILED = "failed"    # refused for good (4xx other than 404/410/429): last_error holds the answer
DEAD = "dead"        # temporary failures max_attempts times in a row: given up
STATUSES = (QUEUED, SENDING, SENT, FAILED, DEAD)


class PushSubscription(Timestamped, Base):
    """One browser's PushSubscription (its endpoint at the browser vendor's push service and
    the keys that encrypt for it). An endpoint belongs to one user: the browser's last login
    that subscribed it. The push service answering 404 or 410 removes the row."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))  # the browser's P-256 public key, base64url
    auth: Mapped[str] = mapped_column(String(50))     # its 16-byte auth secret, base64url
    user_agent: Mapped[str] = mapped_column(String(200), default="")  # to tell a user's browsers apart
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PushOutbox(Timestamped, Base):
    """One message to one subscription. ``dedupe_key`` names the event: a browser gets an event
    once however often it is reported (a unique constraint, so also under concurrent callers)."""

    __tablename__ = "push_outbox"
    __table_args__ = (
        UniqueConstraint("subscription_id", "dedupe_key", name="uq_push_outbox_subscription_dedupe"),
        Index("ix_push_outbox_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")  # a path inside the LMS
    dedupe_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
