"""grading workflow: feedback release (held until the instructor releases it, or on grading)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('course_grading_settings',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('feedback_release', sa.String(length=20), server_default='on_grading', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_grading_settings_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', name=op.f('pk_course_grading_settings'))
    )
    with op.batch_alter_table('notebook_submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_released_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notebook_submissions', schema=None) as batch_op:
        batch_op.drop_column('feedback_released_at')
    op.drop_table('course_grading_settings')
