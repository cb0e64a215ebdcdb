"""Issue 7: reviews, votes, reports, wishlist, price events, featured courses, search index."""
from __future__ import annotations

from .base import Base  # noqa: F401
