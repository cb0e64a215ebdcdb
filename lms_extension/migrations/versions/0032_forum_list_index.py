"""forum list index: a course's threads in the list's order (pinned, last activity, id)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-08 02:05:00
"""
from alembic import op


revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_forum_threads_course_pinned_activity', 'forum_threads',
                    ['course_id', 'pinned', 'last_activity_at', 'id'], unique=False)
    op.drop_index('ix_forum_threads_course_activity', table_name='forum_threads')


def downgrade() -> None:
    op.create_index('ix_forum_threads_course_activity', 'forum_threads', ['course_id', 'last_activity_at'],
                    unique=False)
    op.drop_index('ix_forum_threads_course_pinned_activity', table_name='forum_threads')
