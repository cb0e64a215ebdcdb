"""Instructor profiles: ``/instructors/<name>`` (name, headline, bio, photo, published courses)
and the photo files."""
from __future__ import annotations

from ...services import catalog, users
from ..base import BaseHandler
from ..markdown import render_markdown
from .profile import photo_url

YEAR = 365 * 24 * 3600


class InstructorPage(BaseHandler):
    def get(self, name: str):
        user, instructor, course_ids = users.public_instructor(self.db, name)
        photo = photo_url(self.config.service_prefix, instructor, 256) if instructor.photo_version else None
        self.render_page("instructor.html", person=user, instructor=instructor, photo=photo,
                         bio_html=render_markdown(instructor.bio), courses=catalog.cards_by_ids(self.db, course_ids))


class InstructorPhoto(BaseHandler):
    def get(self, instructor_id: str, version: str, width: str):
        data = users.photo_file(self.db, self.settings["storage"], int(instructor_id), version, int(width))
        self.set_header("Content-Type", "image/webp")
        # the version changes with every upload: this URL always means these bytes
        self.set_header("Cache-Control", f"public, max-age={YEAR}, immutable")
        self.finish(data)


default_handlers = [
    (r"instructors/photo/(\d{1,12})/([0-9a-f]{1,32}w[0-9_]{1,40})-(\d{1,5})\.webp", InstructorPhoto),
    (r"instructors/([^/]+)", InstructorPage),
]
