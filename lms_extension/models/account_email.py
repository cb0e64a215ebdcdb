"""Account email: the links that verify an address, change it, or reset a password, and which
address of each account has been verified.

Written only by ``services/account_email.py``. A link's secret is never stored: the row keeps
its SHA-256, so the table's content cannot be turned back into working links."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Timestamped, utcnow

# what a link does when followed
VERIFY = "verify"  # confirms the account's current address
CHANGE = "change"  # makes ``address`` the account's address (sent to that new address)
RESET = "reset"    # lets the hub set a new password (sent to the account's address)
PURPOSES = (VERIFY, CHANGE, RESET)


class EmailToken(Timestamped, Base):
    """One emailed link: single use, expiring, for one address."""

    __tablename__ = "email_tokens"
    __table_args__ = (Index("ix_email_tokens_user_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    # hex SHA-256 of the secret in the link
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the address the link was sent to (for CHANGE: the new address)
    address: Mapped[str] = mapped_column(String(254))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class VerifiedEmail(Base):
    """The address an account last proved it reads. The account's address is verified while
    ``users.email`` equals it: any change of ``users.email`` makes it unverified by itself."""

    __tablename__ = "verified_emails"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
