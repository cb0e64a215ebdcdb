"""Course covers: the uploaded renditions and the generated SVG, both cacheable for long."""
from __future__ import annotations

from ...errors import NotFound
from ...models.course import SLUG
from ...services import catalog, covers
from ..base import BaseHandler

YEAR = 365 * 24 * 3600


class CoverImage(BaseHandler):
    def get(self, course_id: str, version: str, width: str):
        data = covers.cover_file(self.db, self.settings["storage"], int(course_id), version, int(width))
        self.set_header("Content-Type", "image/webp")
        # the version changes with every upload: this URL always means these bytes
        self.set_header("Cache-Control", f"public, max-age={YEAR}, immutable")
        self.finish(data)


class GeneratedCover(BaseHandler):
    def get(self, slug: str):
        if not SLUG.match(slug):
            raise NotFound("no such course")
        course = catalog.get_course(self.db, slug, viewer=self._page_user())
        svg = covers.svg_cover(course.title, course.category, course.slug)
        self.set_header("Content-Type", "image/svg+xml; charset=utf-8")
        # a renamed course draws a new cover: cached a day, then revalidated (Tornado's ETag)
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish(svg)


default_handlers = [
    (r"covers/(\d{1,12})/([0-9a-f]{1,32})-(\d{1,5})\.webp", CoverImage),
    (r"covers/([^/]+)\.svg", GeneratedCover),
]
