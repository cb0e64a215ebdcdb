"""forum ask-from-cell: what a question from a notebook cell attaches

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forum_attachments",
        sa.Column("thread_id", sa.Integer(), sa.ForeignKey("forum_threads.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lesson_version_id", sa.Integer(), sa.ForeignKey("lesson_versions.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("cell_id", sa.String(100), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("exception", sa.String(100), nullable=False),
        sa.Column("failing_tests", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("redacted_lines", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_forum_attachments_course_signature", "forum_attachments", ["course_id", "signature"])


def downgrade() -> None:
    op.drop_index("ix_forum_attachments_course_signature", table_name="forum_attachments")
    op.drop_table("forum_attachments")
