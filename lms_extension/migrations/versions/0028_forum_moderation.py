"""forum moderation: reports, hidden posts, suspensions, duplicates, watch/track/mute

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('forum_threads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hidden', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_forum_threads_duplicate_of_id_forum_threads'), 'forum_threads',
                                    ['duplicate_of_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_forum_threads_duplicate_of_id'), ['duplicate_of_id'], unique=False)
    with op.batch_alter_table('forum_posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('hidden_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hidden_reason', sa.String(length=500), server_default='', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_forum_posts_hidden_by_id_users'), 'users', ['hidden_by_id'],
                                    ['id'], ondelete='SET NULL')
    op.create_table('forum_thread_levels',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('chosen', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['forum_threads.id'], name=op.f('fk_forum_thread_levels_thread_id_forum_threads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_thread_levels_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'thread_id', name=op.f('pk_forum_thread_levels'))
    )
    op.create_index(op.f('ix_forum_thread_levels_thread_id'), 'forum_thread_levels', ['thread_id'], unique=False)
    op.create_table('forum_course_levels',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_forum_course_levels_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_course_levels_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'course_id', name=op.f('pk_forum_course_levels'))
    )
    op.create_index(op.f('ix_forum_course_levels_course_id'), 'forum_course_levels', ['course_id'], unique=False)
    op.create_table('forum_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_forum_reports_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_reports_post_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_forum_reports_reporter_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_forum_reports_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_reports')),
    sa.UniqueConstraint('post_id', 'reporter_id', name='uq_forum_reports_post_reporter')
    )
    op.create_index('ix_forum_reports_course_open', 'forum_reports', ['course_id', 'resolved_at'], unique=False)
    op.create_index(op.f('ix_forum_reports_post_id'), 'forum_reports', ['post_id'], unique=False)
    op.create_index(op.f('ix_forum_reports_reporter_id'), 'forum_reports', ['reporter_id'], unique=False)
    op.create_table('forum_suspensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_forum_suspensions_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_forum_suspensions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_forum_suspensions_lifted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_suspensions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_suspensions'))
    )
    op.create_index('ix_forum_suspensions_course_user', 'forum_suspensions', ['course_id', 'user_id'], unique=False)
    op.create_index(op.f('ix_forum_suspensions_user_id'), 'forum_suspensions', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_forum_suspensions_user_id'), table_name='forum_suspensions')
    op.drop_index('ix_forum_suspensions_course_user', table_name='forum_suspensions')
    op.drop_table('forum_suspensions')
    op.drop_index(op.f('ix_forum_reports_reporter_id'), table_name='forum_reports')
    op.drop_index(op.f('ix_forum_reports_post_id'), table_name='forum_reports')
    op.drop_index('ix_forum_reports_course_open', table_name='forum_reports')
    op.drop_table('forum_reports')
    op.drop_index(op.f('ix_forum_course_levels_course_id'), table_name='forum_course_levels')
    op.drop_table('forum_course_levels')
    op.drop_index(op.f('ix_forum_thread_levels_thread_id'), table_name='forum_thread_levels')
    op.drop_table('forum_thread_levels')
    with op.batch_alter_table('forum_posts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_forum_posts_hidden_by_id_users'), type_='foreignkey')
        batch_op.drop_column('hidden_reason')
        batch_op.drop_column('hidden_by_id')
        batch_op.drop_column('hidden_at')
    with op.batch_alter_table('forum_threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_threads_duplicate_of_id'))
        batch_op.drop_constraint(batch_op.f('fk_forum_threads_duplicate_of_id_forum_threads'), type_='foreignkey')
        batch_op.drop_column('hidden')
        batch_op.drop_column('duplicate_of_id')
