"""The OpenAPI document of ``/api/v1``. A test checks it against the routes and responses."""
from __future__ import annotations

from ..base import APIHandler
from .spec import ERROR, errors, response

_ERROR, _resp, _errors = ERROR, response, errors


SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
LESSON = {"name": "lesson", "in": "path", "required": True, "schema": {"type": "string"}}
CHALLENGE = {"name": "challenge", "in": "path", "required": True, "schema": {"type": "integer"}}


def _core(server_prefix: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Jupyter LMS API", "version": "1"},
        "servers": [{"url": server_prefix.rstrip("/") + "/api/v1"}],
        "components": {
            "securitySchemes": {"hubToken": {"type": "apiKey", "in": "header", "name": "Authorization",
                                             "description": "'token <JupyterHub API token>'"}},
            "schemas": {
                "Error": {"type": "object", "required": ["status", "message"], "properties": {
                    "status": {"type": "integer"}, "error": {"type": "string"},
                    "message": {"type": "string"}}},
                "CourseSummary": {"type": "object",
                                  "required": ["slug", "title", "price_cents", "currency", "category", "level"],
                                  "properties": {
                                      "slug": {"type": "string"}, "title": {"type": "string"},
                                      "subtitle": {"type": "string"}, "price_cents": {"type": "integer"},
                                      "currency": {"type": "string"}, "category": {"type": "string"},
                                      "level": {"type": "string", "enum": ["beginner", "intermediate", "advanced"]},
                                      "language": {"type": "string"},
                                      "instructor": {"type": "string", "nullable": True}}},
                "Enrollment": {"type": "object", "required": ["course", "source", "enrolled_at"],
                               "properties": {"course": {"type": "string"}, "source": {"type": "string"},
                                              "enrolled_at": {"type": "string"}}},
                "ChallengeSubmission": {"type": "object", "required": ["id", "status", "passed", "total", "tests"],
                                        "properties": {
                                            "id": {"type": "integer"}, "language_id": {"type": "integer"},
                                            "language_name": {"type": "string"},
                                            "status": {"type": "string", "enum": ["passed", "failed", "compilation_error", "error"]},
                                            "passed": {"type": "integer"}, "total": {"type": "integer"},
                                            "score": {"type": "number"},
                                            "compile_output": {"type": "string", "nullable": True},
                                            "created_at": {"type": "string"},
                                            "tests": {"type": "array", "items": {"type": "object", "properties": {
                                                "index": {"type": "integer"}, "hidden": {"type": "boolean"},
                                                "status": {"type": "string"}, "time": {"type": "string"},
                                                "memory": {"type": "integer"},
                                                "stdin": {"type": "string", "description": "public tests only"},
                                                "expected": {"type": "string", "description": "public tests only"},
                                                "stdout": {"type": "string", "description": "public tests only"}}}}}},
                "NotebookSubmission": {"type": "object", "required": ["id", "status", "lesson"], "properties": {
                    "id": {"type": "integer"}, "lesson": {"type": "string"},
                    "status": {"type": "string", "enum": ["queued", "grading", "graded", "failed"]},
                    "submitted_at": {"type": "string"}, "finished_at": {"type": "string", "nullable": True},
                    "score": {"type": "number", "nullable": True}, "max_score": {"type": "number", "nullable": True},
                    "feedback": {"type": "object", "nullable": True}, "error": {"type": "string", "nullable": True},
                    "attempt": {"type": "integer"},
                    "auto_score": {"type": "number", "nullable": True,
                                   "description": "the autograder's points"},
                    "manual_score": {"type": "number", "nullable": True,
                                     "description": "what manual grades add (or take away)"},
                    "late_penalty_percent": {"type": "number",
                                             "description": "score = (auto + manual) less this percentage"}}},
                "Lesson": {"type": "object", "required": ["id", "title", "free_preview"], "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "free_preview": {"type": "boolean"}}},
            },
        },
        "paths": {
            "/courses": {"get": {
                "summary": "List published courses", "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s} for n, s in (
                        ("q", {"type": "string", "maxLength": 200}),
                        ("category", {"type": "string"}),
                        ("level", {"type": "string", "enum": ["beginner", "intermediate", "advanced"]}),
                        ("free", {"type": "boolean"}),
                        ("language", {"type": "string"}),
                        ("min_price_cents", {"type": "integer", "minimum": 0}),
                        ("max_price_cents", {"type": "integer", "minimum": 0}),
                        ("min_rating", {"type": "number", "minimum": 0, "maximum": 5}),
                        ("sort", {"type": "string", "enum": ["relevance", "newest", "title", "price_asc", "price_desc",
                                                             "rating", "popularity"]}),
                        ("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                        ("offset", {"type": "integer", "minimum": 0}))],
                "responses": {"200": _resp("A page of courses", {
                    "type": "object", "required": ["total", "courses"], "properties": {
                        "total": {"type": "integer"}, "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "corrected": {"type": "string", "nullable": True,
                                      "description": "the search text as searched after typo correction"},
                        "courses": {"type": "array", "items": {"$ref": "#/components/schemas/CourseSummary"}}}}),
                    **_errors(400)}}},
            "/courses/{slug}": {"get": {
                "summary": "One course with its lessons", "parameters": [SLUG],
                "responses": {"200": _resp("The course", {"allOf": [
                    {"$ref": "#/components/schemas/CourseSummary"},
                    {"type": "object", "required": ["lessons"], "properties": {
                        "description": {"type": "string"},
                        "lessons": {"type": "array", "items": {"$ref": "#/components/schemas/Lesson"}}}}]}),
                    **_errors(404)}}},
            "/courses/{slug}/enroll": {"post": {
                "summary": "Enroll in a free course", "security": [{"hubToken": []}], "parameters": [SLUG],
                "responses": {
                    "201": _resp("Enrolled", {"$ref": "#/components/schemas/Enrollment"}),
                    "200": _resp("Already enrolled", {"$ref": "#/components/schemas/Enrollment"}),
                    **_errors(400, 401, 402, 404, 413)}}},
            "/courses/{slug}/lessons/{lesson}/notebook": {"get": {
                "summary": "The student version of a lesson notebook (enrolled users or free previews)",
                "parameters": [SLUG, LESSON],
                "responses": {"200": _resp("The notebook", {
                    "type": "object", "required": ["course", "lesson", "filename", "version", "notebook"],
                    "properties": {"course": {"type": "string"}, "lesson": {"type": "string"},
                                   "filename": {"type": "string"}, "version": {"type": "integer"},
                                   "notebook": {"type": "string", "description": "nbformat 4 JSON"}}}),
                    **_errors(403, 404)}}},
            "/challenges/{challenge}/submissions": {
                "get": {"summary": "My submissions to a code challenge", "security": [{"hubToken": []}],
                        "parameters": [CHALLENGE],
                        "responses": {"200": _resp("Submissions, newest first", {
                            "type": "object", "required": ["submissions"], "properties": {"submissions": {
                                "type": "array", "items": {"$ref": "#/components/schemas/ChallengeSubmission"}}}}),
                            **_errors(401, 403, 404)}},
                "post": {"summary": "Submit code: compiled once, run against every test case",
                         "security": [{"hubToken": []}], "parameters": [CHALLENGE],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "required": ["language_id", "source"], "properties": {
                                 "language_id": {"type": "integer", "enum": [50, 52, 62, 63, 71]},
                                 "source": {"type": "string", "maxLength": 65536}}}}}},
                         "responses": {"201": _resp("Graded and stored", {"$ref": "#/components/schemas/ChallengeSubmission"}),
                                       "429": _resp("Too many runs: retry after Retry-After seconds", _ERROR),
                                       **_errors(400, 401, 403, 404, 413)}}},
            "/challenges/{challenge}/run": {"get": {
                "summary": "WebSocket: send {language_id, source, stdin}; receive output chunks live, then the status",
                "security": [{"hubToken": []}], "parameters": [CHALLENGE],
                "responses": {"101": _resp("Switching protocols to WebSocket"), **_errors(401, 403, 404)}}},
            "/courses/{slug}/lessons/{lesson}/submissions": {"post": {
                "summary": "Submit the lesson notebook for grading (stored first, graded by a worker)",
                "security": [{"hubToken": []}], "parameters": [SLUG, LESSON],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["notebooks"], "properties": {"notebooks": {
                        "type": "object", "description": "filename -> notebook (JSON object or text)"}}}}}},
                "responses": {"202": _resp("Queued; poll the Location", {"$ref": "#/components/schemas/NotebookSubmission"}),
                              "409": _resp("No attempts left (the lesson's max_attempts)", _ERROR),
                              "429": _resp("Cooldown between submissions: retry after Retry-After seconds", _ERROR),
                              **_errors(400, 401, 403, 404, 413)}}},
            "/submissions/{submission}": {"get": {
                "summary": "One of my notebook submissions, with score and feedback once graded",
                "security": [{"hubToken": []}],
                "parameters": [{"name": "submission", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _resp("The submission", {"$ref": "#/components/schemas/NotebookSubmission"}),
                              **_errors(401, 404)}}},
            "/me/enrollments": {"get": {
                "summary": "My enrollments", "security": [{"hubToken": []}],
                "responses": {"200": _resp("Enrollments", {
                    "type": "object", "required": ["enrollments"], "properties": {"enrollments": {
                        "type": "array", "items": {"type": "object", "properties": {
                            "course": {"$ref": "#/components/schemas/CourseSummary"},
                            "source": {"type": "string"}, "enrolled_at": {"type": "string"},
                            "last_lesson": {"type": "string", "nullable": True}}}}}}),
                    **_errors(401)}}},
        },
    }


def document(server_prefix: str, modules) -> dict:
    """The core document plus what each of the handler ``modules`` adds in ``OPENAPI_PATHS`` /
    ``OPENAPI_SCHEMAS``."""
    doc = _core(server_prefix)
    for module in modules:
        doc["paths"].update(getattr(module, "OPENAPI_PATHS", {}))
        doc["components"]["schemas"].update(getattr(module, "OPENAPI_SCHEMAS", {}))
    return doc


class OpenAPIHandler(APIHandler):
    def get(self):
        # the application's own module list (web.app.HANDLER_MODULES), which includes this module
        self.write_json(document(self.config.service_prefix, self.settings["handler_modules"]))


default_handlers = [(r"api/v1/openapi.json", OpenAPIHandler)]
