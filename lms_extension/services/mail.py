"""Email: the outbox (one row per message to send), delivered over SMTP by `lms worker`."""
from __future__ import annotations
