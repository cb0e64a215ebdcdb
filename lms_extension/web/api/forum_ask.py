"""``/api/v1`` asking about a notebook cell (JupyterLab's "Ask about this cell"): the cleaned draft
that prefills the question, the question itself, similar questions, and the attachment for staff."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import forum_ask
from ..base import APIHandler, body_dict, int_arg, parse_id, requires_user
from .forum import ForumMixin
from .spec import SECURITY, SLUG, errors, json_body, path_param, response

CELL_FIELDS = {"lesson", "cell_id", "version", "code", "context", "output", "traceback", "exception"}


def _only(body: dict, allowed: set[str]) -> dict:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


def _cell(body: dict) -> dict:
    return {name: body.get(name) for name in CELL_FIELDS}


class AskDraftAPI(APIHandler):
    @requires_user
    def post(self, slug: str):
        body = _only(body_dict(self), CELL_FIELDS)
        user = self.require_user()
        d = forum_ask.draft(self.db, user, slug, **_cell(body))
        similar = forum_ask.similar(self.db, user, slug, signature_hex=d.signature, lesson=d.target.lesson.key)
        self.db.commit()
        self.write_json({**d.as_dict(), "similar": similar})


class AskAPI(ForumMixin, APIHandler):
    @requires_user
    def post(self, slug: str):
        body = _only(body_dict(self), CELL_FIELDS | {"title", "body", "kind", "anonymous", "private"})
        user = self.require_user()
        thread, attachment = forum_ask.ask(
            self.db, user, slug, title=body.get("title"), body=body.get("body"), kind=body.get("kind", "question"),
            anonymous=body.get("anonymous"), private=body.get("private"), limits=self.forum_limits, **_cell(body))
        self.db.commit()
        self.write_json({"id": thread.id, "url": f"{self.config.service_prefix}forum/threads/{thread.id}",
                         "redacted_lines": attachment.redacted_lines}, 201)


class SimilarAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        user = self.require_user()
        found = forum_ask.similar(self.db, user, slug, signature_hex=self.get_query_argument("signature", ""),
                                  lesson=self.get_query_argument("lesson", "")[:100],
                                  q=self.get_query_argument("q", "")[:200],
                                  limit=int_arg(self, "limit", forum_ask.SIMILAR_LIMIT))
        for t in found:
            t["url"] = self.config.service_prefix + t["url"]
        self.write_json({"threads": found})


class AttachmentAPI(APIHandler):
    @requires_user
    def get(self, thread_id: str):
        user = self.require_user()
        self.write_json(forum_ask.attachment_for_staff(self.db, user, parse_id(thread_id, "thread")))


default_handlers = [
    (r"api/v1/courses/([^/]+)/threads/ask-draft", AskDraftAPI),
    (r"api/v1/courses/([^/]+)/threads/ask", AskAPI),
    (r"api/v1/courses/([^/]+)/threads/similar", SimilarAPI),
    (r"api/v1/threads/([^/]+)/attachment", AttachmentAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_CELL_PROPS = {
    "lesson": {"type": "string", "description": "the lesson's id in course.toml"},
    "cell_id": {"type": "string", "description": "the id of a cell of that lesson version's notebook"},
    "version": {"type": "integer", "description": "the lesson version the notebook came from (default: latest)"},
    "code": {"type": "string", "description": "the cell's source (cut at 20,000 characters)"},
    "context": {"type": "string", "description": "the code cells above it, to reproduce it (cut at 20,000)"},
    "output": {"type": "string", "description": "the cell's text output"},
    "traceback": {"type": "string", "description": "the cell's error traceback (colour codes are dropped)"},
    "exception": {"type": "string", "description": "the exception type, e.g. AssertionError"},
}
_REDACTION = ("Every field is redacted on the server against the lesson version's instructor notebook: "
              "lines of hidden tests, of solutions and of hidden-test cells are removed, whatever is sent.")
_SIMILAR = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}, "url": {"type": "string"},
    "same_error": {"type": "boolean", "description": "the same cell, exception type and failing test"},
    "endorsed": {"type": "boolean", "description": "has a staff-endorsed answer (these come first)"},
    "accepted": {"type": "boolean"}, "staff_answered": {"type": "boolean"}, "replies": {"type": "integer"}}}
_DRAFT = {"type": "object", "properties": {
    **{k: v for k, v in _CELL_PROPS.items()}, "lesson_title": {"type": "string"},
    "failing_tests": {"type": "array", "items": {"type": "string"},
                      "description": "titles of the failing public tests (never from the client)"},
    "signature": {"type": "string", "description": "the error signature (64 hex digits)"},
    "redacted_lines": {"type": "integer"}, "title": {"type": "string"}, "body": {"type": "string"},
    "similar": {"type": "array", "items": _SIMILAR}}}
OPENAPI_PATHS: dict = {
    "/courses/{slug}/threads/ask-draft": {
        "post": {"summary": "What a question about this notebook cell would attach, cleaned, with a title and "
                            "Markdown body to start from and questions with the same error (members only). "
                            + _REDACTION, "security": SECURITY, "parameters": [SLUG],
                 "requestBody": json_body({"type": "object", "required": ["lesson", "cell_id"],
                                           "properties": _CELL_PROPS}),
                 "responses": {"200": response("The draft", _DRAFT), **errors(400, 401, 403, 404)}}},
    "/courses/{slug}/threads/ask": {
        "post": {"summary": "Ask a question about a notebook cell: a thread anchored to the course, lesson, cell "
                            "and version, with the cell attached. " + _REDACTION + " Title and body too.",
                 "security": SECURITY, "parameters": [SLUG],
                 "requestBody": json_body({"type": "object", "required": ["lesson", "cell_id", "title", "body"],
                                           "properties": {**_CELL_PROPS,
                                                          "title": {"type": "string", "maxLength": 200},
                                                          "body": {"type": "string", "description": "Markdown"},
                                                          "kind": {"type": "string",
                                                                   "enum": ["question", "discussion"]},
                                                          "anonymous": {"type": "boolean"},
                                                          "private": {"type": "boolean"}}}),
                 "responses": {"201": response("Asked", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "url": {"type": "string"},
                     "redacted_lines": {"type": "integer", "description": "lines the redaction took out"}}}),
                     **errors(400, 401, 403, 404, 429)}}},
    "/courses/{slug}/threads/similar": {
        "get": {"summary": "Threads with the same error signature (exception type, failing test, cell), those "
                           "with an endorsed answer first; then threads of the lesson matching q (the title "
                           "being typed)", "security": SECURITY,
                "parameters": [SLUG, {"name": "signature", "in": "query", "required": False,
                                      "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                               {"name": "lesson", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 20}}],
                "responses": {"200": response("Similar threads", {"type": "object", "properties": {
                    "threads": {"type": "array", "items": _SIMILAR}}}), **errors(400, 401, 403, 404)}}},
    "/threads/{id}/attachment": {
        "get": {"summary": "The cell a question was asked from, as attached (redacted), and a notebook of it to "
                           "open in JupyterLab (the course's staff)", "security": SECURITY,
                "parameters": [path_param("id", "integer")],
                "responses": {"200": response("The attachment", {"type": "object", "properties": {
                    "thread": {"type": "integer"}, "course": {"type": "string"}, "lesson": {"type": "string"},
                    "version": {"type": "integer", "nullable": True}, "cell_id": {"type": "string"},
                    "code": {"type": "string"}, "context": {"type": "string"}, "output": {"type": "string"},
                    "traceback": {"type": "string"},
                    "exception": {"type": "string"},
                    "failing_tests": {"type": "array", "items": {"type": "string"}},
                    "notebook": {"type": "string", "description": "nbformat 4 JSON"}}}),
                    **errors(401, 403, 404)}}},
}
