"""instructor applications; the unused instructors.approved goes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:00:00

Approval is an application's decision plus the hub's ``instructors`` group; nothing ever read
``instructors.approved`` (always true), so it is dropped. An approved applicant's payout country
goes to ``instructors.payout_country``.
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table('instructor_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=False),
    sa.Column('headline', sa.String(length=120), nullable=False),
    sa.Column('bio', sa.Text(), nullable=False),
    sa.Column('payout_country', sa.String(length=2), nullable=False),
    sa.Column('photo_version', sa.String(length=32), server_default='', nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_instructor_applications_user_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                            name=op.f('fk_instructor_applications_decided_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instructor_applications'))
    )
    op.create_index(op.f('ix_instructor_applications_user_id'), 'instructor_applications', ['user_id'], unique=False)
    op.create_index('uq_instructor_applications_pending', 'instructor_applications', ['user_id'], unique=True,
                    sqlite_where=PENDING, postgresql_where=PENDING)
    # A plain DROP COLUMN (SQLite 3.35+ has it), not a batch rebuild: rebuilding ``instructors``
    # drops the table, and with foreign keys on that cascades into the courses pointing at it.
    op.drop_column('instructors', 'approved')
    op.add_column('instructors', sa.Column('payout_country', sa.String(length=2), server_default='', nullable=False))


def downgrade() -> None:
    op.drop_column('instructors', 'payout_country')
    op.add_column('instructors', sa.Column('approved', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.drop_index('uq_instructor_applications_pending', table_name='instructor_applications')
    op.drop_index(op.f('ix_instructor_applications_user_id'), table_name='instructor_applications')
    op.drop_table('instructor_applications')
