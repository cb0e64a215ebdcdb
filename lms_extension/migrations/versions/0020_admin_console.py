"""admin console: run-time settings, account states (reserved; its owner fills it in)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
