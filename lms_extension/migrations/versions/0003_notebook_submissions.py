"""notebook submissions queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:57:47.062512
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notebook_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('lesson_version_id', sa.Integer(), nullable=False),
    sa.Column('notebooks', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('max_score', sa.Float(), nullable=True),
    sa.Column('feedback', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_notebook_submissions_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lesson_version_id'], ['lesson_versions.id'], name=op.f('fk_notebook_submissions_lesson_version_id_lesson_versions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notebook_submissions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notebook_submissions'))
    )
    with op.batch_alter_table('notebook_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notebook_submissions_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notebook_submissions_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_notebook_submissions_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notebook_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notebook_submissions_user_id'))
        batch_op.drop_index(batch_op.f('ix_notebook_submissions_status'))
        batch_op.drop_index(batch_op.f('ix_notebook_submissions_lesson_id'))

    op.drop_table('notebook_submissions')
