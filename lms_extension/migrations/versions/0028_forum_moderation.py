"""forum moderation: reports, hidden posts, suspensions, duplicates, watch/track/mute

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
