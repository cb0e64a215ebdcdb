"""Payments API: checkout, Stripe webhook, orders, invoices, refunds, earnings."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ... import permissions
from ...errors import InvalidInput, LMSError
from ...models.commerce import Order
from ...services import catalog
from ...services.payments import bundles, checkout, coupons, fulfillment, invoices, ledger, payouts, refunds, webhooks
from ...services.payments.policy import CommercePolicy
from ...services.payments.stripe_client import PaymentsUnavailable, from_config
from ..base import APIHandler, requires, requires_user
from .spec import errors, response

log = logging.getLogger("lms.payments")
PURCHASE_FIELDS = {"course", "bundle", "plan", "coupon", "country"}


class CommerceMixin:
    """The commerce policy and Stripe client that ``make_app`` built at start-up."""

    @property
    def policy(self) -> CommercePolicy:
        return self.application.settings["lms_commerce_policy"]

    @property
    def stripe(self):
        client = self.application.settings["lms_stripe_client"]
        # None: payments are not set up; from_config logs why and refuses with a buyer's message
        return client if client is not None else from_config(self.config)

    def purchase_args(self, data: dict) -> dict:
        unknown = set(data) - PURCHASE_FIELDS
        if unknown:  # prices come from the catalog, never from the buyer
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
        for key, value in data.items():
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{key} must be a string")
            if value is not None and len(value) > 100:
                raise InvalidInput(f"{key} is too long")
        return {"course": data.get("course") or None, "bundle": data.get("bundle") or None,
                "plan": data.get("plan") or None, "coupon": (data.get("coupon") or "").strip() or None,
                "country": data.get("country") or "US"}

    def quote(self, args: dict, user) -> checkout.Quote:
        return checkout.quote(self.db, self.policy.taxes, user=user, plan_prices=self.policy.plans,
                              plan_currency=self.policy.plan_currency, **args)

    def start_checkout(self, user, args: dict) -> tuple[Order, str]:
        self.check_rate("checkout", f"user:{user.hub_name}", self.config.rate_limit_checkout,
                        "too many checkouts started")
        q = self.quote(args, user)
        stripe = self.stripe if q.total_cents > 0 or q.kind == "subscription" else None  # refuses when not set up
        order = checkout.create_order(self.db, user, q)
        if order.total_cents == 0 and order.kind != "subscription":
            fulfillment.fulfill_without_payment(self.db, self.policy, order)
            self.db.commit()
            return order, self.public_url(f"checkout/success?order={order.id}")
        # absolute links from LMS_PUBLIC_URL: Stripe sends the buyer there, whatever Host they came with
        url = fulfillment.start_checkout(
            self.db, stripe, order,
            success_url=self.public_url(f"checkout/success?order={order.id}&session_id={{CHECKOUT_SESSION_ID}}"),
            cancel_url=self.public_url(f"checkout/cancel?order={order.id}"))
        self.db.commit()
        return order, url


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


class WebhookAPI(CommerceMixin, APIHandler):
    """Stripe calls this without a hub login; the signature on the raw body is the authentication."""

    async def prepare(self):
        self._check_body_size()

    def check_xsrf_cookie(self):
        return None

    def post(self):
        event = webhooks.verify(self.request.body, self.request.headers.get("Stripe-Signature"),
                                self.config.stripe_webhook_secret)
        try:
            outcome = webhooks.handle(self.db, self.stripe, self.policy, event)
            self.db.commit()
        except LMSError:
            self.db.rollback()
            raise
        except DBAPIError as exc:  # a concurrent delivery won the race: let Stripe retry this one
            self.db.rollback()
            log.warning("webhook %s: database conflict, asking Stripe to retry: %s", event["id"], exc.orig)
            raise PaymentsUnavailable("busy, retry") from None
        self.write_json({"received": True, "outcome": outcome})


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


class InvoicePDFAPI(APIHandler):
    @requires_user
    def get(self, invoice_id: str):
        user = self.require_user()
        invoice = invoices.for_user(self.db, user, int(invoice_id))
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'attachment; filename="{invoice.number}.pdf"')
        self.finish(invoices.render_pdf(invoice))


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


class CancelSubscriptionAPI(CommerceMixin, APIHandler):
    @requires_user
    def post(self, order_id: str):
        user = self.require_user()
        self.json_body()
        row = fulfillment.cancel_subscription(self.db, self.stripe, self.policy, user, int(order_id))
        self.db.commit()
        self.write_json({"order": row.order_id, "status": row.status, "cancel_at_period_end": True,
                         "current_period_end": row.current_period_end.isoformat() if row.current_period_end else None})


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
        request = refunds.decide(self.db, self.stripe, self.policy, user, int(request_id), body["approve"])
        self.db.commit()
        self.write_json(refund_json(request))


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
        course_id = None
        if body.get("course"):
            course_id = catalog.get_course(self.db, str(body["course"]), viewer=user).id
        expires = None
        if body.get("expires_at"):
            try:
                expires = datetime.fromisoformat(str(body["expires_at"]))
            except ValueError:
                raise InvalidInput("expires_at must be an ISO 8601 date-time") from None
        coupon = coupons.create_coupon(self.db, str(body.get("code", "")), percent_off=body.get("percent_off"),
                                       amount_off_cents=body.get("amount_off_cents"),
                                       currency=str(body.get("currency", "usd")), course_id=course_id,
                                       max_uses=body.get("max_uses"), expires_at=expires)
        self.db.commit()
        self.write_json({"code": coupon.code, "percent_off": coupon.percent_off,
                         "amount_off_cents": coupon.amount_off_cents, "max_uses": coupon.max_uses}, 201)


class BundlesAPI(APIHandler):
    @requires(permissions.ADMIN, "only admins create bundles")
    def post(self):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict):
            raise InvalidInput("send a JSON object")
        allowed = {"slug", "title", "price_cents", "currency", "courses"}
        if set(body) - allowed:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(set(body) - allowed))}")
        bundle = bundles.create_bundle(self.db, user, slug=body.get("slug"), title=body.get("title"),
                                       price_cents=body.get("price_cents"), currency=str(body.get("currency", "usd")),
                                       course_slugs=body.get("courses"))
        self.db.commit()
        self.write_json({"slug": bundle.slug, "title": bundle.title, "price_cents": bundle.price_cents,
                         "currency": bundle.currency, "courses": [c.slug for c in bundle.courses]}, 201)


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
    (r"api/v1/payments/quote", QuoteAPI),
    (r"api/v1/payments/checkout", CheckoutAPI),
    (r"api/v1/payments/webhook", WebhookAPI),
    (r"api/v1/payments/orders", OrdersAPI),
    (r"api/v1/payments/orders/([0-9]+)", OrderAPI),
    (r"api/v1/payments/orders/([0-9]+)/refund-request", RefundRequestAPI),
    (r"api/v1/payments/orders/([0-9]+)/cancel", CancelSubscriptionAPI),
    (r"api/v1/payments/invoices/([0-9]+)/pdf", InvoicePDFAPI),
    (r"api/v1/payments/refund-requests", RefundRequestsAPI),
    (r"api/v1/payments/refund-requests/([0-9]+)/decision", RefundDecisionAPI),
    (r"api/v1/payments/coupons", CouponsAPI),
    (r"api/v1/payments/bundles", BundlesAPI),
    (r"api/v1/payments/instructors/([0-9]+)/share", InstructorShareAPI),
    (r"api/v1/payments/earnings", EarningsAPI),
]


def _errs(*codes: int) -> dict:
    return errors(*codes)


_PURCHASE = {"$ref": "#/components/schemas/PurchaseRequest"}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_BODY = {"required": True, "content": {"application/json": {"schema": _PURCHASE}}}

OPENAPI_PATHS: dict = {
    "/payments/quote": {"post": {"summary": "Price a purchase (tax and coupon applied)", "requestBody": _BODY,
                                 "responses": {"200": response("Price breakdown", {"$ref": "#/components/schemas/Quote"}),
                                               **_errs(400, 404)}}},
    "/payments/checkout": {"post": {"summary": "Create an order and a Stripe Checkout session", "requestBody": _BODY,
                                    "security": [{"hubToken": []}],
                                    "responses": {"201": response("Order and hosted checkout URL", {"type": "object", "properties": {
                                        "order": {"$ref": "#/components/schemas/Order"}, "checkout_url": {"type": "string"}}}),
                                        **_errs(400, 401, 404, 409, 503)}}},
    "/payments/webhook": {"post": {"summary": "Stripe webhook (Stripe-Signature on the raw body)",
                                   "responses": {"200": response("Event accepted", {"type": "object"}), **_errs(400, 503)}}},
    "/payments/orders": {"get": {"summary": "My orders", "security": [{"hubToken": []}], "responses": {
        "200": response("Orders", {"type": "object", "properties": {"orders": {"type": "array", "items": {
            "$ref": "#/components/schemas/Order"}}}}), **_errs(401)}}},
    "/payments/orders/{id}": {"get": {"summary": "One of my orders (asks Stripe when still open)",
                                      "parameters": [_ID], "security": [{"hubToken": []}], "responses": {
        "200": response("Order", {"$ref": "#/components/schemas/Order"}), **_errs(401, 404)}}},
    "/payments/orders/{id}/refund-request": {"post": {
        "summary": "Ask for a refund (policy window and progress apply)", "parameters": [_ID],
        "security": [{"hubToken": []}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "reason": {"type": "string"}}}}}},
        "responses": {"201": response("Refund request", {"$ref": "#/components/schemas/RefundRequest"}), **_errs(400, 401, 404, 409)}}},
    "/payments/orders/{id}/cancel": {"post": {
        "summary": "Stop renewing an all-access subscription (access lasts to the period end)", "parameters": [_ID],
        "security": [{"hubToken": []}],
        "responses": {"200": response("Cancelled at period end", {"type": "object"}), **_errs(401, 404, 409, 503)}}},
    "/payments/invoices/{id}/pdf": {"get": {"summary": "Invoice or credit note as PDF", "parameters": [_ID],
                                            "security": [{"hubToken": []}], "responses": {
        "200": response("PDF", {"type": "string", "format": "binary"}, "application/pdf"), **_errs(401, 404)}}},
    "/payments/refund-requests": {"get": {"summary": "Refund requests I may decide", "security": [{"hubToken": []}],
                                          "responses": {"200": response("Requests", {"type": "object", "properties": {
                                              "refund_requests": {"type": "array", "items": {
                                                  "$ref": "#/components/schemas/RefundRequest"}}}}), **_errs(401)}}},
    "/payments/refund-requests/{id}/decision": {"post": {
        "summary": "Approve (refund through Stripe, revoke access) or reject", "parameters": [_ID],
        "security": [{"hubToken": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["approve"], "properties": {"approve": {"type": "boolean"}}}}}},
        "responses": {"200": response("Decided", {"$ref": "#/components/schemas/RefundRequest"}), **_errs(400, 401, 403, 404, 409, 503)}}},
    "/payments/coupons": {"post": {"summary": "Create a coupon (admins)", "security": [{"hubToken": []}],
                                   "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                       "type": "object", "required": ["code"], "properties": {
                                           "code": {"type": "string"}, "percent_off": {"type": "integer"},
                                           "amount_off_cents": {"type": "integer"}, "currency": {"type": "string"},
                                           "course": {"type": "string"}, "max_uses": {"type": "integer"},
                                           "expires_at": {"type": "string", "format": "date-time"}}}}}},
                                   "responses": {"201": response("Coupon", {"type": "object"}), **_errs(400, 401, 403, 409)}}},
    "/payments/bundles": {"post": {"summary": "Create a bundle of courses (admins)", "security": [{"hubToken": []}],
                                   "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                       "type": "object", "required": ["slug", "title", "price_cents", "courses"],
                                       "properties": {"slug": {"type": "string"}, "title": {"type": "string"},
                                                      "price_cents": {"type": "integer"}, "currency": {"type": "string"},
                                                      "courses": {"type": "array", "items": {"type": "string"}}}}}}},
                                   "responses": {"201": response("Bundle", {"type": "object"}), **_errs(400, 401, 403, 404, 409)}}},
    "/payments/instructors/{id}/share": {"put": {
        "summary": "Set an instructor's revenue share (admins)", "parameters": [_ID], "security": [{"hubToken": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["share_percent"], "properties": {"share_percent": {"type": "integer"}}}}}},
        "responses": {"200": response("Share", {"type": "object"}), **_errs(400, 401, 403, 404)}}},
    "/payments/earnings": {"get": {"summary": "Instructor balances and ledger entries", "security": [{"hubToken": []}],
                                   "responses": {"200": response("Earnings", {"type": "object"}), **_errs(401, 403)}}},
}
_MONEY = {"type": "integer", "description": "cents"}
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
    "Order": {"type": "object", "required": ["id", "status", "total_cents"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["course", "bundle", "subscription"]},
        "status": {"type": "string", "enum": ["pending", "awaiting_payment", "paid", "refunded", "disputed",
                                              "expired", "failed"]},
        "currency": {"type": "string"}, "country": {"type": "string"}, "subtotal_cents": _MONEY,
        "discount_cents": _MONEY, "tax_cents": _MONEY, "total_cents": _MONEY, "tax_inclusive": {"type": "boolean"},
        "invoices": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "number": {"type": "string"}, "kind": {"type": "string"}}}}}},
    "RefundRequest": {"type": "object", "properties": {
        "id": {"type": "integer"}, "order": {"type": "integer"}, "status": {"type": "string"},
        "reason": {"type": "string"}, "progress_percent": {"type": "integer"}, "created_at": {"type": "string"}}},
}
