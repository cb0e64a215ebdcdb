"""admin console: run-time settings, account states

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:00:00

``platform_settings``: the settings an admin changes at run time (sign-up mode, 2FA
requirement, refund window, default revenue share). ``users.deactivated_at``: a deactivated
account cannot log in nor use the LMS. ``users.email``: the sign-up email (from the hub's
``user_info``), for the console's search. Plain ``ADD COLUMN``, on purpose: on SQLite a batch
rebuild of ``users`` would drop the table, and with foreign keys on that deletes every row
that points at a user.
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('platform_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_platform_settings'))
    )
    op.add_column('users', sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('email', sa.String(length=254), server_default='', nullable=False))


def downgrade() -> None:
    op.drop_column('users', 'email')
    op.drop_column('users', 'deactivated_at')
    op.drop_table('platform_settings')
