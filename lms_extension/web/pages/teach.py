"""Pages for instructors."""
from __future__ import annotations

from tornado import web

from ... import permissions
from ...errors import InvalidInput, LMSError, PayloadTooLarge
from ...services import covers, teaching
from ..base import BaseHandler, requires


class TeachView(BaseHandler):
    def _render(self, error: LMSError | None = None, error_slug: str | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        rows = teaching.courses_taught(self.db, self.require_user())
        self.render_page("teach.html", rows=rows, error=error, error_slug=error_slug,
                         max_kb=covers.MAX_IMAGE_BYTES // 1000)


class TeachPage(TeachView):
    @web.authenticated
    @requires(permissions.TEACH, "only instructors have a teaching page")
    def get(self):
        self._render()


class CoverUpload(TeachView):
    """A new cover image for one of the instructor's courses (multipart ``cover``)."""

    @web.authenticated
    @requires(permissions.TEACH, "only instructors can change a course's cover")
    def post(self, slug: str):
        files = self.request.files.get("cover") or []
        try:
            if len(files) != 1:
                raise InvalidInput("choose one image file for the cover")
            covers.upload_cover(self.db, self.settings["storage"], self.require_user(), slug, files[0]["body"])
        except (InvalidInput, PayloadTooLarge) as exc:
            self.db.rollback()
            self._render(exc, slug)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()  # the cards show the new cover at once
        self.add_notice("Cover saved.")
        self.redirect(self.config.service_prefix + "teach", status=303)


default_handlers = [
    (r"teach", TeachPage),
    (r"teach/courses/([a-z0-9][a-z0-9-]{0,99})/cover", CoverUpload),
]
