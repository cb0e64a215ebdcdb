"""Instructor applications: apply, and the admin's decision (JSON)."""
from __future__ import annotations

from ... import permissions
from ...errors import InvalidInput
from ...services import instructor_applications as applications
from ...services.hub_client import HubClient
from ..base import APIHandler, body_dict, requires, requires_user
from .spec import SECURITY, errors, json_body, path_param, ref, response

APPLY_FIELDS = ("display_name", "headline", "bio", "payout_country")
DECISION_FIELDS = ("decision", "reason")


def _fields(body: dict, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}; expected {', '.join(allowed)}")
    missing = [name for name in required if name not in body]
    if missing:
        raise InvalidInput(f"missing field(s): {', '.join(missing)}", field=missing[0])
    return body


class ApplicationsAPI(APIHandler):
    @requires_user
    def get(self):
        """The caller's newest application (null without one)."""
        current = applications.latest(self.db, self.require_user())
        self.write_json({"application": applications.as_json(current) if current else None})

    @requires_user
    def post(self):
        user = self.require_user()
        body = _fields(body_dict(self), APPLY_FIELDS, APPLY_FIELDS)
        application = applications.submit(self.db, self.settings["storage"], user, **body)
        self.db.commit()
        self.write_json({"id": application.id, "status": application.status}, 201)


class AdminApplicationsAPI(APIHandler):
    @requires(permissions.ADMIN, "only admins review instructor applications")
    def get(self):
        rows = applications.for_review(self.db, self.require_user())
        self.write_json({"applications": [applications.as_json(a) for a in rows]})


class DecisionAPI(APIHandler):
    @requires(permissions.ADMIN, "only admins decide instructor applications")
    def post(self, application_id: str):
        admin = self.require_user()
        body = _fields(body_dict(self), DECISION_FIELDS, ("decision",))
        hub = HubClient(self.hub_auth.api_url, self.hub_auth.api_token)
        application = applications.decide(self.db, hub, self.settings["storage"], admin, int(application_id),
                                          body["decision"], body.get("reason", ""))
        self.db.commit()
        self.write_json(applications.as_json(application))


_APPLICATION = ref("InstructorApplication")
OPENAPI_PATHS: dict = {
    "/instructor-applications": {
        "get": {"summary": "My newest application to teach (null without one)", "security": SECURITY,
                "responses": {"200": response("The application", {"type": "object", "properties": {
                    "application": {**_APPLICATION, "nullable": True}}}), **errors(401)}},
        "post": {
            "summary": "Apply to teach: a profile for an admin to review (one pending at a time; again after a "
                       "rejection)",
            "security": SECURITY,
            "requestBody": json_body({"type": "object", "additionalProperties": False,
                                      "required": list(APPLY_FIELDS), "properties": {
                "display_name": {"type": "string", "maxLength": 80},
                "headline": {"type": "string", "maxLength": 120},
                "bio": {"type": "string", "maxLength": 5000, "description": "Markdown"},
                "payout_country": {"type": "string", "description": "ISO 3166-1 alpha-2, e.g. DE"}}}),
            "responses": {"201": response("Sent", {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "integer"}, "status": {"type": "string", "enum": ["pending"]}}}),
                **errors(400, 401, 409, 413, text={409: "Already teaching, or an application is pending"})}}},
    "/admin/instructor-applications": {"get": {
        "summary": "Applications to teach, pending first (admins)", "security": SECURITY,
        "responses": {"200": response("Applications", {"type": "object", "properties": {
            "applications": {"type": "array", "items": _APPLICATION}}}), **errors(401, 403)}}},
    "/admin/instructor-applications/{id}/decision": {"post": {
        "summary": "Approve (adds the applicant to the hub's instructors group and makes their instructor "
                   "profile) or reject with a reason (admins)",
        "security": SECURITY, "parameters": [path_param("id", "integer")],
        "requestBody": json_body({"type": "object", "additionalProperties": False, "required": ["decision"],
                                  "properties": {
            "decision": {"type": "string", "enum": ["approve", "reject"]},
            "reason": {"type": "string", "maxLength": 2000, "description": "Required to reject; the applicant reads it"}}}),
        "responses": {"200": response("Decided", _APPLICATION),
                      **errors(400, 401, 403, 404, 409, 503, text={
                          409: "Already decided", 503: "The hub did not add the user to its group: nothing changed; retry"})}}},
}
OPENAPI_SCHEMAS: dict = {
    "InstructorApplication": {"type": "object", "properties": {
        "id": {"type": "integer"}, "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
        "user": {"type": "string"}, "display_name": {"type": "string"}, "headline": {"type": "string"},
        "bio": {"type": "string"}, "payout_country": {"type": "string"}, "has_photo": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "decided_at": {"type": "string", "format": "date-time", "nullable": True},
        "reason": {"type": "string"}}},
}

default_handlers = [
    (r"api/v1/instructor-applications", ApplicationsAPI),
    (r"api/v1/admin/instructor-applications", AdminApplicationsAPI),
    (r"api/v1/admin/instructor-applications/(\d{1,9})/decision", DecisionAPI),
]
