"""The lesson page's note form."""
from __future__ import annotations

from tornado import web

from ...services import lesson_extras
from .lessons import LessonForm


class NotePage(LessonForm):
    @web.authenticated
    def post(self, slug: str, lesson_key: str):
        user = self.require_user()
        lesson_extras.save_note(self.db, user, slug, lesson_key, self.get_body_argument("body", ""))
        self.db.commit()
        self.back(slug, lesson_key, "notes")


default_handlers = [
    (r"courses/([^/]+)/lessons/([^/]+)/note", NotePage),
]
