"""courses authored on the web: drafts, sources, versions (reserved; its owner fills it in)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
