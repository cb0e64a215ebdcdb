"""roster: per-student deadline extensions

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
    op.create_table('deadline_extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_deadline_extensions_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_deadline_extensions_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_deadline_extensions_granted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_extensions')),
    sa.UniqueConstraint('user_id', 'lesson_id', name='uq_deadline_extensions_user_lesson')
    )
    op.create_index(op.f('ix_deadline_extensions_user_id'), 'deadline_extensions', ['user_id'], unique=False)
    op.create_index(op.f('ix_deadline_extensions_lesson_id'), 'deadline_extensions', ['lesson_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_deadline_extensions_lesson_id'), table_name='deadline_extensions')
    op.drop_index(op.f('ix_deadline_extensions_user_id'), table_name='deadline_extensions')
    op.drop_table('deadline_extensions')
