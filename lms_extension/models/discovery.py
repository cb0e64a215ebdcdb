"""Discovery: reviews, votes, reports, wishlist, price events, featured courses, search index."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamped, utcnow
from .user import User

# Dialect-specific full-text objects created by migration 0007 outside the models: the SQLite
# FTS5 virtual table (and the shadow tables FTS5 makes for it) and the PostgreSQL tsvector
# table. Schema comparisons (migrations/env.py, tests/test_migrations.py) skip exactly these.
SEARCH_INDEX_TABLES = frozenset({
    "search_fts", "search_fts_data", "search_fts_idx", "search_fts_content", "search_fts_docsize",
    "search_fts_config", "search_index",
})


def include_schema_name(name, type_, parent_names) -> bool:
    """Alembic ``include_name`` hook: leave the search-index objects out of comparisons."""
    if type_ == "table":
        return name not in SEARCH_INDEX_TABLES
    return True


class CourseStats(Base):
    """Denormalized per-course figures so cards and pages never aggregate reviews per request.

    Rating columns change in the same transaction as the review that changes them;
    ``enrollment_count`` and ``trending_score`` are refreshed by ``services.trending``.
    """

    __tablename__ = "course_stats"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_avg: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    rating_1: Mapped[int] = mapped_column(Integer, default=0)
    rating_2: Mapped[int] = mapped_column(Integer, default=0)
    rating_3: Mapped[int] = mapped_column(Integer, default=0)
    rating_4: Mapped[int] = mapped_column(Integer, default=0)
    rating_5: Mapped[int] = mapped_column(Integer, default=0)
    enrollment_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    trending_score: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def distribution(self) -> dict[int, int]:
        return {n: getattr(self, f"rating_{n}") for n in range(5, 0, -1)}


class Review(Timestamped, Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id", name="uq_reviews_user_course"),
        Index("ix_reviews_course_created", "course_id", "created_at"),
        Index("ix_reviews_course_helpful", "course_id", "helpful_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text, default="")
    # sanitized when written, so pages never render Markdown per request
    body_html: Mapped[str] = mapped_column(Text, default="")
    # visible | hidden (a moderator removed it; it no longer counts in the aggregates)
    status: Mapped[str] = mapped_column(String(16), default="visible")
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    reply_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship()


class ReviewVote(Timestamped, Base):
    __tablename__ = "review_votes"
    __table_args__ = (UniqueConstraint("review_id", "user_id", name="uq_review_votes_review_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class ReviewReport(Timestamped, Base):
    """A user's report of a review: the moderation queue is the open ones."""

    __tablename__ = "review_reports"
    __table_args__ = (UniqueConstraint("review_id", "user_id", name="uq_review_reports_review_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    # open | dismissed | removed
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    review: Mapped[Review] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class WishlistItem(Timestamped, Base):
    __tablename__ = "wishlist_items"
    __table_args__ = (UniqueConstraint("user_id", "course_id", name="uq_wishlist_items_user_course"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)


class WishlistEvent(Timestamped, Base):
    """A wishlisted course got cheaper or a coupon: stored here, delivered by notifications later."""

    __tablename__ = "wishlist_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # price_drop | coupon
    kind: Mapped[str] = mapped_column(String(16))
    old_price_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_price_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    coupon_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    percent_off: Mapped[int | None] = mapped_column(Integer, nullable=True)
    amount_off_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class FeaturedCourse(Timestamped, Base):
    """Admin-curated courses on the catalog home, in ``position`` order."""

    __tablename__ = "featured_courses"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class SearchDocument(Base):
    """The normalized text a course is searched by (one row per course), and what the
    dialect's full-text index (``search_fts`` / ``search_index``) is built from."""

    __tablename__ = "search_documents"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    subtitle: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    lessons: Mapped[str] = mapped_column(Text, default="")
    instructor: Mapped[str] = mapped_column(Text, default="")
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SearchTerm(Base):
    """Vocabulary of the index (term -> number of courses using it) for spelling correction."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    doc_count: Mapped[int] = mapped_column(Integer, default=0)


__all__ = ["CourseStats", "Review", "ReviewVote", "ReviewReport", "WishlistItem", "WishlistEvent",
           "FeaturedCourse", "SearchDocument", "SearchTerm", "SEARCH_INDEX_TABLES"]
