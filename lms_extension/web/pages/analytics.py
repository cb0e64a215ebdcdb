"""Pages: course analytics for instructors, growth for admins."""
from __future__ import annotations

default_handlers: list = []
