"""All-access subscriptions and bundles through the SDK and the test server's webhooks."""
import pytest
from sqlalchemy import func, select

from lms_extension.models import Enrollment, User
from lms_extension.models.commerce import Bundle, Invoice, Order, Subscription
from lms_extension.services import enrollments
from lms_extension.services.payments import checkout, fulfillment, ledger
from tests.factories import make_course, make_user

PLANS = {"monthly": 2900, "yearly": 29000}


def start(shop, user_id, **what):
    with shop.factory() as db:
        user = db.get(User, user_id)
        q = checkout.quote(db, shop.policy.taxes, user=user, plan_prices=PLANS, **what)
        order = checkout.create_order(db, user, q)
        fulfillment.start_checkout(db, shop.stripe, order, success_url="http://x/ok", cancel_url="http://x/no")
        db.commit()
        return order.id, order.stripe_session_id


def test_monthly_all_access_renews_and_cancels(shop, tmp_path):
    with shop.factory() as db:
        course = make_course(db, tmp_path, f"s-{shop.tag}", price_cents=9900, instructor=f"t-{shop.tag}")
        uid = make_user(db, f"sub-{shop.tag}").id
        db.commit()
        slug = course.slug
    order_id, session_id = start(shop, uid, plan="monthly", country="AU")
    shop.srv.pay(session_id, card="4242424242424242", email="s@example.org", name="S")
    shop.srv.wait_idle()
    with shop.factory() as db:
        order = db.get(Order, order_id)
        sub = db.scalar(select(Subscription).where(Subscription.order_id == order_id))
        assert order.status == "paid" and sub.status == "active" and sub.current_period_end is not None
        enrollment, created = enrollments.enroll(db, db.get(User, uid), slug)  # any paid course, no purchase
        db.commit()
        assert created and enrollment.source == "subscription"
        assert ledger.order_sum(db, order_id) == 2900
    shop.srv.advance(32 * 86400)  # a renewal is charged
    shop.srv.wait_idle()
    with shop.factory() as db:
        renewals = db.scalars(select(Invoice).where(Invoice.order_id == order_id)).all()
        assert len(renewals) == 2 and renewals[1].total_cents == 2900 and renewals[1].tax_cents == 264
        assert ledger.order_sum(db, order_id) == 5800
        sub_id = db.get(Order, order_id).stripe_subscription_id
        buyer = db.get(User, uid)
        from lms_extension.errors import InvalidInput, NotFound
        from lms_extension.services.payments import refunds

        with pytest.raises(InvalidInput, match="cancelled"):
            refunds.request_refund(db, shop.policy, buyer, order_id, "")
        with pytest.raises(NotFound):
            fulfillment.cancel_subscription(db, shop.stripe, shop.policy, make_user(db, f"x-{shop.tag}"), order_id)
        fulfillment.cancel_subscription(db, shop.stripe, shop.policy, buyer, order_id)
        db.commit()
    assert shop.stripe.v1.subscriptions.retrieve(sub_id).cancel_at_period_end
    shop.srv.wait_idle()
    with shop.factory() as db:  # still all-access until the period ends
        assert db.scalar(select(func.count(Enrollment.id)).where(Enrollment.user_id == uid)) == 1
    shop.srv.advance(32 * 86400)
    shop.srv.wait_idle()
    with shop.factory() as db:
        sub = db.scalar(select(Subscription).where(Subscription.order_id == order_id))
        assert sub.status == "canceled"
        assert db.scalar(select(func.count(Enrollment.id)).where(Enrollment.user_id == uid)) == 0


def test_bundle_grants_every_course_once(shop, tmp_path):
    with shop.factory() as db:
        a = make_course(db, tmp_path / "a", f"ba-{shop.tag}", price_cents=3000, instructor=f"ta-{shop.tag}")
        b = make_course(db, tmp_path / "b", f"bb-{shop.tag}", price_cents=5000, instructor=f"tb-{shop.tag}")
        bundle = Bundle(slug=f"bundle-{shop.tag}", title="Both", price_cents=6000, currency="usd")
        bundle.courses = [a, b]
        db.add(bundle)
        uid = make_user(db, f"bb-{shop.tag}").id
        db.commit()
        ids = {a.instructor_id, b.instructor_id}
    shop.srv.chaos(duplicates=2)
    order_id, session_id = start(shop, uid, bundle=f"bundle-{shop.tag}", country="FR")
    shop.srv.pay(session_id, card="4242424242424242", email="s@example.org", name="S")
    shop.srv.wait_idle()
    with shop.factory() as db:
        assert db.get(Order, order_id).status == "paid"
        sources = sorted(db.scalars(select(Enrollment.source).where(Enrollment.user_id == uid)))
        assert sources == ["bundle", "bundle"]
        assert ledger.order_sum(db, order_id) == 6000
        pending = sum(bal.pending_cents for i in ids for bal in ledger.balances(db, i))
        lines = db.get(Order, order_id).lines
        assert [ln.list_cents for ln in lines] == [2250, 3750]  # the bundle price split by list prices
        assert pending == sum((ln.total_cents - ln.tax_cents) * 7000 // 10000 for ln in lines)
