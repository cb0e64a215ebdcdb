"""``/api/v1`` enrollments: enrolling in a free course, and mine."""
from __future__ import annotations

from ...services import enrollments
from ..base import APIHandler, requires_user
from .courses import course_summary
from .spec import SLUG, errors, response


class EnrollAPI(APIHandler):
    @requires_user
    def post(self, slug: str):
        self.json_body()  # rejects a malformed body even though none is needed
        user = self.require_user()
        enrollment, created = enrollments.enroll(self.db, user, slug)
        self.db.commit()
        self.write_json({"course": slug, "source": enrollment.source,
                         "enrolled_at": enrollment.created_at.isoformat()}, 201 if created else 200)


class MyEnrollmentsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        rows = enrollments.enrollments_for(self.db, user)
        self.write_json({"enrollments": [
            {"course": course_summary(e.course), "source": e.source,
             "enrolled_at": e.created_at.isoformat(), "last_lesson": e.last_lesson_key}
            for e in rows
        ]})


default_handlers = [
    (r"api/v1/courses/([^/]+)/enroll", EnrollAPI),
    (r"api/v1/me/enrollments", MyEnrollmentsAPI),
]


# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/courses/{slug}/enroll": {"post": {
        "summary": "Enroll in a free course", "security": [{"hubToken": []}], "parameters": [SLUG],
        "responses": {
            "201": response("Enrolled", {"$ref": "#/components/schemas/Enrollment"}),
            "200": response("Already enrolled", {"$ref": "#/components/schemas/Enrollment"}),
            **errors(400, 401, 402, 404, 413)}}},
    "/me/enrollments": {"get": {
        "summary": "My enrollments", "security": [{"hubToken": []}],
        "responses": {"200": response("Enrollments", {
            "type": "object", "required": ["enrollments"], "properties": {"enrollments": {
                "type": "array", "items": {"type": "object", "properties": {
                    "course": {"$ref": "#/components/schemas/CourseSummary"},
                    "source": {"type": "string"}, "enrolled_at": {"type": "string"},
                    "last_lesson": {"type": "string", "nullable": True}}}}}}),
            **errors(401)}}},
}
OPENAPI_SCHEMAS: dict = {
    "Enrollment": {"type": "object", "required": ["course", "source", "enrolled_at"],
                   "properties": {"course": {"type": "string"}, "source": {"type": "string"},
                                  "enrolled_at": {"type": "string"}}},
}
