"""Pages: an instructor's announcements and coupons for their own courses."""
from __future__ import annotations

default_handlers: list = []
