"""Pages: notifications."""
from __future__ import annotations

default_handlers: list = []
