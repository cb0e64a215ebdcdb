"""My wishlist page, and the course page's wishlist button."""
from __future__ import annotations

from tornado import web

from ...services import wishlist
from ..base import BaseHandler
from .catalog import CourseForm


class WishlistPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        self.render_page("discovery/wishlist.html", courses=wishlist.items(self.db, user))


class WishlistToggle(CourseForm):
    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        if self.get_body_argument("action", "add") == "remove":
            wishlist.remove(self.db, user, slug)
        else:
            wishlist.add(self.db, user, slug)
        self.db.commit()
        target = self.get_body_argument("next", "")
        if target.startswith(self.config.service_prefix) and "//" not in target:
            self.redirect(target)
        else:
            self.back(slug, anchor="top")


default_handlers = [
    (r"wishlist", WishlistPage),
    (r"courses/([^/]+)/wishlist", WishlistToggle),
]
