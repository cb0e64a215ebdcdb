"""The admin console's JSON: users, settings, bulk actions, audit log."""
from __future__ import annotations

default_handlers: list = []
