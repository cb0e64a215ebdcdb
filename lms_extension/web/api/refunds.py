"""``/api/v1/payments``: refund requests by buyers and the decisions on them."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services.payments import refunds
from ..base import APIHandler, CommerceMixin, requires_user
from .spec import errors, response


def refund_json(r) -> dict:
    return {"id": r.id, "order": r.order_id, "status": r.status, "reason": r.reason,
            "progress_percent": r.progress_percent, "created_at": r.created_at.isoformat()}


class RefundRequestAPI(CommerceMixin, APIHandler):
    @requires_user
    def post(self, order_id: str):
        user = self.require_user()
        body = self.json_body()
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        if not isinstance(reason, str):
            raise InvalidInput("reason must be a string")
        request = refunds.request_refund(self.db, self.policy, user, int(order_id), reason)
        self.db.commit()
        self.write_json(refund_json(request), 201)


class RefundRequestsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"refund_requests": [refund_json(r) for r in refunds.pending_for(self.db, user)]})


class RefundDecisionAPI(CommerceMixin, APIHandler):
    @requires_user
    def post(self, request_id: str):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("approve"), bool):
            raise InvalidInput("send {\"approve\": true} or {\"approve\": false}")
        request = refunds.decide(self.db, self.stripe if body["approve"] else None, self.policy, user,
                                 int(request_id), body["approve"])  # a rejection needs no Stripe
        self.db.commit()
        self.write_json(refund_json(request))


default_handlers = [
    (r"api/v1/payments/orders/([0-9]{1,9})/refund-request", RefundRequestAPI),
    (r"api/v1/payments/refund-requests", RefundRequestsAPI),
    (r"api/v1/payments/refund-requests/([0-9]{1,9})/decision", RefundDecisionAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI_PATHS: dict = {
    "/payments/orders/{id}/refund-request": {"post": {
        "summary": "Ask for a refund (policy window and progress apply)", "parameters": [_ID],
        "security": [{"hubToken": []}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "reason": {"type": "string"}}}}}},
        "responses": {"201": response("Refund request", {"$ref": "#/components/schemas/RefundRequest"}), **errors(400, 401, 404, 409)}}},
    "/payments/refund-requests": {"get": {"summary": "Refund requests I may decide", "security": [{"hubToken": []}],
                                          "responses": {"200": response("Requests", {"type": "object", "properties": {
                                              "refund_requests": {"type": "array", "items": {
                                                  "$ref": "#/components/schemas/RefundRequest"}}}}), **errors(401)}}},
    "/payments/refund-requests/{id}/decision": {"post": {
        "summary": "Approve (refund through Stripe, revoke access) or reject", "parameters": [_ID],
        "security": [{"hubToken": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["approve"], "properties": {"approve": {"type": "boolean"}}}}}},
        "responses": {"200": response("Decided", {"$ref": "#/components/schemas/RefundRequest"}), **errors(400, 401, 403, 404, 409, 503)}}},
}
OPENAPI_SCHEMAS: dict = {
    "RefundRequest": {"type": "object", "properties": {
        "id": {"type": "integer"}, "order": {"type": "integer"}, "status": {"type": "string"},
        "reason": {"type": "string"}, "progress_percent": {"type": "integer"}, "created_at": {"type": "string"}}},
}
