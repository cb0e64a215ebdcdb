"""The admin console's run-time settings (``services/platform_settings.py`` owns them)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class PlatformSetting(Base):
    """One setting an admin changed at run time, overriding the start-up default from
    ``LMSConfig``. A setting without a row has its configured default. Who changed it, and
    from what, is in the audit log."""

    __tablename__ = "platform_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # the value as JSON ("approved", 14, ...)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
