"""Issue 5: products, prices, orders, coupons, tax, invoices, refunds, Stripe events, earnings ledger, payouts."""
from __future__ import annotations

from .base import Base  # noqa: F401
