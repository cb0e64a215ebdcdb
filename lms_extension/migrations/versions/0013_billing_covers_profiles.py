"""billing details on orders, course cover images, instructor photos, lesson durations

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BILLING = (('billing_name', 200), ('billing_street', 200), ('billing_postal_code', 20), ('billing_city', 100),
           ('billing_vat_id', 20))


def upgrade() -> None:
    for name, length in BILLING:
        op.add_column('orders', sa.Column(name, sa.String(length=length), server_default='', nullable=False))
    op.add_column('instructors', sa.Column('photo_version', sa.String(length=32), server_default='', nullable=False))
    op.add_column('lessons', sa.Column('minutes', sa.Integer(), server_default='0', nullable=False))
    op.create_table('course_covers',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('widths', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_covers_course_id_courses'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', name=op.f('pk_course_covers'))
    )


def downgrade() -> None:
    op.drop_table('course_covers')
    with op.batch_alter_table('lessons') as batch:
        batch.drop_column('minutes')
    with op.batch_alter_table('instructors') as batch:
        batch.drop_column('photo_version')
    with op.batch_alter_table('orders') as batch:
        for name, _ in reversed(BILLING):
            batch.drop_column(name)
