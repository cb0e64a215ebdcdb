"""forum: the course Q&A (threads, posts, votes, read marks and the search index)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('forum_threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=True),
    sa.Column('lesson_version_id', sa.Integer(), nullable=True),
    sa.Column('cell_id', sa.String(length=100), nullable=True),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('accepted_post_id', sa.Integer(), nullable=True),
    sa.Column('staff_answered', sa.Boolean(), nullable=False),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('last_post_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_forum_threads_author_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_forum_threads_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_forum_threads_lesson_id_lessons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lesson_version_id'], ['lesson_versions.id'], name=op.f('fk_forum_threads_lesson_version_id_lesson_versions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_threads'))
    )
    op.create_index(op.f('ix_forum_threads_author_id'), 'forum_threads', ['author_id'], unique=False)
    op.create_index('ix_forum_threads_course_activity', 'forum_threads', ['course_id', 'last_activity_at'], unique=False)
    op.create_index(op.f('ix_forum_threads_course_id'), 'forum_threads', ['course_id'], unique=False)
    op.create_index(op.f('ix_forum_threads_lesson_id'), 'forum_threads', ['lesson_id'], unique=False)
    op.create_table('forum_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('opening', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('endorsed', sa.Boolean(), nullable=False),
    sa.Column('by_staff', sa.Boolean(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('mentions', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_forum_posts_author_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['forum_posts.id'], name=op.f('fk_forum_posts_parent_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['forum_threads.id'], name=op.f('fk_forum_posts_thread_id_forum_threads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_posts'))
    )
    op.create_index(op.f('ix_forum_posts_author_id'), 'forum_posts', ['author_id'], unique=False)
    op.create_index(op.f('ix_forum_posts_created_at'), 'forum_posts', ['created_at'], unique=False)
    op.create_index(op.f('ix_forum_posts_thread_id'), 'forum_posts', ['thread_id'], unique=False)
    op.create_table('forum_reads',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('last_post_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['forum_threads.id'], name=op.f('fk_forum_reads_thread_id_forum_threads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_reads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'thread_id', name=op.f('pk_forum_reads'))
    )
    op.create_table('forum_terms',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_terms_post_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['forum_threads.id'], name=op.f('fk_forum_terms_thread_id_forum_threads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', 'term', name=op.f('pk_forum_terms'))
    )
    op.create_index('ix_forum_terms_term_thread', 'forum_terms', ['term', 'thread_id'], unique=False)
    op.create_index(op.f('ix_forum_terms_thread_id'), 'forum_terms', ['thread_id'], unique=False)
    op.create_table('forum_votes',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_votes_post_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_forum_votes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', 'user_id', name=op.f('pk_forum_votes'))
    )


def downgrade() -> None:
    op.drop_table('forum_votes')
    op.drop_index(op.f('ix_forum_terms_thread_id'), table_name='forum_terms')
    op.drop_index('ix_forum_terms_term_thread', table_name='forum_terms')
    op.drop_table('forum_terms')
    op.drop_table('forum_reads')
    op.drop_index(op.f('ix_forum_posts_thread_id'), table_name='forum_posts')
    op.drop_index(op.f('ix_forum_posts_created_at'), table_name='forum_posts')
    op.drop_index(op.f('ix_forum_posts_author_id'), table_name='forum_posts')
    op.drop_table('forum_posts')
    op.drop_index(op.f('ix_forum_threads_lesson_id'), table_name='forum_threads')
    op.drop_index(op.f('ix_forum_threads_course_id'), table_name='forum_threads')
    op.drop_index('ix_forum_threads_course_activity', table_name='forum_threads')
    op.drop_index(op.f('ix_forum_threads_author_id'), table_name='forum_threads')
    op.drop_table('forum_threads')
