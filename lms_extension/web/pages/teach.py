"""Pages for instructors."""
from __future__ import annotations

from tornado import web

from ... import permissions
from ...services import teaching
from ..base import BaseHandler, requires


class TeachPage(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, "only instructors have a teaching page")
    def get(self):
        rows = teaching.courses_taught(self.db, self.require_user())
        self.render_page("teach.html", rows=rows)


default_handlers = [(r"teach", TeachPage)]
