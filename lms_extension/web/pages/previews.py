"""Free preview lessons as HTML, for visitors."""
from __future__ import annotations

from urllib.parse import urlencode

from ...services import previews
from ..base import BaseHandler


class PreviewPage(BaseHandler):
    """A free preview lesson as HTML, for visitors (signed-in users may open it in JupyterLab)."""

    def get(self, slug: str, lesson_key: str):
        course, lesson, html = previews.preview(self.db, slug, lesson_key, viewer=self.lms_user)
        self.render_page("discovery/preview.html", course=course, lesson=lesson, notebook_html=html,
                         open_url=f"{self.config.hub_prefix}user-redirect/lms/open?"
                         + urlencode({"course": course.slug, "lesson": lesson.key}),
                         login_url=f"{self.config.service_prefix}login?" + urlencode({"next": self.request.uri}))


default_handlers = [
    (r"courses/([^/]+)/preview/([^/]+)", PreviewPage),
]
