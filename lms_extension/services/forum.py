"""Course Q&A: threads, posts, votes (the forum of a course, anchored to lessons and notebook cells)."""
from __future__ import annotations
