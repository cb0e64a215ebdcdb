"""Webhook chaos against the Stripe test server: duplicates, reordering, delays, bad signatures,
stale timestamps, 5xx then retry. After each storm the invariants hold: no purchase lost, none
granted twice, unpaid never fulfilled, refunds revoke access, the ledger balances to the cent."""
import pytest
from sqlalchemy import func, select

from lms_extension.models import Enrollment, User
from lms_extension.models.commerce import AccessGrant, Order, StripeEvent
from lms_extension.services.payments import checkout, fulfillment, ledger, reconcile
from stripe_test_server.testing import ControlError
from tests.factories import make_course, make_user

CARD, ASYNC_OK, ASYNC_FAIL, DECLINE, DISPUTE = ("4242424242424242", "4000000000008880", "4000000000007775",
                                                "4000000000000002", "4000000000000259")


def buy(shop, tmp_path, n, prices=None):
    """``n`` buyers each open a checkout for their own course; returns [(order_id, session_id)]."""
    out = []
    with shop.factory() as db:
        for i in range(n):
            course = make_course(db, tmp_path / str(i), f"x{i}-{shop.tag}", price_cents=(prices or [4900])[i % len(prices or [1])],
                                 instructor=f"t{i % 2}-{shop.tag}")
            user = make_user(db, f"u{i}-{shop.tag}")
            q = checkout.quote(db, shop.policy.taxes, user=user, country=("DE", "US", "AU", "CA")[i % 4], course=course.slug)
            order = checkout.create_order(db, user, q)
            fulfillment.start_checkout(db, shop.stripe, order, success_url="http://x/ok", cancel_url="http://x/no")
            out.append((order.id, order.stripe_session_id))
        db.commit()
    return out


def pay(shop, session_id, card=CARD):
    try:
        return shop.srv.pay(session_id, card=card, email="b@example.org", name="B")
    except ControlError:
        return None  # declined


def check_invariants(shop, orders):
    """Compare every order with what Stripe says now; returns {order_id: status}."""
    statuses = {}
    with shop.factory() as db:
        for order_id, session_id in orders:
            order = db.get(Order, order_id)
            cs = shop.stripe.v1.checkout.sessions.retrieve(session_id)
            grants = db.scalar(select(func.count(AccessGrant.id)).where(AccessGrant.order_id == order_id))
            enrolled = db.scalar(select(func.count(Enrollment.id)).where(Enrollment.user_id == order.user_id,
                                                                         Enrollment.course_id == order.course_id))
            total = ledger.order_sum(db, order_id)
            paid_in_stripe = cs.status == "complete" and cs.payment_status == "paid"
            refunded = False
            if cs.payment_intent:
                charge = shop.stripe.v1.charges.list({"payment_intent": cs.payment_intent, "limit": 1}).data
                refunded = bool(charge) and (charge[0].refunded or any(
                    d.status == "lost" for d in shop.stripe.v1.disputes.list({"charge": charge[0].id}).data))
            if paid_in_stripe and not refunded:  # no purchase lost, granted exactly once, booked to the cent
                assert (order.status, grants, enrolled, total) == ("paid", 1, 1, order.total_cents), (order_id, order.status)
            elif paid_in_stripe and refunded:  # refund revokes; the ledger nets to zero
                assert order.status in ("refunded", "disputed") and grants == 1 and enrolled == 0 and total == 0
            else:  # unpaid never fulfilled
                assert order.status != "paid" and grants == 0 and enrolled == 0 and total == 0, (order_id, order.status)
            statuses[order_id] = order.status
    return statuses


def test_duplicates_and_shuffled_order(shop, tmp_path):
    shop.srv.chaos(duplicates=3, order="shuffle")
    orders = buy(shop, tmp_path, 5)
    for (order_id, session_id), card in zip(orders, (CARD, CARD, ASYNC_OK, DECLINE, CARD)):
        pay(shop, session_id, card)
    shop.srv.advance(5)  # async payments settle
    shop.srv.wait_idle(20)
    statuses = check_invariants(shop, orders)
    assert list(statuses.values()) == ["paid", "paid", "paid", "pending", "paid"]
    copies = shop.srv.deliveries(type="checkout.session.completed")
    assert len(copies) >= 4 * 4  # each completed session delivered 4 times, acted on once
    with shop.factory() as db:
        ids = [e for e in db.scalars(select(StripeEvent.id).where(StripeEvent.type == "checkout.session.completed"))]
        assert len(ids) == len(set(ids))


def test_refund_events_before_payment_events(shop, tmp_path):
    """Everything held, then delivered newest first: the refund arrives before the purchase."""
    orders = buy(shop, tmp_path, 2)
    shop.srv.chaos(hold=True)
    for _, session_id in orders:
        pay(shop, session_id)
    cs = shop.stripe.v1.checkout.sessions.retrieve(orders[0][1])
    shop.stripe.v1.refunds.create({"payment_intent": cs.payment_intent})
    with shop.factory() as db:
        assert db.get(Order, orders[0][0]).status == "pending"
    shop.srv.chaos()
    assert shop.srv.release(order="reverse")
    shop.srv.wait_idle(20)
    statuses = check_invariants(shop, orders)
    assert statuses == {orders[0][0]: "refunded", orders[1][0]: "paid"}


