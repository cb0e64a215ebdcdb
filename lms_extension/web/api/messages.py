"""``/api/v1/me/conversations``: direct messages (the inbox, a conversation, sending, read marks),
``/api/v1/me/blocks`` and a course's ``/messaging`` switch for student-to-student messages."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import messages
from ..base import APIHandler, body_dict, int_arg, parse_id, requires_user
from .spec import SECURITY, SLUG, errors, json_body, path_param, ref, response


def _only(body: dict, allowed: set[str]) -> dict:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


class SendingMixin:
    def check_message_rate(self, user) -> None:
        self.check_rate("messages", f"user:{user.hub_name}", self.config.rate_limit_messages,
                        "too many messages in a short time")


class ConversationsAPI(SendingMixin, APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json(messages.inbox(self.db, user, limit=int_arg(self, "limit", messages.DEFAULT_LIMIT),
                                       offset=int_arg(self, "offset", 0)))

    @requires_user
    def post(self):
        body = _only(body_dict(self), {"course", "to", "body"})
        user = self.require_user()
        course = body.get("course")
        if not isinstance(course, str) or not course:
            raise InvalidInput("course must be the slug of a course you are enrolled in or teach", field="course")
        self.check_message_rate(user)
        conversation, message = messages.start(self.db, user, course, to=body.get("to"), body=body.get("body"))
        self.db.commit()
        self.write_json({"id": conversation.id, "message": message.id}, 201)


class ConversationAPI(APIHandler):
    @requires_user
    def get(self, conversation_id: str):
        user = self.require_user()
        raw = self.get_query_argument("before", "")
        before = parse_id(raw, "message") if raw else None
        self.write_json(messages.view(self.db, user, parse_id(conversation_id, "conversation"), before=before,
                                      limit=int_arg(self, "limit", messages.DEFAULT_LIMIT), mark_read=False))


class ConversationMessagesAPI(SendingMixin, APIHandler):
    @requires_user
    def post(self, conversation_id: str):
        body = _only(body_dict(self), {"body"})
        user = self.require_user()
        cid = parse_id(conversation_id, "conversation")
        self.check_message_rate(user)
        message = messages.post(self.db, user, cid, body.get("body"))
        self.db.commit()
        self.write_json({"id": message.id, "conversation": cid}, 201)


class ConversationReadAPI(APIHandler):
    @requires_user
    def post(self, conversation_id: str):
        body = _only(body_dict(self), {"up_to"})
        user = self.require_user()
        left = messages.mark_read(self.db, user, parse_id(conversation_id, "conversation"), body.get("up_to"))
        self.db.commit()
        self.write_json({"unread": left, "unread_total": messages.unread_total(self.db, user.id)})


class BlocksAPI(APIHandler):
    @requires_user
    def get(self):
        self.write_json({"blocked": messages.blocked(self.db, self.require_user())})

    @requires_user
    def post(self):
        body = _only(body_dict(self), {"username"})
        other = messages.block(self.db, self.require_user(), body.get("username"))
        self.db.commit()
        self.write_json({"blocked": other.hub_name}, 201)


class BlockAPI(APIHandler):
    @requires_user
    def delete(self, username: str):
        other = messages.unblock(self.db, self.require_user(), username)
        self.db.commit()
        self.write_json({"unblocked": other.hub_name})


class CourseMessagingAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        course, allowed = messages.course_settings(self.db, self.require_user(), slug)
        self.write_json({"course": course.slug, "students_may_message": allowed})

    @requires_user
    def put(self, slug: str):
        body = _only(body_dict(self), {"students_may_message"})
        course = messages.set_students_may_message(self.db, self.require_user(), slug,
                                                   body.get("students_may_message"))
        self.db.commit()
        self.write_json({"course": course.slug, "students_may_message": body["students_may_message"]})


default_handlers = [
    (r"api/v1/me/conversations", ConversationsAPI),
    (r"api/v1/me/conversations/([^/]+)", ConversationAPI),
    (r"api/v1/me/conversations/([^/]+)/messages", ConversationMessagesAPI),
    (r"api/v1/me/conversations/([^/]+)/read", ConversationReadAPI),
    (r"api/v1/me/blocks", BlocksAPI),
    (r"api/v1/me/blocks/([^/]+)", BlockAPI),
    (r"api/v1/courses/([^/]+)/messaging", CourseMessagingAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = path_param("id", "integer")
_BODY = {"type": "string", "description": f"Markdown (rendered and sanitised as Q&A posts), at most "
                                          f"{messages.MAX_BODY_BYTES // 1000} kB"}
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": messages.MAX_LIMIT}}
_SETTINGS = {"type": "object", "properties": {"course": {"type": "string"},
                                              "students_may_message": {"type": "boolean"}}}
OPENAPI_PATHS: dict = {
    "/me/conversations": {
        "get": {"summary": "My conversations, latest activity first, each with its unread count", "security": SECURITY,
                "parameters": [_LIMIT, {"name": "offset", "in": "query", "required": False,
                                        "schema": {"type": "integer", "minimum": 0}}],
                "responses": {"200": response("The inbox", ref("Inbox")), **errors(400, 401)}},
        "post": {"summary": "Send a message in a course: without 'to', a student writes to the course's staff; "
                            "staff name an enrolled student; a student names a classmate only when the course "
                            "allows student-to-student messages. Goes into the pair's one conversation.",
                 "security": SECURITY,
                 "requestBody": json_body({"type": "object", "required": ["course", "body"], "properties": {
                     "course": {"type": "string", "description": "the course's slug"},
                     "to": {"type": "string", "description": "a username; absent or 'staff': the course's staff"},
                     "body": _BODY}}),
                 "responses": {"201": response("Sent", {"type": "object", "properties": {
                     "id": {"type": "integer", "description": "the conversation"},
                     "message": {"type": "integer"}}}), **errors(400, 401, 403, 404, 429)}}},
    "/me/conversations/{id}": {
        "get": {"summary": "A conversation and a page of its messages, oldest first (before: older ones); "
                           "does not mark it read", "security": SECURITY,
                "parameters": [_ID, _LIMIT, {"name": "before", "in": "query", "required": False,
                                             "schema": {"type": "integer"}}],
                "responses": {"200": response("The conversation", ref("Conversation")), **errors(400, 401, 404)}}},
    "/me/conversations/{id}/messages": {
        "post": {"summary": "Reply in a conversation (refused when a side has blocked the other or left the course)",
                 "security": SECURITY, "parameters": [_ID],
                 "requestBody": json_body({"type": "object", "required": ["body"], "properties": {"body": _BODY}}),
                 "responses": {"201": response("Sent", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "conversation": {"type": "integer"}}}),
                     **errors(400, 401, 403, 404, 429)}}},
    "/me/conversations/{id}/read": {
        "post": {"summary": "Mark the conversation read, up to a message (default: all of it)", "security": SECURITY,
                 "parameters": [_ID], "requestBody": json_body({"type": "object", "properties": {
                     "up_to": {"type": "integer", "description": "a message id"}}}),
                 "responses": {"200": response("What is left unread", {"type": "object", "properties": {
                     "unread": {"type": "integer"}, "unread_total": {"type": "integer"}}}),
                     **errors(400, 401, 404)}}},
    "/me/blocks": {
        "get": {"summary": "The people I have blocked", "security": SECURITY,
                "responses": {"200": response("Blocked people", {"type": "object", "properties": {
                    "blocked": {"type": "array", "items": {"type": "object", "properties": {
                        "username": {"type": "string"}, "name": {"type": "string"},
                        "since": {"type": "string", "format": "date-time"}}}}}}), **errors(401)}},
        "post": {"summary": "Block a person: they can no longer message me (announcements are not affected)",
                 "security": SECURITY, "requestBody": json_body({"type": "object", "required": ["username"],
                                                                 "properties": {"username": {"type": "string"}}}),
                 "responses": {"201": response("Blocked", {"type": "object", "properties": {
                     "blocked": {"type": "string"}}}), **errors(400, 401, 404)}}},
    "/me/blocks/{username}": {
        "delete": {"summary": "Unblock a person", "security": SECURITY, "parameters": [path_param("username")],
                   "responses": {"200": response("Unblocked", {"type": "object", "properties": {
                       "unblocked": {"type": "string"}}}), **errors(400, 401, 404)}}},
    "/courses/{slug}/messaging": {
        "get": {"summary": "Whether the course's students may message each other (its staff)", "security": SECURITY,
                "parameters": [SLUG], "responses": {"200": response("Settings", _SETTINGS), **errors(401, 403, 404)}},
        "put": {"summary": "Turn student-to-student messages on or off (its staff; off by default; audited)",
                "security": SECURITY, "parameters": [SLUG],
                "requestBody": json_body({"type": "object", "required": ["students_may_message"], "properties": {
                    "students_may_message": {"type": "boolean"}}}),
                "responses": {"200": response("Settings", _SETTINGS), **errors(400, 401, 403, 404)}}},
}
_MESSAGE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "author": {"type": "string"}, "username": {"type": "string", "nullable": True},
    "mine": {"type": "boolean"}, "staff": {"type": "boolean"}, "html": {"type": "string"},
    "body": {"type": "string"}, "unread": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"}}}
OPENAPI_SCHEMAS: dict = {
    "Inbox": {"type": "object", "properties": {
        "unread": {"type": "integer", "description": "unread messages in all my conversations"},
        "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
        "conversations": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["staff", "peer"]},
            "course": {"type": "string"}, "course_title": {"type": "string"}, "title": {"type": "string"},
            "unread": {"type": "integer"}, "last_message": {"type": "string"},
            "last_author": {"type": "string", "nullable": True},
            "last_message_at": {"type": "string", "format": "date-time"}}}}}},
    "Conversation": {"type": "object", "required": ["id", "kind", "messages"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["staff", "peer"]},
        "course": {"type": "string"}, "course_title": {"type": "string"}, "title": {"type": "string"},
        "staff": {"type": "boolean", "description": "I take part as the course's staff"},
        "student": {"type": "string", "nullable": True}, "may_post": {"type": "boolean"},
        "read_only_reason": {"type": "string", "nullable": True},
        "people": {"type": "array", "items": {"type": "object", "properties": {
            "username": {"type": "string"}, "name": {"type": "string"}, "blocked": {"type": "boolean"}}}},
        "messages": {"type": "array", "items": _MESSAGE},
        "older_before": {"type": "integer", "nullable": True, "description": "pass as before for older messages"}}},
}
