"""``/api/v1`` lesson resources: downloadable files of a lesson, uploaded by its instructor."""
from __future__ import annotations

from ...services import lesson_extras
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, path_param, response


class ResourcesAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        self.write_json({"resources": lesson_extras.list_resources(self.db, user, slug, lesson_key)})


class ResourceAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str, name: str):
        user = self.require_user()
        row, data = lesson_extras.download_resource(self.db, self.settings["storage"], user, slug, lesson_key, name)
        self.set_header("Content-Type", row.content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{row.name}"')
        self.finish(data)

    @requires_user
    def put(self, slug: str, lesson_key: str, name: str):
        user = self.require_user()
        result = lesson_extras.upload_resource(self.db, self.settings["storage"], user, slug, lesson_key, name,
                                               self.request.body)
        self.db.commit()
        self.write_json(result, 201)


default_handlers = [
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/resources", ResourcesAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/resources/([^/]+)", ResourceAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_OBJ = {"type": "object"}
OPENAPI_PATHS: dict = {
    "/courses/{slug}/lessons/{lesson}/resources": {"get": {
        "summary": "Downloadable resources of a lesson", "security": SECURITY, "parameters": [path_param("slug"), path_param("lesson")],
        "responses": {"200": response("Resources", _OBJ), **errors(401, 403, 404)}}},
    "/courses/{slug}/lessons/{lesson}/resources/{name}": {
        "get": {"summary": "Download a resource", "security": SECURITY,
                "parameters": [path_param("slug"), path_param("lesson"), path_param("name")],
                "responses": {"200": {"description": "The file"}, **errors(401, 403, 404)}},
        "put": {"summary": "Upload a resource (the course's instructor; raw body)", "security": SECURITY,
                "parameters": [path_param("slug"), path_param("lesson"), path_param("name")],
                "requestBody": {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "responses": {"201": response("Stored", _OBJ), **errors(400, 401, 403, 404, 413)}}},
}