def test_delayed_delivery(shop, tmp_path):
    shop.srv.chaos(delay=1.0)
    orders = buy(shop, tmp_path, 1)
    pay(shop, orders[0][1])
    with shop.factory() as db:
        assert db.get(Order, orders[0][0]).status == "pending"  # not yet told
    shop.srv.wait_idle(20)
    assert check_invariants(shop, orders) == {orders[0][0]: "paid"}


@pytest.mark.stripe_server(max_attempts=2)
@pytest.mark.parametrize("chaos", [{"bad_signature": True}, {"stale_timestamp": True}])
def test_bad_signature_and_stale_timestamp_are_refused(shop, tmp_path, chaos):
    orders = buy(shop, tmp_path, 2)
    shop.srv.chaos(**chaos)
    pay(shop, orders[0][1])
    shop.srv.wait_idle(20)
    attempts = shop.srv.deliveries(type="checkout.session.completed")
    assert attempts and all(a["status"] == 400 for a in attempts)  # 400, never acted on
    with shop.factory() as db:
        assert db.get(Order, orders[0][0]).status == "pending"
    # the scheduled reconciliation repairs what the refused deliveries missed
    shop.srv.chaos()
    with shop.factory() as db:
        report = reconcile.run(db, shop.stripe, shop.policy)
    assert not report.errors
    assert check_invariants(shop, orders) == {orders[0][0]: "paid", orders[1][0]: "pending"}


def test_server_errors_then_retry(shop, tmp_path):
    orders = buy(shop, tmp_path, 1)
    shop.srv.wait_idle(20)
    before = len(shop.endpoint.statuses)
    shop.endpoint.fail_next(3)
    pay(shop, orders[0][1])
    shop.srv.wait_idle(20)
    after = shop.endpoint.statuses[before:]
    assert after[:3] == [500, 500, 500] and 200 in after[3:]
    retried = [a for a in shop.srv.deliveries() if a["status"] == 500]
    assert len(retried) == 3 and all(any(b["ok"] and b["event"] == a["event"] for b in shop.srv.deliveries())
                                     for a in retried)  # each failed delivery was retried until it went through
    assert check_invariants(shop, orders) == {orders[0][0]: "paid"}


def test_disputes_and_refunds_in_a_storm(shop, tmp_path):
    shop.srv.chaos(duplicates=2, order="reverse")
    orders = buy(shop, tmp_path, 4, prices=[1999, 5000, 12345])
    for (order_id, session_id), card in zip(orders, (DISPUTE, CARD, CARD, ASYNC_FAIL)):
        pay(shop, session_id, card)
    shop.srv.advance(5)
    shop.srv.wait_idle(20)
    disputes = shop.stripe.v1.disputes.list({"limit": 10}).data
    assert len(disputes) == 1
    shop.srv.close_dispute(disputes[0].id, "lost")
    cs = shop.stripe.v1.checkout.sessions.retrieve(orders[1][1])
    shop.stripe.v1.refunds.create({"payment_intent": cs.payment_intent})
    shop.srv.wait_idle(20)
    statuses = check_invariants(shop, orders)
    assert list(statuses.values()) == ["disputed", "refunded", "paid", "failed"]
    with shop.factory() as db:  # the whole ledger: what was kept equals what was paid and not returned
        kept = sum(ledger.order_sum(db, oid) for oid, _ in orders)
        assert kept == db.get(Order, orders[2][0]).total_cents


def test_same_event_delivered_concurrently(shop, tmp_path):
    """Eight copies of one event at the same moment (several service replicas): one grant."""
    import json
    import threading
    import time as _time

    from stripe_test_server.webhooks import sign

    orders = buy(shop, tmp_path, 1)
    shop.srv.chaos(hold=True)
    pay(shop, orders[0][1])
    [event] = [e for e in shop.stripe.v1.events.list({"type": "checkout.session.completed", "limit": 5}).data
               if e.data.object.id == orders[0][1]]
    payload = json.dumps(event.to_dict()).encode()
    barrier = threading.Barrier(8)
    statuses = []

    def deliver():
        barrier.wait()
        for _ in range(20):  # Stripe retries whatever was not 2xx
            status = shop.endpoint.deliver(payload, sign(payload.decode(), shop.endpoint.secret, int(_time.time())))
            if status == 200:
                break
            assert status == 503, status
            _time.sleep(0.05)
        statuses.append(status)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * 8
    assert check_invariants(shop, orders) == {orders[0][0]: "paid"}
    with shop.factory() as db:
        assert db.get(StripeEvent, event.id).processed_at is not None


def test_free_with_coupon_skips_stripe(shop, tmp_path):
    from lms_extension.services.payments import coupons

    with shop.factory() as db:
        course = make_course(db, tmp_path, f"free-{shop.tag}", price_cents=3000, instructor=f"tf-{shop.tag}")
        user = make_user(db, f"uf-{shop.tag}")
        coupons.create_coupon(db, f"ALL{shop.tag}", percent_off=100)
        q = checkout.quote(db, shop.policy.taxes, user=user, country="DE", course=course.slug, coupon=f"ALL{shop.tag}")
        order = checkout.create_order(db, user, q)
        assert q.total_cents == 0 and fulfillment.fulfill_without_payment(db, shop.policy, order)
        assert not fulfillment.fulfill_without_payment(db, shop.policy, order)
        db.commit()
        assert order.status == "paid" and order.stripe_session_id is None
        assert db.scalar(select(func.count(Enrollment.id)).where(Enrollment.user_id == user.id)) == 1
        assert ledger.order_sum(db, order.id) == 0
