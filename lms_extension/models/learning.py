"""Issue 6: progress heartbeats, quizzes, certificates, achievements, XP, streaks, notes, bookmarks, resources."""
from __future__ import annotations

from .base import Base  # noqa: F401
