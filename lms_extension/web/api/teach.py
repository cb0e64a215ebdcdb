"""The instructor's course API: create, edit, lesson sources, publish (JSON, /api/v1/teach/)."""
from __future__ import annotations

default_handlers: list = []
