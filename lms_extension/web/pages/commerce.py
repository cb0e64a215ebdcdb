"""Commerce pages: checkout, success, purchases, refund approvals, earnings."""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput, LMSError, NotFound
from ...models import Course
from ...services.payments import access, checkout, fulfillment, invoices, ledger, payouts, purchases, refunds
from ...services.payments.stripe_client import NOT_SET_UP, readiness
from ...services.payments.tax import COUNTRIES
from ..api.payments import CommerceMixin
from ..base import BaseHandler
from ..pages.catalog import lesson_open_url


def _purchase_from_query(handler) -> dict:
    return {k: handler.get_argument(k, "") for k in ("course", "bundle", "plan", "coupon", "country")}


class CheckoutPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        args = self.purchase_args({k: v for k, v in _purchase_from_query(self).items() if v})
        coupon_error = None
        try:
            q = self.quote(args, user)
        except InvalidInput as exc:
            if not args.get("coupon"):
                raise
            coupon_error, args["coupon"] = exc.message, None
            q = self.quote(args, user)
        owned = purchases.already_owned(self.db, user, q)
        # without Stripe keys the page still prices the purchase, and says why it cannot be paid
        payments_ready = q.total_cents == 0 and q.kind != "subscription" or readiness(self.config) is None
        self.render_page("commerce/checkout.html", q=q, args=args, countries=COUNTRIES, coupon_error=coupon_error,
                         owned=owned, payments_ready=payments_ready, payments_off=NOT_SET_UP)

    @web.authenticated
    def post(self):
        user = self.require_user()
        args = self.purchase_args({k: v for k, v in _purchase_from_query(self).items() if v})
        order, url = self.start_checkout(user, args)
        self.redirect(url, status=303)


class CheckoutSuccessPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        try:
            order = checkout.order_for_user(self.db, user, int(self.get_argument("order", "0")))
        except ValueError:
            raise NotFound("no such order") from None
        if order.status in ("pending", "awaiting_payment") and order.stripe_session_id:
            # Stripe sent the buyer back: ask Stripe now rather than wait for the webhook
            fulfillment.sync_session(self.db, self.stripe, self.policy, order.stripe_session_id)
            self.db.commit()
        courses = [self.db.get(Course, cid) for cid in access.courses_of(self.db, order)]
        links = []
        for course in courses:
            first = course.lessons[0] if course.lessons else None
            links.append((course, lesson_open_url(self.config.hub_prefix, course.slug, first.key) if first else None))
        self.render_page("commerce/success.html", order=order, links=links)


class CheckoutCancelPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        try:
            order = checkout.order_for_user(self.db, user, int(self.get_argument("order", "0")))
        except ValueError:
            raise NotFound("no such order") from None
        self.render_page("commerce/cancel.html", order=order)


class PurchasesPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        rows = purchases.purchase_rows(self.db, self.policy, user)
        self.render_page("commerce/purchases.html", rows=rows)


class RefundRequestPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def post(self, order_id: str):
        user = self.require_user()
        try:
            refunds.request_refund(self.db, self.policy, user, int(order_id), self.get_argument("reason", ""))
        except LMSError as exc:
            if exc.status == 404:
                raise
            self.db.rollback()
            self.add_notice(exc.message)
            self.redirect(f"{self.config.service_prefix}purchases", status=303)
            return
        self.db.commit()
        self.add_notice("Refund requested.")
        self.redirect(f"{self.config.service_prefix}purchases", status=303)


class CancelSubscriptionPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def post(self, order_id: str):
        row = fulfillment.cancel_subscription(self.db, self.stripe, self.policy, self.require_user(), int(order_id))
        self.db.commit()
        end = f" on {row.current_period_end:%Y-%m-%d}" if row.current_period_end else ""
        self.add_notice(f"Your subscription will not renew; all-access ends{end}.")
        self.redirect(f"{self.config.service_prefix}purchases", status=303)


