"""``/api/v1/featured``: the courses admins feature."""
from __future__ import annotations

from ... import permissions
from ...services import trending
from ..base import APIHandler, body_dict, requires
from .spec import SECURITY, errors, json_body, response


class FeaturedAPI(APIHandler):
    def get(self):
        self.write_json({"courses": [c.public() for c in trending.featured_cards(self.db)]})

    @requires(permissions.ADMIN, "curating featured courses needs the LMS admin role")
    def put(self, *_):
        body = body_dict(self)
        user = self.require_user()
        slugs = trending.set_featured(self.db, user, body.get("courses"))
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.write_json({"courses": slugs})


default_handlers = [
    (r"api/v1/featured", FeaturedAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_CARDS = {"type": "object", "required": ["courses"], "properties": {
    "courses": {"type": "array", "items": {"$ref": "#/components/schemas/CourseSummary"}}}}
OPENAPI_PATHS: dict = {
    "/featured": {
        "get": {"summary": "Admin-curated featured courses", "responses": {"200": response("Courses", _CARDS)}},
        "put": {"summary": "Replace the featured courses (LMS admins)", "security": SECURITY,
                "requestBody": json_body({"type": "object", "required": ["courses"], "properties": {
                    "courses": {"type": "array", "items": {"type": "string"}}}}),
                "responses": {"200": response("Slugs", {"type": "object"}), **errors(400, 401, 403, 404)}}},
}
