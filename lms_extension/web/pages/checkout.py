"""Checkout pages: price and pay, and where Stripe sends the buyer back (success or cancel)."""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput, NotFound
from ...models import Course
from ...services.payments import access, checkout, checkout_billing, fulfillment, purchases
from ...services.payments.checkout_billing import VAT_FORMATS
from ...services.payments.stripe_client import NOT_SET_UP, readiness
from ...services.payments.tax import COUNTRIES, normalize_country
from ..base import BaseHandler, CommerceMixin
from .catalog import lesson_open_url


def _purchase_from_query(handler) -> dict:
    return {k: handler.get_argument(k, "") for k in ("course", "bundle", "plan", "coupon", "country")}


class CheckoutPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        self._render(user, self.purchase_args({k: v for k, v in _purchase_from_query(self).items() if v}))

    def _render(self, user, args: dict, billing: dict | None = None, billing_error=None) -> None:
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
        if billing is None:
            billing = {"name": user.display_name or user.hub_name}
        if billing_error is not None:
            self.set_status(400)
        self.render_page("commerce/checkout.html", q=q, args=args, countries=COUNTRIES, coupon_error=coupon_error,
                         owned=owned, payments_ready=payments_ready, payments_off=NOT_SET_UP,
                         billing=billing, billing_error=billing_error, vat_countries=VAT_FORMATS)

    @web.authenticated
    def post(self):
        user = self.require_user()
        args = self.purchase_args({k: v for k, v in _purchase_from_query(self).items() if v})
        typed = {k: self.get_body_argument(f"billing_{k}", "", strip=False) for k in checkout_billing.FIELDS}
        try:
            billing = checkout_billing.parse(typed, country=normalize_country(args["country"]),
                                             default_name=user.display_name or user.hub_name)
        except InvalidInput as exc:
            # the form comes back with what was typed and the reason next to the field
            self._render(user, args, billing=typed, billing_error=exc)
            return
        order, url = self.start_checkout(user, args, billing)
        self.redirect(url, status=303)


def _own_order(handler: BaseHandler):
    """The signed-in buyer's order named by ``?order=`` (404 for anyone else's or a bad id)."""
    user = handler.require_user()
    try:
        return checkout.order_for_user(handler.db, user, int(handler.get_argument("order", "0")))
    except ValueError:
        raise NotFound("no such order") from None


class CheckoutSuccessPage(CommerceMixin, BaseHandler):
    @web.authenticated
    def get(self):
        order = _own_order(self)
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
        order = _own_order(self)
        self.render_page("commerce/cancel.html", order=order)


default_handlers = [
    (r"checkout", CheckoutPage),
    (r"checkout/success", CheckoutSuccessPage),
    (r"checkout/cancel", CheckoutCancelPage),
]
