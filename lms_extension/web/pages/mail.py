"""Pages: email (unsubscribe, verification links)."""
from __future__ import annotations

default_handlers: list = []
