"""accounts: LMS rows tied to the hub account, not the name; tombstones of deleted accounts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:40:00

Existing rows get no account id: each is adopted by the account that holds its name when
that account is first seen (``services.users.sync_hub_user``). Plain ``ADD COLUMN`` and a
unique index, on purpose: on SQLite a batch rebuild of ``users`` would drop the table, and
with foreign keys on that deletes every row that points at a user.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('hub_account_id', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('uq_users_hub_account_id', 'users', ['hub_account_id'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_users_hub_account_id', table_name='users')
    op.drop_column('users', 'deleted_at')
    op.drop_column('users', 'hub_account_id')
