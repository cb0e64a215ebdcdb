"""instructor applications (issue 14, point 1) (reserved; its owner fills it in)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
