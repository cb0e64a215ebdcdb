"""grading policies and manual grading

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lesson_policies',
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late_policy', sa.String(length=20), nullable=False),
    sa.Column('late_percent_per_day', sa.Float(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=True),
    sa.Column('cooldown_seconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_policies_lesson_id_lessons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('lesson_id', name=op.f('pk_lesson_policies'))
    )
    op.create_table('manual_grades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('notebook', sa.String(length=200), nullable=False),
    sa.Column('grade_id', sa.String(length=200), nullable=False),
    sa.Column('points', sa.Float(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('grader_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grader_id'], ['users.id'], name=op.f('fk_manual_grades_grader_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submission_id'], ['notebook_submissions.id'], name=op.f('fk_manual_grades_submission_id_notebook_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manual_grades')),
    sa.UniqueConstraint('submission_id', 'notebook', 'grade_id', name='uq_manual_grades_cell')
    )
    with op.batch_alter_table('manual_grades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manual_grades_submission_id'), ['submission_id'], unique=False)
    with op.batch_alter_table('notebook_submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('auto_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('manual_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('late_penalty_percent', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('autograded', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('regrades', sa.Integer(), server_default='0', nullable=False))
    # rows graded before this revision: their score was the autograder's
    op.execute("UPDATE notebook_submissions SET auto_score = score WHERE score IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('notebook_submissions', schema=None) as batch_op:
        batch_op.drop_column('regrades')
        batch_op.drop_column('autograded')
        batch_op.drop_column('late_penalty_percent')
        batch_op.drop_column('manual_score')
        batch_op.drop_column('auto_score')
        batch_op.drop_column('attempt')
    with op.batch_alter_table('manual_grades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manual_grades_submission_id'))
    op.drop_table('manual_grades')
    op.drop_table('lesson_policies')
