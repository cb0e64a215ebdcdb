"""Pricing: course, bundle, plan; coupons; tax; what a buyer cannot tamper with."""
from datetime import timedelta

import pytest

from lms_extension.errors import Conflict, InvalidInput, NotFound
from lms_extension.models.base import utcnow
from lms_extension.models.commerce import Bundle, Coupon
from lms_extension.services.payments import checkout, coupons
from tests.factories import make_course

PLANS = {"monthly": 2900, "yearly": 29000}


def q(session, policy, **kw):
    kw.setdefault("country", "US")
    return checkout.quote(session, policy.taxes, user=None, plan_prices=PLANS, **kw)


def test_course_quote_us_and_de(session, policy, paid_course):
    us = q(session, policy, course="paid-course")
    assert (us.subtotal_cents, us.discount_cents, us.tax_cents, us.total_cents) == (4900, 0, 0, 4900)
    de = q(session, policy, course="paid-course", country="de")
    assert de.tax_inclusive and de.total_cents == 4900 and de.tax_cents == 782 and de.net_cents == 4118
    ca = q(session, policy, course="paid-course", country="CA")
    assert not ca.tax_inclusive and ca.total_cents == 5145 and ca.tax_cents == 245


def test_percent_and_amount_coupons(session, policy, paid_course):
    coupons.create_coupon(session, "HALF", percent_off=50)
    coupons.create_coupon(session, "TENOFF", amount_off_cents=1000, course_id=paid_course.id)
    half = q(session, policy, course="paid-course", country="DE", coupon="half")
    assert half.discount_cents == 2450 and half.total_cents == 2450 and half.tax_cents == 391
    ten = q(session, policy, course="paid-course", coupon="TENOFF")
    assert ten.total_cents == 3900
    big = coupons.create_coupon(session, "HUGE", amount_off_cents=10_000)
    assert q(session, policy, course="paid-course", coupon=big.code).total_cents == 0


def test_coupon_refusals(session, policy, paid_course, tmp_path):
    other = make_course(session, tmp_path, "other-course", price_cents=1000)
    coupons.create_coupon(session, "ONLYOTHER", percent_off=10, course_id=other.id)
    coupons.create_coupon(session, "OLD", percent_off=10, expires_at=utcnow() - timedelta(seconds=1))
    coupons.create_coupon(session, "EUROS", amount_off_cents=100, currency="eur")
    used = coupons.create_coupon(session, "USED", percent_off=10, max_uses=1)
    used.times_redeemed = 1
    # one message for every refusal, so the anonymous quote does not tell which codes exist
    for code in ("NOPE", "ONLYOTHER", "OLD", "EUROS", "USED", "bad code!"):
        with pytest.raises(InvalidInput) as refused:
            q(session, policy, course="paid-course", coupon=code)
        assert refused.value.message == coupons.REFUSED


@pytest.mark.parametrize("kwargs", [
    {"percent_off": 0}, {"percent_off": 101}, {"amount_off_cents": -5}, {"amount_off_cents": 0},
    {"percent_off": 10, "amount_off_cents": 10}, {}, {"percent_off": 10, "max_uses": 0},
])
def test_bad_coupons_are_refused(session, kwargs):
    with pytest.raises(InvalidInput):
        coupons.create_coupon(session, "X1", **kwargs)


def test_bundle_split_is_exact(session, policy, tmp_path):
    a = make_course(session, tmp_path, "bundle-a", price_cents=3000, instructor="teacher-a")
    b = make_course(session, tmp_path, "bundle-b", price_cents=2000, instructor="teacher-b")
    c = make_course(session, tmp_path, "bundle-c", price_cents=1001, instructor="teacher-a")
    bundle = Bundle(slug="trio", title="Trio", price_cents=4999, currency="usd")
    bundle.courses = [a, b, c]
    session.add(bundle)
    session.flush()
    quote = q(session, policy, bundle="trio", country="FR")
    assert quote.subtotal_cents == 4999 and quote.total_cents == 4999
    assert sum(ln.list_cents for ln in quote.lines) == 4999
    assert [ln.course_id for ln in quote.lines] == [a.id, b.id, c.id]
    assert quote.tax_cents == sum(ln.tax_cents for ln in quote.lines) and quote.tax_cents > 0


