"""activity_clocks: the time counted across a user's lessons never exceeds the wall clock

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 17:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activity_clocks',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('counted_until', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_activity_clocks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_activity_clocks'))
    )


def downgrade() -> None:
    op.drop_table('activity_clocks')
