"""Course announcements (JSON)."""
from __future__ import annotations

default_handlers: list = []
