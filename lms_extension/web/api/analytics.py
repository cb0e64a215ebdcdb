"""Analytics as JSON and CSV downloads."""
from __future__ import annotations

default_handlers: list = []
