"""courses authored on the web: drafts, sources, versions

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lesson_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('free_preview', sa.Boolean(), nullable=False),
    sa.Column('source_notebook', sa.Text(), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_lesson_drafts_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lesson_drafts')),
    sa.UniqueConstraint('course_id', 'key', name='uq_lesson_drafts_course_key')
    )
    op.create_index(op.f('ix_lesson_drafts_course_id'), 'lesson_drafts', ['course_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_lesson_drafts_course_id'), table_name='lesson_drafts')
    op.drop_table('lesson_drafts')
