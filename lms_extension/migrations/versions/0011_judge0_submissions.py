"""Judge0 submissions in the database

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('judge0_submissions',
    sa.Column('token', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('language_id', sa.Integer(), nullable=False),
    sa.Column('source_code', sa.LargeBinary(), nullable=False),
    sa.Column('stdin', sa.LargeBinary(), nullable=True),
    sa.Column('expected_output', sa.LargeBinary(), nullable=True),
    sa.Column('limits', sa.Text(), nullable=False),
    sa.Column('number_of_runs', sa.Integer(), nullable=False),
    sa.Column('compiler_options', sa.Text(), nullable=True),
    sa.Column('command_line_arguments', sa.Text(), nullable=True),
    sa.Column('redirect_stderr_to_stdout', sa.Boolean(), nullable=False),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('status_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=32), nullable=True),
    sa.Column('stdout', sa.LargeBinary(), nullable=True),
    sa.Column('stderr', sa.LargeBinary(), nullable=True),
    sa.Column('compile_output', sa.LargeBinary(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('exit_signal', sa.String(length=16), nullable=True),
    sa.Column('time', sa.Float(), nullable=True),
    sa.Column('wall_time', sa.Float(), nullable=True),
    sa.Column('memory', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_judge0_submissions'))
    )
    with op.batch_alter_table('judge0_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge0_submissions_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('judge0_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge0_submissions_created_at'))

    op.drop_table('judge0_submissions')
