"""``/api/v1/payments/orders``: my orders, one order (synced with Stripe while open), cancelling a subscription."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ...models.commerce import Order
from ...services.payments import checkout, fulfillment, invoices
from ..base import APIHandler, CommerceMixin, requires_user
from .spec import errors, response


def order_json(db: Session, order: Order) -> dict:
    return {
        "id": order.id, "kind": order.kind, "status": order.status, "currency": order.currency,
        "country": order.country, "subtotal_cents": order.subtotal_cents, "discount_cents": order.discount_cents,
        "tax_cents": order.tax_cents, "total_cents": order.total_cents, "tax_inclusive": order.tax_inclusive,
        "plan": order.plan, "course": order.course.slug if order.course else None,
        "bundle": order.bundle.slug if order.bundle else None,
        "created_at": order.created_at.isoformat(), "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "invoices": [{"id": inv.id, "number": inv.number, "kind": inv.kind} for inv in invoices.for_order(db, order)],
    }


class OrdersAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"orders": [order_json(self.db, o) for o in checkout.orders_for(self.db, user)]})


class OrderAPI(CommerceMixin, APIHandler):
    @requires_user
    def get(self, order_id: str):
        user = self.require_user()
        order = checkout.order_for_user(self.db, user, int(order_id))
        if order.status in ("pending", "awaiting_payment") and order.stripe_session_id:
            # the buyer is waiting: ask Stripe instead of waiting for the webhook
            fulfillment.sync_session(self.db, self.stripe, self.policy, order.stripe_session_id)
            self.db.commit()
        self.write_json(order_json(self.db, order))


class CancelSubscriptionAPI(CommerceMixin, APIHandler):
    @requires_user
    def post(self, order_id: str):
        user = self.require_user()
        self.json_body()
        row = fulfillment.cancel_subscription(self.db, self.stripe, self.policy, user, int(order_id))
        self.db.commit()
        self.write_json({"order": row.order_id, "status": row.status, "cancel_at_period_end": True,
                         "current_period_end": row.current_period_end.isoformat() if row.current_period_end else None})


default_handlers = [
    (r"api/v1/payments/orders", OrdersAPI),
    (r"api/v1/payments/orders/([0-9]{1,9})", OrderAPI),
    (r"api/v1/payments/orders/([0-9]{1,9})/cancel", CancelSubscriptionAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_MONEY = {"type": "integer", "description": "cents"}
OPENAPI_PATHS: dict = {
    "/payments/orders": {"get": {"summary": "My orders", "security": [{"hubToken": []}], "responses": {
        "200": response("Orders", {"type": "object", "properties": {"orders": {"type": "array", "items": {
            "$ref": "#/components/schemas/Order"}}}}), **errors(401)}}},
    "/payments/orders/{id}": {"get": {"summary": "One of my orders (asks Stripe when still open)",
                                      "parameters": [_ID], "security": [{"hubToken": []}], "responses": {
        "200": response("Order", {"$ref": "#/components/schemas/Order"}), **errors(401, 404)}}},
    "/payments/orders/{id}/cancel": {"post": {
        "summary": "Stop renewing an all-access subscription (access lasts to the period end)", "parameters": [_ID],
        "security": [{"hubToken": []}],
        "responses": {"200": response("Cancelled at period end", {"type": "object"}), **errors(401, 404, 409, 503)}}},
}
OPENAPI_SCHEMAS: dict = {
    "Order": {"type": "object", "required": ["id", "status", "total_cents"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["course", "bundle", "subscription"]},
        "status": {"type": "string", "enum": ["pending", "awaiting_payment", "paid", "refunded", "disputed",
                                              "expired", "failed"]},
        "currency": {"type": "string"}, "country": {"type": "string"}, "subtotal_cents": _MONEY,
        "discount_cents": _MONEY, "tax_cents": _MONEY, "total_cents": _MONEY, "tax_inclusive": {"type": "boolean"},
        "invoices": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"}, "kind": {"type": "string"}}}}}},
}
