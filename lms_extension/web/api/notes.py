"""``/api/v1`` lesson notes: one private note per learner and lesson."""
from __future__ import annotations

from ...services import lesson_extras
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, json_body, path_param, response


class NoteAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        self.write_json(lesson_extras.get_note(self.db, user, slug, lesson_key))

    @requires_user
    def put(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = self.json_body()
        note = lesson_extras.save_note(self.db, user, slug, lesson_key, body.get("body") if isinstance(body, dict) else None)
        self.db.commit()
        self.write_json(note)


default_handlers = [
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/note", NoteAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_OBJ = {"type": "object"}
OPENAPI_PATHS: dict = {
    "/courses/{slug}/lessons/{lesson}/note": {
        "get": {"summary": "My note on a lesson", "security": SECURITY, "parameters": [path_param("slug"), path_param("lesson")],
                "responses": {"200": response("Note", _OBJ), **errors(401, 403, 404)}},
        "put": {"summary": "Save my note (at most 20,000 characters)", "security": SECURITY,
                "parameters": [path_param("slug"), path_param("lesson")],
                "requestBody": json_body({"type": "object", "properties": {"body": {"type": "string"}}}),
                "responses": {"200": response("Note", _OBJ), **errors(400, 401, 403, 404, 413)}}},
}
