"""Pages: a course's roster, deadline extensions and gradebook downloads."""
from __future__ import annotations

default_handlers: list = []
