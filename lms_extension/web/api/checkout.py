"""``/api/v1/payments``: price quotes and checkout (an order plus a Stripe Checkout session)."""
from __future__ import annotations

from ..base import APIHandler, CommerceMixin, requires_user
from .orders import order_json
from .spec import errors, response


class QuoteAPI(CommerceMixin, APIHandler):
    def post(self):
        # per user when logged in (many students may share a campus NAT), else per address
        who = f"user:{self.current_user['name']}" if self.current_user else f"ip:{self.client_address}"
        self.check_rate("quote", who, self.config.rate_limit_quote, "too many price quotes")
        self.write_json(self.quote(self.purchase_args(self.json_body()), self.lms_user).public())


class CheckoutAPI(CommerceMixin, APIHandler):
    @requires_user
    def post(self):
        user = self.require_user()
        args = self.purchase_args(self.json_body())
        order, url = self.start_checkout(user, args)
        self.write_json({"order": order_json(self.db, order), "checkout_url": url}, 201)


default_handlers = [
    (r"api/v1/payments/quote", QuoteAPI),
    (r"api/v1/payments/checkout", CheckoutAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_PURCHASE = {"$ref": "#/components/schemas/PurchaseRequest"}
_BODY = {"required": True, "content": {"application/json": {"schema": _PURCHASE}}}
_MONEY = {"type": "integer", "description": "cents"}
OPENAPI_PATHS: dict = {
    "/payments/quote": {"post": {"summary": "Price a purchase (tax and coupon applied)", "requestBody": _BODY,
                                 "responses": {"200": response("Price breakdown", {"$ref": "#/components/schemas/Quote"}),
                                               **errors(400, 404)}}},
    "/payments/checkout": {"post": {"summary": "Create an order and a Stripe Checkout session", "requestBody": _BODY,
                                    "security": [{"hubToken": []}],
                                    "responses": {"201": response("Order and hosted checkout URL", {"type": "object", "properties": {
                                        "order": {"$ref": "#/components/schemas/Order"}, "checkout_url": {"type": "string"}}}),
                                        **errors(400, 401, 404, 409, 503)}}},
}
OPENAPI_SCHEMAS: dict = {
    "PurchaseRequest": {"type": "object", "additionalProperties": False, "properties": {
        "course": {"type": "string"}, "bundle": {"type": "string"}, "plan": {"type": "string", "enum": ["monthly", "yearly"]},
        "coupon": {"type": "string"}, "country": {"type": "string", "description": "ISO 3166-1 alpha-2"}}},
    "Quote": {"type": "object", "properties": {
        "kind": {"type": "string"}, "title": {"type": "string"}, "currency": {"type": "string"},
        "country": {"type": "string"}, "coupon": {"type": "string", "nullable": True},
        "subtotal_cents": _MONEY, "discount_cents": _MONEY, "tax_cents": _MONEY, "total_cents": _MONEY,
        "tax_rate_percent": {"type": "number"}, "tax_inclusive": {"type": "boolean"}, "tax_label": {"type": "string"},
        "lines": {"type": "array", "items": {"type": "object"}}}},
}
