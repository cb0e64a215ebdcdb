"""Notifications: in-app notices per user, and each user's preferences per kind and channel."""
from __future__ import annotations
