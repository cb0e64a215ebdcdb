"""The moderation page: reported reviews (admins)."""
from __future__ import annotations

from tornado import web

from ... import permissions
from ...errors import InvalidInput
from ...services import reviews
from ..base import BaseHandler, requires


class ModerationPage(BaseHandler):
    @web.authenticated
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def get(self):
        user = self.require_user()
        reports = reviews.moderation_queue(self.db, user)
        self.render_page("discovery/moderation.html", reports=reports, courses=reviews.courses_of(self.db, reports),
                         admin_section="reviews")

    @web.authenticated
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def post(self):
        user = self.require_user()
        try:
            report_id = int(self.get_body_argument("report", ""))
        except ValueError:
            raise InvalidInput("report must be a number") from None
        reviews.resolve_report(self.db, user, report_id, self.get_body_argument("action", ""))
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}moderation")


default_handlers = [
    (r"moderation", ModerationPage),
]
