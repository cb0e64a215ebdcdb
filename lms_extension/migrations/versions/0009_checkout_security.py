"""checkout security: one pending checkout per user and item, expiring coupon reservations

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:40:00

``orders.item_key`` names what an order buys (``course:<id>``, ``bundle:<id>``,
``subscription``); a partial unique index allows one *pending* order per user and item, so
a student cannot hold a coupon use per open checkout. Of pending orders already duplicated,
the newest keeps its key and the older ones none: they expire with their Stripe sessions and
give their coupon uses back then. Plain ``ADD COLUMN`` (no batch rebuild of ``orders``, whose
rebuild on SQLite would cascade into the rows that point at it).
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.add_column('orders', sa.Column('item_key', sa.String(length=40), nullable=True))
    op.execute("UPDATE orders SET item_key = CASE kind "
               "WHEN 'course' THEN 'course:' || CAST(course_id AS VARCHAR(20)) "
               "WHEN 'bundle' THEN 'bundle:' || CAST(bundle_id AS VARCHAR(20)) "
               "ELSE 'subscription' END")
    op.execute("UPDATE orders SET item_key = NULL WHERE status = 'pending' AND EXISTS ("
               "SELECT 1 FROM orders AS newer WHERE newer.user_id = orders.user_id AND newer.status = 'pending' "
               "AND newer.item_key = orders.item_key AND newer.id > orders.id)")
    op.create_index('uq_orders_one_pending_per_item', 'orders', ['user_id', 'item_key'], unique=True,
                    sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index('uq_orders_one_pending_per_item', table_name='orders')
    op.drop_column('orders', 'item_key')
