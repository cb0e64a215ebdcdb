"""discovery: reviews, wishlist, search

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 14:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEARCH_FIELDS = ("title", "subtitle", "description", "lessons", "instructor")


def upgrade() -> None:
    op.create_table(
        "course_stats",
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", name="fk_course_stats_course_id_courses", ondelete="CASCADE"), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_avg", sa.Float(), nullable=False),
        *[sa.Column(f"rating_{n}", sa.Integer(), nullable=False) for n in range(1, 6)],
        sa.Column("enrollment_count", sa.Integer(), nullable=False),
        sa.Column("trending_score", sa.Float(), nullable=False),
        sa.Column("refreshed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("course_id", name="pk_course_stats"),
    )
    for col in ("rating_avg", "enrollment_count", "trending_score"):
        op.create_index(f"ix_course_stats_{col}", "course_stats", [col])

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", name="fk_reviews_course_id_courses", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_reviews_user_id_users", ondelete="CASCADE"), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("helpful_count", sa.Integer(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("reply_html", sa.Text(), nullable=True),
        sa.Column("replied_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.UniqueConstraint("user_id", "course_id", name="uq_reviews_user_course"),
    )
    op.create_index("ix_reviews_user_id", "reviews", ["user_id"])
    op.create_index("ix_reviews_course_created", "reviews", ["course_id", "created_at"])
    op.create_index("ix_reviews_course_helpful", "reviews", ["course_id", "helpful_count"])

    op.create_table(
        "review_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id", name="fk_review_votes_review_id_reviews", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_review_votes_user_id_users", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_votes"),
        sa.UniqueConstraint("review_id", "user_id", name="uq_review_votes_review_user"),
    )
    op.create_index("ix_review_votes_user_id", "review_votes", ["user_id"])

    op.create_table(
        "review_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id", name="fk_review_reports_review_id_reviews", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_review_reports_user_id_users", ondelete="CASCADE"), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_by_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_review_reports_resolved_by_id_users", ondelete="SET NULL"), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_reports"),
        sa.UniqueConstraint("review_id", "user_id", name="uq_review_reports_review_user"),
    )
    op.create_index("ix_review_reports_status", "review_reports", ["status"])

    op.create_table(
        "wishlist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_wishlist_items_user_id_users", ondelete="CASCADE"), nullable=False),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", name="fk_wishlist_items_course_id_courses", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wishlist_items"),
        sa.UniqueConstraint("user_id", "course_id", name="uq_wishlist_items_user_course"),
    )
    op.create_index("ix_wishlist_items_course_id", "wishlist_items", ["course_id"])

    op.create_table(
        "wishlist_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_wishlist_events_user_id_users", ondelete="CASCADE"), nullable=False),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", name="fk_wishlist_events_course_id_courses", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("old_price_cents", sa.Integer(), nullable=True),
        sa.Column("new_price_cents", sa.Integer(), nullable=True),
        sa.Column("coupon_code", sa.String(64), nullable=True),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("amount_off_cents", sa.Integer(), nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wishlist_events"),
    )
    for col in ("user_id", "course_id", "delivered_at"):
        op.create_index(f"ix_wishlist_events_{col}", "wishlist_events", [col])

    op.create_table(
        "featured_courses",
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", name="fk_featured_courses_course_id_courses", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_featured_courses_added_by_id_users", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("course_id", name="pk_featured_courses"),
    )

    op.create_table(
        "search_documents",
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", name="fk_search_documents_course_id_courses", ondelete="CASCADE"), nullable=False),
        *[sa.Column(f, sa.Text(), nullable=False) for f in SEARCH_FIELDS],
        sa.Column("indexed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("course_id", name="pk_search_documents"),
    )
    op.create_table(
        "search_terms",
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("doc_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name="pk_search_terms"),
    )

    # the dialect's full-text index (see models.discovery.SEARCH_INDEX_TABLES)
    if op.get_bind().dialect.name == "sqlite":
        # text arrives pre-normalized (lower case, accents stripped, one space between words),
        # so unicode61 splits it exactly as PostgreSQL's 'simple' parser does
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5("
                   + ", ".join(SEARCH_FIELDS) + ", tokenize='unicode61 remove_diacritics 0', prefix='2 3')")
    else:
        op.execute("CREATE TABLE search_index (course_id integer PRIMARY KEY REFERENCES courses(id) ON DELETE CASCADE, "
                   + ", ".join(f"{f} tsvector NOT NULL" for f in SEARCH_FIELDS)
                   + ", document tsvector NOT NULL)")
        for f in SEARCH_FIELDS + ("document",):
            op.execute(f"CREATE INDEX search_index_{f}_gin ON search_index USING gin ({f})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP TABLE IF EXISTS search_index")
    for table in ("search_terms", "search_documents", "featured_courses", "wishlist_events", "wishlist_items",
                  "review_reports", "review_votes", "reviews", "course_stats"):
        op.drop_table(table)
