"""The lesson page's bookmark form."""
from __future__ import annotations

from tornado import web

from ...services import lesson_extras
from .lessons import LessonForm


class BookmarkPage(LessonForm):
    @web.authenticated
    def post(self, slug: str, lesson_key: str):
        user = self.require_user()
        lesson_extras.set_bookmark(self.db, user, slug, lesson_key, self.get_body_argument("on", "1") == "1",
                                   self.get_body_argument("label", ""))
        self.db.commit()
        self.back(slug, lesson_key, "notes")


default_handlers = [
    (r"courses/([^/]+)/lessons/([^/]+)/bookmark", BookmarkPage),
]
