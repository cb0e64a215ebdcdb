"""A course the buyer now owns leaves their wishlist: paid through Stripe (webhook), made free by a
coupon, in a bundle. A payment that fails leaves the wishlist as it was; other people's wishlists
and the buyer's other wishes are untouched."""
from __future__ import annotations

from lms_extension.models import User
from lms_extension.services import wishlist
from lms_extension.services.payments import bundles, checkout, coupons, fulfillment
from tests.factories import make_course, make_user

from .test_stripe_purchase import open_checkout, order_state, pay, setup_course


def wished(db, user) -> list[str]:
    return sorted(c.slug for c in wishlist.items(db, user))


def test_a_stripe_purchase_removes_the_course_from_the_buyers_wishlist(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    with shop.factory() as db:
        other = make_course(db, tmp_path / "o", f"other-{shop.tag}", price_cents=900, instructor=f"t-{shop.tag}")
        rival = make_user(db, f"rival-{shop.tag}")
        buyer = db.get(User, buyer_id)
        for user in (buyer, rival):
            wishlist.add(db, user, slug)
            wishlist.add(db, user, other.slug)
        db.commit()
        rival_id = rival.id
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id)
    with shop.factory() as db:  # an open checkout is not a purchase
        assert wished(db, db.get(User, buyer_id)) == sorted([slug, other.slug])
    pay(shop, session_id)
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:3] == ("paid", 1, 1)
    with shop.factory() as db:
        assert wished(db, db.get(User, buyer_id)) == [other.slug]
        assert wished(db, db.get(User, rival_id)) == sorted([slug, other.slug])


def test_a_failed_payment_keeps_the_wish(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    with shop.factory() as db:
        wishlist.add(db, db.get(User, buyer_id), slug)
        db.commit()
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id)
    pay(shop, session_id, card="4000000000007775")  # fails asynchronously
    shop.srv.wait_idle()
    shop.srv.advance(5)
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:3] == ("failed", 0, 0)
    with shop.factory() as db:
        assert wished(db, db.get(User, buyer_id)) == [slug]


def test_an_order_a_coupon_made_free_removes_the_wish(session, policy, paid_course, buyer):
    wishlist.add(session, buyer, paid_course.slug)
    coupons.create_coupon(session, "ALLFREE", percent_off=100)
    order = checkout.create_order(session, buyer, checkout.quote(
        session, policy.taxes, user=buyer, country="US", course=paid_course.slug, coupon="ALLFREE"))
    assert order.total_cents == 0
    assert fulfillment.fulfill_without_payment(session, policy, order)
    assert wished(session, buyer) == []


def test_a_bundle_purchase_removes_each_of_its_courses(session, policy, tmp_path, buyer):
    a = make_course(session, tmp_path / "a", "bundle-a", price_cents=1900, instructor="teacher")
    b = make_course(session, tmp_path / "b", "bundle-b", price_cents=2900, instructor="teacher")
    c = make_course(session, tmp_path / "c", "not-in-bundle", price_cents=2900, instructor="teacher")
    for course in (a, b, c):
        wishlist.add(session, buyer, course.slug)
    admin = make_user(session, "bundle-admin", admin=True)
    bundles.create_bundle(session, admin, slug="ab", title="A and B", price_cents=3900, currency="usd",
                          course_slugs=[a.slug, b.slug])
    coupons.create_coupon(session, "BUNDLEFREE", percent_off=100)
    order = checkout.create_order(session, buyer, checkout.quote(
        session, policy.taxes, user=buyer, country="US", bundle="ab", coupon="BUNDLEFREE"))
    assert fulfillment.fulfill_without_payment(session, policy, order)
    assert wished(session, buyer) == ["not-in-bundle"]
