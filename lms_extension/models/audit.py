"""The audit log: who changed money, access or content, when, and what it was before and after."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class AuditEntry(Base):
    """One action of an admin or instructor. Rows are only ever inserted: the migration adds
    triggers that refuse UPDATE and DELETE on this table (SQLite and PostgreSQL alike).

    The actor is kept by id and by name without a foreign key, so that the record of what an
    account did outlives the account."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    # dotted verb, e.g. "course.publish", "coupon.create", "user.deactivate"
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(String(500), default="")
    # JSON documents of the changed fields (empty: nothing before, e.g. a creation)
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
