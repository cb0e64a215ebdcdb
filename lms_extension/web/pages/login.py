"""The login link of public pages."""
from __future__ import annotations

from tornado import web

from ...services import account_email
from ..base import BaseHandler


def safe_next(target: str, prefix: str) -> str:
    """``target`` if it is a plain path of the LMS, else the catalog: never another site
    (``//evil.example``, ``https://...``), nor a path a browser would read differently
    (backslashes, ``..``, control characters)."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    if (not target.startswith(prefix) or "\\" in target or "//" in path
            or ".." in path.split("/") or any(ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        return prefix
    return target


class LoginPage(BaseHandler):
    """Public pages link here; the hub's OAuth flow returns the user to ``next``. The hub's
    login and sign-up end here too: an address never sent a confirmation link gets one."""

    @web.authenticated
    def get(self):
        user = self.lms_user  # None for a service's token: nothing to confirm
        if user is not None and account_email.send_verification(self.db, user,
                                                                 account_email.Links.from_config(self.config)):
            self.db.commit()
        self.redirect(safe_next(self.get_query_argument("next", ""), self.config.service_prefix))


default_handlers = [
    (r"login", LoginPage),
]
