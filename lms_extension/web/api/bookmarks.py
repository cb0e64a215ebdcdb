"""``/api/v1`` bookmarks: bookmarked lessons."""
from __future__ import annotations

from ...services import lesson_extras
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, path_param, response


class BookmarkAPI(APIHandler):
    @requires_user
    def put(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = self.json_body()
        label = body.get("label", "") if isinstance(body, dict) else None
        result = lesson_extras.set_bookmark(self.db, user, slug, lesson_key, True, label)
        self.db.commit()
        self.write_json(result)

    @requires_user
    def delete(self, slug: str, lesson_key: str):
        user = self.require_user()
        result = lesson_extras.set_bookmark(self.db, user, slug, lesson_key, False)
        self.db.commit()
        self.write_json(result)


class MyBookmarksAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"bookmarks": lesson_extras.bookmarks_of(self.db, user)})


default_handlers = [
    (r"api/v1/me/bookmarks", MyBookmarksAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/bookmark", BookmarkAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_OBJ = {"type": "object"}
OPENAPI_PATHS: dict = {
    "/me/bookmarks": {"get": {"summary": "My bookmarked lessons", "security": SECURITY, "responses": {
        "200": response("Bookmarks", _OBJ), **errors(401)}}},
    "/courses/{slug}/lessons/{lesson}/bookmark": {
        "put": {"summary": "Bookmark a lesson", "security": SECURITY, "parameters": [path_param("slug"), path_param("lesson")],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"label": {"type": "string"}}}}}},
                "responses": {"200": response("Bookmark", _OBJ), **errors(400, 401, 403, 404)}},
        "delete": {"summary": "Remove the bookmark", "security": SECURITY, "parameters": [path_param("slug"), path_param("lesson")],
                   "responses": {"200": response("Bookmark", _OBJ), **errors(401, 403, 404)}}},
}
