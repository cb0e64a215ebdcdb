"""``/api/v1/payments``: instructor earnings and revenue shares."""
from __future__ import annotations

from ... import permissions
from ...errors import InvalidInput
from ...services.payments import ledger, payouts
from ..base import APIHandler, requires, requires_user
from .spec import errors, response


class InstructorShareAPI(APIHandler):
    @requires(permissions.ADMIN, "only admins set revenue shares")
    def put(self, instructor_id: str):
        user = self.require_user()
        body = self.json_body()
        share = body.get("share_percent") if isinstance(body, dict) else None
        if not isinstance(share, int) or isinstance(share, bool):
            raise InvalidInput("send {\"share_percent\": 0..100}")
        account = payouts.set_share(self.db, user, int(instructor_id), share)
        self.db.commit()
        self.write_json({"instructor": account.instructor_id, "share_percent": account.revenue_share_bp / 100})


class EarningsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        instructor = payouts.instructor_of(self.db, user)
        self.write_json({
            "balances": [{"currency": b.currency, "available_cents": b.available_cents, "pending_cents": b.pending_cents,
                          "paid_out_cents": b.paid_out_cents} for b in ledger.balances(self.db, instructor.id)],
            "entries": [{"kind": e.kind, "amount_cents": e.amount_cents, "currency": e.currency, "order": e.order_id,
                         "course_id": e.course_id, "created_at": e.created_at.isoformat()}
                        for e in ledger.history(self.db, instructor.id, 100)],
        })


default_handlers = [
    (r"api/v1/payments/instructors/([0-9]{1,9})/share", InstructorShareAPI),
    (r"api/v1/payments/earnings", EarningsAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI_PATHS: dict = {
    "/payments/instructors/{id}/share": {"put": {
        "summary": "Set an instructor's revenue share (admins)", "parameters": [_ID], "security": [{"hubToken": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["share_percent"], "properties": {"share_percent": {"type": "integer"}}}}}},
        "responses": {"200": response("Share", {"type": "object"}), **errors(400, 401, 403, 404)}}},
    "/payments/earnings": {"get": {"summary": "Instructor balances and ledger entries", "security": [{"hubToken": []}],
                                   "responses": {"200": response("Earnings", {"type": "object"}), **errors(401, 403)}}},
}
