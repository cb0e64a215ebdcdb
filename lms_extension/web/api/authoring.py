"""Authoring checks for JupyterLab's Course panel (``labserver/teach.py``): who may author,
Validate (the real grader on the source, reference solutions of code challenges) and the
student version for Preview. Instructors only; nothing is stored."""
from __future__ import annotations

from graders.notebook import grade_submission

from ... import permissions
from ...errors import InvalidInput
from ...services import authoring, teaching
from ..base import APIHandler, requires
from .challenges import _in_pool, _pool_and_sandbox
from .spec import SECURITY, errors, json_body, response

_INSTRUCTORS = "only instructors can author courses"


class AuthorAPI(APIHandler):
    """GET: whether I may author here, and the courses I teach (the panel shows only for instructors)."""

    @requires(permissions.TEACH, _INSTRUCTORS)
    def get(self):
        user = self.require_user()
        courses = [{"slug": row["course"].slug, "title": row["course"].title,
                    "lessons": [{"id": lesson.key, "title": lesson.title} for lesson in row["course"].lessons]}
                   for row in teaching.courses_taught(self.db, user)]
        self.write_json({"instructor": True, "admin": permissions.is_admin(user), "courses": courses})


class ValidateAPI(APIHandler):
    """POST {"notebooks": {name: json}, "challenges": {name: toml}}: the validation report."""

    @requires(permissions.TEACH, _INSTRUCTORS)
    async def post(self):
        user = self.require_user()
        books, challenge_files = authoring.parse_request(self.json_body())
        self.db.commit()  # no transaction held open while the sandbox runs
        _, sandbox = _pool_and_sandbox(self.settings)

        async def run_tests(source, language_id, cases, limits):
            # one reference run takes one place in the code-run pool, as a student's run does
            return await _in_pool(self.settings, user.hub_name,
                                  lambda: sandbox.run_tests(source, language_id, cases, limits=limits))

        report = await authoring.validate(books, challenge_files, grade=grade_submission, run_tests=run_tests)
        self.write_json(report)


class PreviewAPI(APIHandler):
    """POST {"name", "notebook"}: the notebook a student receives for this source."""

    @requires(permissions.TEACH, _INSTRUCTORS)
    def post(self):
        body = self.json_body()
        if not isinstance(body, dict):
            raise InvalidInput('send {"name": "<lesson>.ipynb", "notebook": "<notebook JSON>"}')
        name = body.get("name")
        self.write_json({"name": name, "notebook": authoring.student_preview(name, body.get("notebook"))})


default_handlers = [
    (r"api/v1/teach/author", AuthorAPI),
    (r"api/v1/teach/validate", ValidateAPI),
    (r"api/v1/teach/preview", PreviewAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_FILES = {"type": "object", "additionalProperties": {"type": "string"}}
_CELL = {"type": "object", "properties": {
    "grade_id": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "string"},
    "points": {"type": "number", "nullable": True}, "max_points": {"type": "number"},
    "message": {"type": "string"}}}
_REPORT = {"type": "object", "required": ["ok", "notebooks", "challenges"], "properties": {
    "ok": {"type": "boolean"},
    "notebooks": {"type": "array", "items": {"type": "object", "properties": {
        "notebook": {"type": "string"}, "ok": {"type": "boolean"}, "error": {"type": "string", "nullable": True},
        "score": {"type": "number", "nullable": True}, "max_score": {"type": "number", "nullable": True},
        "cells": {"type": "array", "items": _CELL}, "failing": {"type": "array", "items": _CELL}}}},
    "challenges": {"type": "array", "items": {"type": "object", "properties": {
        "file": {"type": "string"}, "id": {"type": "string", "nullable": True}, "title": {"type": "string"},
        "ok": {"type": "boolean"}, "error": {"type": "string", "nullable": True},
        "languages": {"type": "array", "items": {"type": "object", "properties": {
            "language": {"type": "string"}, "ok": {"type": "boolean"},
            "message": {"type": "string", "nullable": True},
            "failing": {"type": "array", "items": {"type": "object"}}}}}}}}}}
_TEXT = {403: "Instructors only"}

OPENAPI_PATHS: dict = {
    "/teach/author": {"get": {
        "summary": "Instructors: may I author courses, and the courses I teach (JupyterLab's Course panel)",
        "security": SECURITY,
        "responses": {"200": response("The instructor and their courses", {"type": "object", "properties": {
            "instructor": {"type": "boolean"}, "admin": {"type": "boolean"},
            "courses": {"type": "array", "items": {"type": "object"}}}}),
            **errors(401, 403, text=_TEXT)}}},
    "/teach/validate": {"post": {
        "summary": "Instructors: grade source notebooks with their solutions and run challenges' reference "
                   "solutions in every language they offer; nothing is stored",
        "security": SECURITY,
        "requestBody": json_body({"type": "object", "properties": {"notebooks": _FILES, "challenges": _FILES}}),
        "responses": {"200": response("The report: failing cells by exercise title, failing challenge tests",
                                      _REPORT),
                      **errors(400, 401, 403, 413, 429, text=_TEXT)}}},
    "/teach/preview": {"post": {
        "summary": "Instructors: the student version of a source notebook (solutions and hidden tests removed)",
        "security": SECURITY,
        "requestBody": json_body({"type": "object", "required": ["name", "notebook"], "properties": {
            "name": {"type": "string"}, "notebook": {"type": "string"}}}),
        "responses": {"200": response("The student version", {"type": "object", "properties": {
            "name": {"type": "string"}, "notebook": {"type": "string"}}}),
            **errors(400, 401, 403, 413, text=_TEXT)}}},
}
