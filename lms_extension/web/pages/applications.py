"""Pages: apply to teach, and the admin's list of applications."""
from __future__ import annotations

default_handlers: list = []
