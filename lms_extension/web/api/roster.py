"""A course's roster and gradebook for its instructor (JSON and CSV)."""
from __future__ import annotations

default_handlers: list = []
