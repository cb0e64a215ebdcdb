"""roster: per-student deadline extensions (reserved; its owner fills it in)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
