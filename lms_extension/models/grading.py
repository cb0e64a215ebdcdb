"""Issue 4: per-lesson grading policies, manual grades and comments, regrade bookkeeping."""
from __future__ import annotations

from .base import Base  # noqa: F401
