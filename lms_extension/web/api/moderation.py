"""``/api/v1/moderation``: the queue of reported reviews (admins)."""
from __future__ import annotations

from ... import permissions
from ...services import reviews
from ..base import APIHandler, body_dict, parse_review_id, requires
from .spec import SECURITY, errors, json_body, response


def _report_public(item) -> dict:
    return {"id": item.id, "status": item.status, "reason": item.reason, "reported_by": item.user.hub_name,
            "created_at": item.created_at.isoformat(), "review": reviews.public(item.review)}


class ModerationQueueAPI(APIHandler):
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def get(self):
        user = self.require_user()
        self.write_json({"reports": [_report_public(r) for r in reviews.moderation_queue(self.db, user)]})


class ModerationReportAPI(APIHandler):
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def post(self, report_id: str):
        body = body_dict(self)
        user = self.require_user()
        item = reviews.resolve_report(self.db, user, parse_review_id(report_id), body.get("action"))
        self.db.commit()
        self.write_json({"id": item.id, "status": item.status})


default_handlers = [
    (r"api/v1/moderation/reports", ModerationQueueAPI),
    (r"api/v1/moderation/reports/([^/]+)", ModerationReportAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI_PATHS: dict = {
    "/moderation/reports": {
        "get": {"summary": "Open review reports (LMS admins)", "security": SECURITY,
                "responses": {"200": response("Reports", {"type": "object", "properties": {
                    "reports": {"type": "array", "items": {"type": "object"}}}}), **errors(401, 403)}}},
    "/moderation/reports/{id}": {
        "post": {"summary": "Dismiss a report or remove the review (LMS admins)", "security": SECURITY,
                 "parameters": [_ID], "requestBody": json_body({"type": "object", "required": ["action"], "properties": {
                     "action": {"type": "string", "enum": ["dismiss", "remove"]}}}),
                 "responses": {"200": response("The report", {"type": "object"}), **errors(400, 401, 403, 404, 409)}}},
}
