"""``/api/v1`` recommendations: courses like this one, and for me."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import catalog, recommendations
from ..base import APIHandler, int_arg, requires_user
from .spec import SECURITY, errors, response


def recommender(handler) -> recommendations.Recommender:
    return handler.settings["recommender"]


class CourseRecommendationsAPI(APIHandler):
    def get(self, slug: str):
        course = catalog.get_course(self.db, slug, viewer=self.lms_user)
        k = int_arg(self, "limit", 5)
        if not 1 <= k <= 20:
            raise InvalidInput("limit must be between 1 and 20")
        rec = recommender(self)
        self.write_json({
            "also_took": [c.public() for c in recommendations.cards(self.db, rec.also_took(self.db, course.id, k))],
            "similar": [c.public() for c in recommendations.cards(self.db, rec.similar(self.db, course.id, k))],
        })


class MyRecommendationsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        k = int_arg(self, "limit", 5)
        if not 1 <= k <= 20:
            raise InvalidInput("limit must be between 1 and 20")
        ranked = recommender(self).for_user(self.db, user.id, k)
        self.write_json({"courses": [c.public() for c in recommendations.cards(self.db, ranked)]})


default_handlers = [
    (r"api/v1/courses/([^/]+)/recommendations", CourseRecommendationsAPI),
    (r"api/v1/me/recommendations", MyRecommendationsAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}
_CARDS = {"type": "object", "required": ["courses"], "properties": {
    "courses": {"type": "array", "items": {"$ref": "#/components/schemas/CourseSummary"}}}}
OPENAPI_PATHS: dict = {
    "/courses/{slug}/recommendations": {
        "get": {"summary": "Students who took this also took; similar courses", "parameters": [_SLUG, _LIMIT],
                "responses": {"200": response("Recommendations", {"type": "object", "properties": {
                    "also_took": _CARDS["properties"]["courses"], "similar": _CARDS["properties"]["courses"]}}),
                    **errors(400, 404)}}},
    "/me/recommendations": {
        "get": {"summary": "Courses for you (history, co-enrollment, content, categories)", "security": SECURITY,
                "parameters": [_LIMIT], "responses": {"200": response("Courses", _CARDS), **errors(400, 401)}}},
}
