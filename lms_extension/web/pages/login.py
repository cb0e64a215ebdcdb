"""The login link of public pages."""
from __future__ import annotations

from tornado import web

from ..base import BaseHandler


class LoginPage(BaseHandler):
    """Public pages link here; the hub's OAuth flow returns the user to ``next``."""

    @web.authenticated
    def get(self):
        target = self.get_query_argument("next", self.config.service_prefix)
        if not target.startswith(self.config.service_prefix):  # no open redirects
            target = self.config.service_prefix
        self.redirect(target)


default_handlers = [
    (r"login", LoginPage),
]
