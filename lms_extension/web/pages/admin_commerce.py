"""The admin console's commerce pages: courses, featured, coupons, bundles, revenue shares, revenue reports."""
from __future__ import annotations

default_handlers: list = []
