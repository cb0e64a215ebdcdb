"""Analytics: the events no other table keeps (storefront visits, sign-up sources) and the
reports the worker computes from them and from the learning and commerce tables.

Pages read ``analytics_reports`` only, so an analytics page costs one query whatever the
size of the data; ``services/analytics.py`` writes all three tables.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

# what a visit event is a visit of
CATALOG_VISIT, COURSE_VISIT = "catalog", "course"


class AnalyticsEvent(Base):
    """A visit to the catalog or a course page, appended in batches (never updated).

    ``visitor`` is a daily keyed hash of the browser's address and user agent (no cookie:
    ``services.analytics.visitor_id``), so that the funnel counts browsers per day, not page
    loads; ``user_id`` is set when the visitor was logged in.
    """

    __tablename__ = "analytics_events"
    __table_args__ = (Index("ix_analytics_events_course_created", "course_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    visitor: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class SignupSource(Base):
    """Where a user came from before signing up: the UTM parameters and referrer of their
    first storefront visit (a cookie carries them to the sign-up)."""

    __tablename__ = "signup_sources"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(100))  # utm_source, else the referring host, else "direct"
    medium: Mapped[str] = mapped_column(String(100), default="")
    campaign: Mapped[str] = mapped_column(String(100), default="")
    referrer: Mapped[str] = mapped_column(String(255), default="")  # the referring host only
    landing: Mapped[str] = mapped_column(String(255), default="")  # the path of the first visit
    first_visit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnalyticsReport(Base):
    """One computed report (JSON rows) of a course (``scope`` "course:<id>") or of the
    platform (``scope`` "platform"), replaced by each run of the analytics job."""

    __tablename__ = "analytics_reports"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), nullable=True,
                                                  index=True)
    data: Mapped[str] = mapped_column(Text, default="[]")
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = ["AnalyticsEvent", "AnalyticsReport", "SignupSource", "CATALOG_VISIT", "COURSE_VISIT"]
