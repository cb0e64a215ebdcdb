"""The admin console's JSON: the audit log, the run-time settings, users (admin token)."""
from __future__ import annotations

from datetime import timedelta

from ... import permissions
from ...errors import InvalidInput
from ...services import account_email, audit, platform_settings, users
from ..base import APIHandler, body_dict, int_arg, requires
from .spec import SECURITY, errors, json_body, ref, response

ADMIN_ONLY = "this needs the LMS admin role"


class AdminAPI(APIHandler):
    def text(self, name: str, limit: int = 200) -> str:
        value = self.get_argument(name, "").strip()
        if len(value) > limit or any(ord(ch) < 32 for ch in value):
            raise InvalidInput(f"{name} is at most {limit} characters, without control characters")
        return value


class AuditAPI(AdminAPI):
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        since, until = audit.parse_day(self.text("since", 10), "since"), audit.parse_day(self.text("until", 10), "until")
        page = audit.search(self.db, text=self.text("text"), actor=self.text("actor"), action=self.text("action", 80),
                            target_type=self.text("target_type", 40), target_id=self.text("target_id"),
                            since=since, until=until + timedelta(days=1) if until else None,
                            offset=int_arg(self, "offset", 0), limit=int_arg(self, "limit", 50))
        self.write_json({"total": page.total, "offset": page.offset, "limit": page.limit,
                         "entries": [audit.decoded(e) for e in page.entries]})


class SettingsAPI(AdminAPI):
    def document(self) -> dict:
        defaults = platform_settings.defaults_from(self.config)
        return {"settings": platform_settings.effective(self.db, defaults), "defaults": defaults,
                "overridden": sorted(platform_settings.overridden(self.db))}

    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.write_json(self.document())

    @requires(permissions.ADMIN, ADMIN_ONLY)
    def patch(self):
        platform_settings.update(self.db, self.require_user(), body_dict(self),
                                 platform_settings.defaults_from(self.config))
        self.db.commit()
        self.write_json(self.document())


def user_view(u, email_verified: bool = False) -> dict:
    return {"name": u.hub_name, "display_name": u.display_name, "email": u.email, "email_verified": email_verified,
            "instructor": bool(u.is_instructor),
            "admin": bool(u.is_admin), "active": u.deactivated_at is None and u.deleted_at is None,
            "deleted": u.deleted_at is not None, "last_seen_at": u.last_seen_at.isoformat() if u.last_seen_at else None}


class UsersAPI(AdminAPI):
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        rows, total = users.search(self.db, q=self.text("q"), role=self.get_argument("role", ""),
                                   state=self.get_argument("state", ""), offset=int_arg(self, "offset", 0),
                                   limit=int_arg(self, "limit", 50))
        verified = account_email.verified_ids(self.db, rows)
        self.write_json({"total": total, "users": [user_view(u, u.id in verified) for u in rows]})


default_handlers = [
    (r"api/v1/admin/audit", AuditAPI),
    (r"api/v1/admin/settings", SettingsAPI),
    (r"api/v1/admin/users", UsersAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

def _query(name: str, kind: str = "string", description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": description}


SETTINGS_SCHEMA = {"type": "object", "properties": {
    "signup_mode": {"type": "string", "enum": list(platform_settings.SIGNUP_MODES)},
    "require_2fa": {"type": "string", "enum": list(platform_settings.TWO_FACTOR_MODES)},
    "refund_window_days": {"type": "integer", "minimum": 0, "maximum": platform_settings.MAX_REFUND_WINDOW_DAYS},
    "instructor_share_percent": {"type": "integer", "minimum": 0, "maximum": 100}}, "additionalProperties": False}

OPENAPI_SCHEMAS: dict = {
    "AdminSettings": {"type": "object", "properties": {
        "settings": SETTINGS_SCHEMA, "defaults": SETTINGS_SCHEMA,
        "overridden": {"type": "array", "items": {"type": "string"}}}},
    "AuditEntry": {"type": "object", "properties": {
        "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
        "action": {"type": "string"}, "target_type": {"type": "string"}, "target_id": {"type": "string"},
        "summary": {"type": "string"}, "before": {}, "after": {}}},
    "AdminUser": {"type": "object", "properties": {
        "name": {"type": "string"}, "display_name": {"type": "string"}, "email": {"type": "string"},
        "email_verified": {"type": "boolean", "description": "the user opened a confirmation link sent to this "
                                                             "address"},
        "instructor": {"type": "boolean"}, "admin": {"type": "boolean"}, "active": {"type": "boolean"},
        "deleted": {"type": "boolean"}, "last_seen_at": {"type": "string", "format": "date-time", "nullable": True}}},
}

OPENAPI_PATHS: dict = {
    "/admin/audit": {"get": {
        "summary": "Search the audit log, newest first (admins)", "security": SECURITY,
        "parameters": [_query("text", description="in the summary, target and before/after"),
                       _query("actor", description="username of who acted"),
                       _query("action", description="prefix, e.g. 'user.'"), _query("target_type"), _query("target_id"),
                       _query("since", description="YYYY-MM-DD"), _query("until", description="YYYY-MM-DD, inclusive"),
                       _query("offset", "integer"), _query("limit", "integer", "1 to 1000")],
        "responses": {"200": response("Entries", {"type": "object", "properties": {
            "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
            "entries": {"type": "array", "items": ref("AuditEntry")}}}), **errors(400, 401, 403)}}},
    "/admin/settings": {
        "get": {"summary": "The run-time settings, their defaults and which are changed (admins)",
                "security": SECURITY, "responses": {"200": response("Settings", ref("AdminSettings")),
                                                    **errors(401, 403)}},
        "patch": {"summary": "Change run-time settings (admins); audited", "security": SECURITY,
                  "requestBody": json_body(SETTINGS_SCHEMA),
                  "responses": {"200": response("Settings", ref("AdminSettings")), **errors(400, 401, 403)}}},
    "/admin/users": {"get": {
        "summary": "Search users (admins)", "security": SECURITY,
        "parameters": [_query("q", description="name, display name or email"),
                       {"name": "role", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": [r for r in users.ROLE_FILTERS if r]}},
                       {"name": "state", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": [s for s in users.STATE_FILTERS if s]}},
                       _query("offset", "integer"), _query("limit", "integer", "1 to 500")],
        "responses": {"200": response("Users", {"type": "object", "properties": {
            "total": {"type": "integer"}, "users": {"type": "array", "items": ref("AdminUser")}}}),
            **errors(400, 401, 403)}}},
}