class InvoicePage(BaseHandler):
    @web.authenticated
    def get(self, invoice_id: str):
        invoice = invoices.for_user(self.db, self.require_user(), int(invoice_id))
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'inline; filename="{invoice.number}.pdf"')
        self.finish(invoices.render_pdf(invoice))


class RefundApprovalsPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self, request_id: str | None = None):
        user = self.require_user()
        rows = [(r, refunds.course_titles(self.db, r.order)) for r in refunds.pending_for(self.db, user)]
        self.render_page("commerce/refunds.html", rows=rows)

    @web.authenticated
    def post(self, request_id: str | None = None):
        user = self.require_user()
        approve = self.get_argument("decision", "") == "approve"
        try:
            refunds.decide(self.db, self.stripe, self.policy, user, int(request_id), approve)
        except LMSError as exc:
            if exc.status in (403, 404):
                raise
            self.db.rollback()
            self.add_notice(exc.message)
            self.redirect(f"{self.config.service_prefix}refunds", status=303)
            return
        self.db.commit()
        self.add_notice("Refunded." if approve else "Rejected.")
        self.redirect(f"{self.config.service_prefix}refunds", status=303)


class EarningsPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        instructor = payouts.instructor_of(self.db, user)
        account = payouts.account_of(self.db, instructor)
        self.db.commit()
        period = self.get_argument("period", "day")
        if period not in ("day", "week", "month"):
            period = "day"
        per_course = ledger.per_course(self.db, instructor.id)
        titles = {c.id: c.title for c in self.db.query(Course).filter(Course.id.in_(list(per_course) or [0]))}
        points = ledger.series(self.db, instructor.id, {"day": "day", "week": "week", "month": "month"}[period],
                               points={"day": 30, "week": 12, "month": 12}[period])
        self.render_page("commerce/earnings.html", balances=ledger.balances(self.db, instructor.id),
                         history=ledger.history(self.db, instructor.id, 50), per_course=per_course, titles=titles,
                         account=account, period=period, chart=_bar_chart(points),
                         share=(account.revenue_share_bp or 10000 - self.policy.platform_share_percent * 100) / 100,
                         hold_days=self.policy.payout_hold_days)


class ConnectPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def post(self):
        user = self.require_user()
        url = payouts.start_onboarding(self.db, self.stripe, user, return_url=self.public_url("earnings/connect/return"),
                                       refresh_url=self.public_url("earnings"))
        self.db.commit()
        self.redirect(url, status=303)


class ConnectReturnPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        payouts.refresh_account(self.db, self.stripe, self.require_user())
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}earnings")


def _bar_chart(points: list[tuple[str, int]], width: int = 720, height: int = 180) -> dict:
    """Geometry of a server-rendered SVG bar chart (no JavaScript, no CDN)."""
    top = max([abs(v) for _, v in points] + [1])
    n = max(len(points), 1)
    slot = width / n
    bars = []
    for i, (label, value) in enumerate(points):
        h = round((height - 30) * abs(value) / top)
        bars.append({"x": round(i * slot + slot * 0.15, 1), "w": round(slot * 0.7, 1), "y": height - 20 - h, "h": h,
                     "label": label, "value": value, "negative": value < 0,
                     "show_label": n <= 12 or i % max(1, n // 10) == 0})
    return {"width": width, "height": height, "bars": bars, "top": top}


default_handlers = [
    (r"checkout", CheckoutPage),
    (r"checkout/success", CheckoutSuccessPage),
    (r"checkout/cancel", CheckoutCancelPage),
    (r"purchases", PurchasesPage),
    (r"purchases/([0-9]+)/refund", RefundRequestPage),
    (r"purchases/([0-9]+)/cancel", CancelSubscriptionPage),
    (r"invoices/([0-9]+)\.pdf", InvoicePage),
    (r"refunds", RefundApprovalsPage),
    (r"refunds/([0-9]+)", RefundApprovalsPage),
    (r"earnings", EarningsPage),
    (r"earnings/connect", ConnectPage),
    (r"earnings/connect/return", ConnectReturnPage),
]

OPENAPI_PATHS: dict = {}
OPENAPI_SCHEMAS: dict = {}
