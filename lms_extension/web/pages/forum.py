"""Pages: forum."""
from __future__ import annotations

default_handlers: list = []
