"""``/api/v1/trending``: trending courses."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import trending
from ..base import APIHandler, int_arg
from .spec import errors, response


class TrendingAPI(APIHandler):
    def get(self):
        k = int_arg(self, "limit", 8)
        if not 1 <= k <= 50:
            raise InvalidInput("limit must be between 1 and 50")
        self.write_json({"courses": [c.public() for c in trending.trending_cards(self.db, k)]})


default_handlers = [
    (r"api/v1/trending", TrendingAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}
_CARDS = {"type": "object", "required": ["courses"], "properties": {
    "courses": {"type": "array", "items": {"$ref": "#/components/schemas/CourseSummary"}}}}
OPENAPI_PATHS: dict = {
    "/trending": {
        "get": {"summary": "Trending courses (time-decayed enrollments and ratings)", "parameters": [_LIMIT],
                "responses": {"200": response("Courses", _CARDS), **errors(400)}}},
}
