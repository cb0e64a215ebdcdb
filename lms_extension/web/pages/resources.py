"""Downloads of a lesson's resources from the lesson page."""
from __future__ import annotations

from tornado import web

from ...services import lesson_extras
from ..base import BaseHandler


class ResourceFile(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str, name: str):
        row, data = lesson_extras.download_resource(self.db, self.settings["storage"], self.require_user(),
                                                    slug, lesson_key, name)
        self.set_header("Content-Type", row.content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{row.name}"')
        self.finish(data)


default_handlers = [
    (r"courses/([^/]+)/lessons/([^/]+)/resources/([^/]+)", ResourceFile),
]
