"""Course announcements (JSON): ``GET`` the course's announcements (anyone who may see the
course), ``POST`` one (its instructor or an admin), ``DELETE`` one. The latest three also come
with the course itself (``GET /api/v1/courses/{slug}``, field ``announcements``), which the lab
server's lesson context passes on to JupyterLab's Course panel."""
from __future__ import annotations

from ... import permissions
from ...errors import InvalidInput, NotFound
from ...models.course import SLUG as SLUG_RE
from ...services import announcements, catalog
from ..announcement_views import announcement_views, public
from ..base import APIHandler, body_dict, int_arg, requires
from .spec import SECURITY, SLUG, errors, json_body, path_param, response


class AnnouncementsAPI(APIHandler):
    def get(self, slug: str):
        if not SLUG_RE.match(slug):  # never a course; and PostgreSQL refuses a NUL in a query
            raise NotFound("there is no such course")
        course = catalog.get_course(self.db, slug, viewer=self.lms_user)
        limit = int_arg(self, "limit", 20)
        if not 1 <= limit <= 100:
            raise InvalidInput("limit must be 1 to 100")
        self.write_json({"announcements": [public(v) for v in announcement_views(self.db, course.id, limit)]})

    @requires(permissions.TEACH, "only instructors post announcements")
    def post(self, slug: str):
        user = self.require_user()
        course = announcements.course_to_teach(self.db, user, slug)
        body = body_dict(self)
        unknown = set(body) - {"title", "body"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
        item = announcements.post(self.db, user, course, body.get("title"), body.get("body"))
        self.db.commit()
        self.settings["catalog_cache"].clear()  # the course page shows it at once
        view = next(v for v in announcement_views(self.db, course.id) if v["id"] == item.id)
        self.write_json(public(view), 201)


class AnnouncementAPI(APIHandler):
    @requires(permissions.TEACH, "only instructors remove announcements")
    def delete(self, slug: str, announcement_id: str):
        user = self.require_user()
        course = announcements.course_to_teach(self.db, user, slug)
        announcements.delete(self.db, user, course, int(announcement_id))
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.set_status(204)
        self.finish()


default_handlers = [
    (r"api/v1/courses/([^/]+)/announcements", AnnouncementsAPI),
    (r"api/v1/courses/([^/]+)/announcements/([0-9]{1,9})", AnnouncementAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = path_param("id", "integer")
OPENAPI_SCHEMAS: dict = {
    "Announcement": {"type": "object", "required": ["id", "title", "body_html", "created_at"], "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"},
        "body_html": {"type": "string", "description": "the Markdown body rendered and sanitised"},
        "created_at": {"type": "string", "format": "date-time"}}},
}
OPENAPI_PATHS: dict = {
    "/courses/{slug}/announcements": {
        "get": {"summary": "A course's announcements, newest first", "parameters": [
                    SLUG, {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": {"200": response("Announcements", {"type": "object", "required": ["announcements"],
                                                                 "properties": {"announcements": {
                                                                     "type": "array", "items": {"$ref": "#/components/schemas/Announcement"}}}}),
                              **errors(400, 404)}},
        "post": {"summary": "Post an announcement to a course's students (its instructor or an admin)",
                 "parameters": [SLUG], "security": SECURITY,
                 "requestBody": json_body({"type": "object", "required": ["title", "body"], "properties": {
                     "title": {"type": "string", "maxLength": announcements.MAX_TITLE},
                     "body": {"type": "string", "maxLength": announcements.MAX_BODY, "description": "Markdown"}}}),
                 "responses": {"201": response("The announcement", {"$ref": "#/components/schemas/Announcement"}),
                               **errors(400, 401, 403, 404)}}},
    "/courses/{slug}/announcements/{id}": {
        "delete": {"summary": "Remove an announcement (the course's instructor or an admin)", "parameters": [SLUG, _ID],
                   "security": SECURITY, "responses": {"204": response("Removed"), **errors(401, 403, 404)}}},
}
