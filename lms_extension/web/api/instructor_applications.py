"""Instructor applications: apply, and the admin's decision (JSON)."""
from __future__ import annotations

default_handlers: list = []
