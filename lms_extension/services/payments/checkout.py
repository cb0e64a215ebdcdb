"""Checkout: price a purchase (course, bundle or all-access plan), then open a Stripe session.

Prices always come from the database; the buyer only chooses what, which coupon and which
country. The quote shown on the checkout page and the order row are computed by one function.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import Conflict, InvalidInput, NotFound
from ...models import Course, Enrollment, User
from ...models.commerce import Bundle, Coupon, Order
from . import coupons, subscriptions
from .checkout_billing import Billing
from .fulfillment import close_unpaid, open_order
from .tax import TaxTable, normalize_country, split

PLANS = ("monthly", "yearly")


@dataclass
class QuoteLine:
    description: str
    course_id: int | None
    instructor_id: int | None
    list_cents: int
    discount_cents: int = 0
    tax_cents: int = 0
    total_cents: int = 0


@dataclass
class Quote:
    kind: str  # course | bundle | subscription
    title: str
    currency: str
    country: str
    lines: list[QuoteLine]
    coupon: Coupon | None
    tax_rate_bp: int
    tax_inclusive: bool
    tax_label: str
    course: Course | None = None
    bundle: Bundle | None = None
    plan: str | None = None
    course_ids: list[int] = field(default_factory=list)

    @property
    def subtotal_cents(self) -> int:
        return sum(ln.list_cents for ln in self.lines)

    @property
    def discount_cents(self) -> int:
        return sum(ln.discount_cents for ln in self.lines)

    @property
    def tax_cents(self) -> int:
        return sum(ln.tax_cents for ln in self.lines)

    @property
    def total_cents(self) -> int:
        return sum(ln.total_cents for ln in self.lines)

    @property
    def net_cents(self) -> int:
        return self.total_cents - self.tax_cents

    def public(self) -> dict:
        return {
            "kind": self.kind, "title": self.title, "currency": self.currency, "country": self.country,
            "plan": self.plan, "coupon": self.coupon.code if self.coupon else None,
            "subtotal_cents": self.subtotal_cents, "discount_cents": self.discount_cents,
            "tax_cents": self.tax_cents, "total_cents": self.total_cents,
            "tax_rate_percent": self.tax_rate_bp / 100, "tax_inclusive": self.tax_inclusive, "tax_label": self.tax_label,
            "lines": [{"description": ln.description, "list_cents": ln.list_cents, "discount_cents": ln.discount_cents,
                       "tax_cents": ln.tax_cents, "total_cents": ln.total_cents} for ln in self.lines],
        }


def quote(session: Session, taxes: TaxTable, *, user: User | None, country: str, course: str | None = None,
          bundle: str | None = None, plan: str | None = None, coupon: str | None = None,
          plan_prices: dict[str, int] | None = None, plan_currency: str = "usd") -> Quote:
    """Price one purchase. Exactly one of ``course``, ``bundle`` or ``plan``."""
    if sum(x is not None and x != "" for x in (course, bundle, plan)) != 1:
        raise InvalidInput("choose exactly one of course, bundle or plan")
    country = normalize_country(country)
    rule = taxes.rule(country)
    coupon_course_id = None
    if course:
        c = _published_course(session, course)
        if c.is_free:
            raise InvalidInput(f"{c.title!r} is free: enroll instead")
        if c.price_cents < 0:
            raise InvalidInput("this course has no valid price")
        lines = [QuoteLine(c.title, c.id, c.instructor_id, c.price_cents)]
        q = Quote("course", c.title, c.currency, country, lines, None, rule.rate_bp, rule.inclusive, rule.label,
                  course=c, course_ids=[c.id])
        coupon_course_id = c.id
    elif bundle:
        b = session.scalars(select(Bundle).where(Bundle.slug == bundle, Bundle.active.is_(True))).one_or_none()
        if b is None or not b.courses:
            raise NotFound(f"no bundle {bundle!r}")
        if b.price_cents <= 0:
            raise InvalidInput("this bundle has no valid price")
        lines = _split_bundle(b)
        q = Quote("bundle", b.title, b.currency, country, lines, None, rule.rate_bp, rule.inclusive, rule.label,
                  bundle=b, course_ids=[c.id for c in b.courses])
    else:
        if plan not in PLANS:
            raise InvalidInput(f"plan must be one of {', '.join(PLANS)}")
        price = (plan_prices or {}).get(plan, 0)
        if price <= 0:
            raise InvalidInput(f"the {plan} plan is not for sale")
        title = f"All-access subscription ({plan})"
        q = Quote("subscription", title, plan_currency, country, [QuoteLine(title, None, None, price)], None,
                  rule.rate_bp, rule.inclusive, rule.label, plan=plan)
    if coupon:
        q.coupon = coupons.find_valid(session, coupon, course_id=coupon_course_id, currency=q.currency)
    _apply(q, rule)
    return q


def _published_course(session: Session, slug: str) -> Course:
    c = session.scalars(select(Course).where(Course.slug == slug)).one_or_none()
    if c is None or not c.published:
        raise NotFound(f"no course {slug!r}")
    return c


def _split_bundle(b: Bundle) -> list[QuoteLine]:
    """The bundle price spread over its courses in proportion to their list prices (to the cent)."""
    weights = [max(c.price_cents, 1) for c in b.courses]
    total_w = sum(weights)
    lines, given = [], 0
    for i, (c, w) in enumerate(zip(b.courses, weights)):
        share = b.price_cents - given if i == len(weights) - 1 else b.price_cents * w // total_w
        given += share
        lines.append(QuoteLine(f"{b.title}: {c.title}", c.id, c.instructor_id, share))
    return lines


def _apply(q: Quote, rule) -> None:
    discount_left = coupons.discount_for(q.coupon, q.subtotal_cents)
    subtotal = q.subtotal_cents
    for i, ln in enumerate(q.lines):
        if i == len(q.lines) - 1:
            ln.discount_cents = discount_left
        else:
            ln.discount_cents = (coupons.discount_for(q.coupon, subtotal) * ln.list_cents // subtotal) if subtotal else 0
            discount_left -= ln.discount_cents
        ln.tax_cents, ln.total_cents = split(ln.list_cents - ln.discount_cents, rule)


def item_key(q: Quote) -> str:
    """What a purchase buys, for "one open checkout per buyer and item"."""
    if q.kind == "course":
        return f"course:{q.course.id}"
    if q.kind == "bundle":
        return f"bundle:{q.bundle.id}"
    return "subscription"


def replace_pending(session: Session, user: User, key: str) -> list[Order]:
    """Close ``user``'s open checkout of ``key`` (a newer one replaces it) and give its coupon use
    back. Returns the closed orders: their Stripe sessions still need expiring
    (``fulfillment.start_checkout`` does it)."""
    closed = []
    for old in session.scalars(select(Order).where(Order.user_id == user.id, Order.item_key == key,
                                                   Order.status == "pending")):
        if close_unpaid(session, old, "expired", note="replaced by a newer checkout"):
            closed.append(old)
    return closed


def create_order(session: Session, user: User, q: Quote, billing: Billing | None = None) -> Order:
    """A pending order for ``q`` (coupon use reserved). Refuses to sell what the buyer already has.

    ``billing`` (``checkout_billing.parse``) goes on the order and its invoice; without it the
    invoice names the buyer by display name.

    It replaces the buyer's open checkout of the same item (``replaced`` on the new order lists
    them), so one student holds at most one coupon use per item."""
    if q.kind != "subscription":
        owned = set(session.scalars(select(Enrollment.course_id).where(
            Enrollment.user_id == user.id, Enrollment.course_id.in_(q.course_ids))))
        if owned and owned.issuperset(q.course_ids):
            raise Conflict("you already have access to everything in this purchase")
    elif subscriptions.has_all_access(session, user.id):
        raise Conflict("you already have an active all-access subscription")
    if q.total_cents <= 0 and q.kind == "subscription":
        raise InvalidInput("a subscription cannot be free")
    key = item_key(q)
    replaced = replace_pending(session, user, key)
    order = open_order(session, dict(
        user_id=user.id, kind=q.kind, item_key=key, course_id=q.course.id if q.course else None,
        bundle_id=q.bundle.id if q.bundle else None, plan=q.plan, currency=q.currency, country=q.country,
        subtotal_cents=q.subtotal_cents, discount_cents=q.discount_cents, tax_cents=q.tax_cents,
        total_cents=q.total_cents, tax_rate_bp=q.tax_rate_bp, tax_inclusive=q.tax_inclusive, tax_label=q.tax_label,
        coupon_id=q.coupon.id if q.coupon else None),
        [dict(course_id=ln.course_id, instructor_id=ln.instructor_id, description=ln.description[:300],
              list_cents=ln.list_cents, discount_cents=ln.discount_cents, tax_cents=ln.tax_cents,
              total_cents=ln.total_cents) for ln in q.lines],
        billing=billing or Billing(name=user.display_name or user.hub_name))
    order.replaced = replaced
    if q.coupon is not None:
        coupons.reserve(session, q.coupon, order)
    return order


def order_for_user(session: Session, user: User, order_id: int) -> Order:
    """One of ``user``'s own orders; someone else's is indistinguishable from a missing one."""
    order = session.get(Order, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound(f"no order {order_id}")
    return order


def orders_for(session: Session, user: User) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.user_id == user.id, Order.status != "pending")
                                .order_by(Order.created_at.desc(), Order.id.desc())))
