"""analytics: storefront visits, sign-up sources and the computed reports pages read

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('visitor', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_analytics_events_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_analytics_events_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_events'))
    )
    op.create_index('ix_analytics_events_course_created', 'analytics_events', ['course_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_analytics_events_created_at'), 'analytics_events', ['created_at'], unique=False)
    op.create_index(op.f('ix_analytics_events_user_id'), 'analytics_events', ['user_id'], unique=False)
    op.create_table('signup_sources',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('medium', sa.String(length=100), nullable=False),
    sa.Column('campaign', sa.String(length=100), nullable=False),
    sa.Column('referrer', sa.String(length=255), nullable=False),
    sa.Column('landing', sa.String(length=255), nullable=False),
    sa.Column('first_visit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_signup_sources_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_signup_sources'))
    )
    op.create_table('analytics_reports',
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_analytics_reports_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('scope', 'name', name=op.f('pk_analytics_reports'))
    )
    op.create_index(op.f('ix_analytics_reports_course_id'), 'analytics_reports', ['course_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_analytics_reports_course_id'), table_name='analytics_reports')
    op.drop_table('analytics_reports')
    op.drop_table('signup_sources')
    op.drop_index(op.f('ix_analytics_events_user_id'), table_name='analytics_events')
    op.drop_index(op.f('ix_analytics_events_created_at'), table_name='analytics_events')
    op.drop_index('ix_analytics_events_course_created', table_name='analytics_events')
    op.drop_table('analytics_events')
