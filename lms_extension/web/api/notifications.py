"""JSON API: notifications (``/api/v1/me/notifications``)."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import notifications
from ..base import APIHandler, body_dict, requires_user
from .spec import SECURITY, errors, json_body, response


def _int_arg(handler, name: str, default: int | None) -> int | None:
    raw = handler.get_argument(name, None)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number") from None


class MyNotificationsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        unread_only = self.get_argument("unread", "") in ("1", "true")
        self.write_json(notifications.list_for(self.db, user.id, limit=_int_arg(self, "limit", 20),
                                               before=_int_arg(self, "before", None), unread_only=unread_only))


class MarkReadAPI(APIHandler):
    @requires_user
    def post(self):
        user = self.require_user()
        body = body_dict(self)
        if body.get("all") is True:
            changed = notifications.mark_read(self.db, user.id, everything=True)
        else:
            ids = body.get("ids")
            if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise InvalidInput("send {\"ids\": [notification ids]} or {\"all\": true}")
            if len(ids) > 500:
                raise InvalidInput("at most 500 ids at a time")
            changed = notifications.mark_read(self.db, user.id, ids=ids)
        self.db.commit()
        self.write_json({"marked": changed, "unread": notifications.unread_count(self.db, user.id)})


default_handlers = [
    (r"api/v1/me/notifications", MyNotificationsAPI),
    (r"api/v1/me/notifications/read", MarkReadAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_NOTIFICATION = {"type": "object", "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string", "enum": sorted(notifications.KINDS)},
    "kind_label": {"type": "string"}, "title": {"type": "string"}, "body": {"type": "string"},
    "url": {"type": "string", "description": "path inside the LMS, relative to the service prefix"},
    "read": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"}}}
_PAGE = {"type": "object", "properties": {
    "notifications": {"type": "array", "items": _NOTIFICATION},
    "unread": {"type": "integer", "description": "all unread notifications of the user"},
    "next_before": {"type": "integer", "nullable": True, "description": "pass as ?before= for the next page; null: no more"}}}


def _query(name: str, description: str, kind: str = "integer") -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": kind}}


OPENAPI_PATHS: dict = {
    "/me/notifications": {"get": {
        "summary": "My notifications, newest first, with the unread count", "security": SECURITY,
        "parameters": [_query("limit", "page size, 1 to 100 (default 20)"),
                       _query("before", "only notifications with a smaller id (the previous page's next_before)"),
                       _query("unread", "1: only unread ones", "string")],
        "responses": {"200": response("A page of notifications", _PAGE), **errors(400, 401)}}},
    "/me/notifications/read": {"post": {
        "summary": "Mark some or all of my notifications read", "security": SECURITY,
        "requestBody": json_body({"type": "object", "properties": {
            "ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 500},
            "all": {"type": "boolean"}}}),
        "responses": {"200": response("How many changed, and the unread count left", {"type": "object", "properties": {
            "marked": {"type": "integer"}, "unread": {"type": "integer"}}}), **errors(400, 401)}}},
}