def test_plans(session, policy):
    monthly = q(session, policy, plan="monthly", country="AU")
    assert monthly.kind == "subscription" and monthly.total_cents == 2900 and monthly.tax_label == "GST"
    with pytest.raises(InvalidInput):
        q(session, policy, plan="weekly")


def test_exactly_one_thing(session, policy, paid_course):
    for kw in ({}, {"course": "paid-course", "plan": "monthly"}):
        with pytest.raises(InvalidInput):
            q(session, policy, **kw)


def test_unknown_free_and_unpublished(session, policy, paid_course, tmp_path):
    with pytest.raises(NotFound):
        q(session, policy, course="no-such-course")
    make_course(session, tmp_path, "free-course", price_cents=0)
    with pytest.raises(InvalidInput, match="free"):
        q(session, policy, course="free-course")
    hidden = make_course(session, tmp_path, "hidden-course", price_cents=500)
    hidden.published = False
    with pytest.raises(NotFound):
        q(session, policy, course="hidden-course")


def test_create_order_reserves_coupon_and_refuses_owned(session, policy, paid_course, buyer):
    coupons.create_coupon(session, "ONCE", percent_off=20, max_uses=1)
    quote = q(session, policy, course="paid-course", coupon="ONCE")
    order = checkout.create_order(session, buyer, quote)
    assert order.status == "pending" and order.total_cents == 3920 and len(order.lines) == 1
    assert order.lines[0].instructor_id == paid_course.instructor_id
    coupon = session.get(Coupon, order.coupon_id)
    session.refresh(coupon)
    assert coupon.times_redeemed == 1
    from tests.factories import make_user

    with pytest.raises(InvalidInput, match=coupons.REFUSED):  # the one use is taken
        checkout.create_order(session, make_user(session, "second-buyer"), quote)
    again = checkout.create_order(session, buyer, quote)  # the same buyer again: replaces the first
    session.refresh(order)
    session.refresh(coupon)
    assert order.status == "expired" and again.status == "pending" and coupon.times_redeemed == 1
    coupons.release(session, again)
    coupons.release(session, again)  # once only
    session.refresh(coupon)
    assert coupon.times_redeemed == 0
    from lms_extension.services.payments import access

    access.grant_order(session, order)
    with pytest.raises(Conflict):
        checkout.create_order(session, buyer, q(session, policy, course="paid-course"))


def test_foreign_order_is_not_found(session, policy, paid_course, buyer):
    from tests.factories import make_user

    order = checkout.create_order(session, buyer, q(session, policy, course="paid-course"))
    with pytest.raises(NotFound):
        checkout.order_for_user(session, make_user(session, "mallory"), order.id)


def test_a_new_coupon_is_news_for_wishlists(session, paid_course, tmp_path):
    from lms_extension.services import wishlist
    from lms_extension.services.users import ensure_user

    other = make_course(session, tmp_path / "other", "other-course", price_cents=3900)
    ann, bob = ensure_user(session, "wish-ann"), ensure_user(session, "wish-bob")
    wishlist.add(session, ann, paid_course.slug)
    wishlist.add(session, bob, other.slug)
    coupons.create_coupon(session, "JUSTTHIS", percent_off=20, course_id=paid_course.id)
    events = wishlist.pending_events(session)
    assert [(e.user_id, e.course_id, e.coupon_code, e.percent_off) for e in events] == [
        (ann.id, paid_course.id, "JUSTTHIS", 20)]
    coupons.create_coupon(session, "EVERYTHING", amount_off_cents=500)  # global: every wishlisted course
    global_events = {(e.user_id, e.course_id) for e in wishlist.pending_events(session)
                     if e.coupon_code == "EVERYTHING"}
    assert global_events == {(ann.id, paid_course.id), (bob.id, other.id)}
