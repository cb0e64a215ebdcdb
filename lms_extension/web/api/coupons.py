"""``/api/v1/payments/coupons``: coupons (admins)."""
from __future__ import annotations

from datetime import datetime

from ... import permissions
from ...errors import InvalidInput
from ...services import catalog
from ...services.payments import coupons
from ..base import APIHandler, requires
from .spec import errors, response


class CouponsAPI(APIHandler):
    @requires(permissions.ADMIN, "only admins create coupons")
    def post(self):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict):
            raise InvalidInput("send a JSON object")
        allowed = {"code", "percent_off", "amount_off_cents", "currency", "course", "max_uses", "expires_at"}
        if set(body) - allowed:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(set(body) - allowed))}")
        for key in ("percent_off", "amount_off_cents", "max_uses"):
            if body.get(key) is not None and (not isinstance(body[key], int) or isinstance(body[key], bool)):
                raise InvalidInput(f"{key} must be a whole number")
        course = None
        if body.get("course"):
            course = catalog.get_course(self.db, str(body["course"]), viewer=user)
        expires = None
        if body.get("expires_at"):
            try:
                expires = datetime.fromisoformat(str(body["expires_at"]))
            except ValueError:
                raise InvalidInput("expires_at must be an ISO 8601 date-time") from None
        coupon = coupons.create_by_admin(self.db, user, str(body.get("code", "")), percent_off=body.get("percent_off"),
                                         amount_off_cents=body.get("amount_off_cents"),
                                         currency=str(body.get("currency", "usd")), course=course,
                                         max_uses=body.get("max_uses"), expires_at=expires)  # audited
        self.db.commit()
        self.write_json({"code": coupon.code, "percent_off": coupon.percent_off,
                         "amount_off_cents": coupon.amount_off_cents, "max_uses": coupon.max_uses}, 201)


default_handlers = [
    (r"api/v1/payments/coupons", CouponsAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/payments/coupons": {"post": {"summary": "Create a coupon (admins)", "security": [{"hubToken": []}],
                                   "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                       "type": "object", "required": ["code"], "properties": {
                                           "code": {"type": "string"}, "percent_off": {"type": "integer"},
                                           "amount_off_cents": {"type": "integer"}, "currency": {"type": "string"},
                                           "course": {"type": "string"}, "max_uses": {"type": "integer"},
                                           "expires_at": {"type": "string", "format": "date-time"}}}}}},
                                   "responses": {"201": response("Coupon", {"type": "object"}), **errors(400, 401, 403, 409)}}},
}
