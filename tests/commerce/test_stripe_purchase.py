"""The purchase path through the official SDK against the Stripe test server, webhooks included."""
import time

import pytest
import requests
from sqlalchemy import func, select

from lms_extension.models import Enrollment, User
from lms_extension.models.commerce import AccessGrant, Invoice, LedgerEntry, Order, StripeEvent
from lms_extension.services import lessons
from lms_extension.services.payments import checkout, coupons, fulfillment, ledger, payouts, reconcile, refunds
from tests.factories import make_course, make_user


def setup_course(shop, tmp_path, price=4900):
    with shop.factory() as db:
        course = make_course(db, tmp_path, f"c-{shop.tag}", price_cents=price, lessons=4, instructor=f"t-{shop.tag}")
        buyer = make_user(db, f"b-{shop.tag}")
        db.commit()
        return course.slug, buyer.id, course.instructor_id


def open_checkout(shop, slug, buyer_id, country="DE", coupon=None):
    with shop.factory() as db:
        buyer = db.get(User, buyer_id)
        q = checkout.quote(db, shop.policy.taxes, user=buyer, country=country, course=slug, coupon=coupon)
        order = checkout.create_order(db, buyer, q)
        url = fulfillment.start_checkout(db, shop.stripe, order, success_url="http://lms.test/ok",
                                         cancel_url="http://lms.test/cancel")
        db.commit()
        return order.id, order.stripe_session_id, url


def pay(shop, session_id, card="4242424242424242"):
    return shop.srv.pay(session_id, card=card, email="buyer@example.org", name="Ada Buyer")


def order_state(shop, order_id):
    with shop.factory() as db:
        order = db.get(Order, order_id)
        grants = db.scalar(select(func.count(AccessGrant.id)).where(AccessGrant.order_id == order_id))
        enrolled = db.scalar(select(func.count(Enrollment.id)).where(Enrollment.user_id == order.user_id,
                                                                     Enrollment.course_id == order.course_id))
        invoices = db.scalar(select(func.count(Invoice.id)).where(Invoice.order_id == order_id))
        return order.status, grants, enrolled, ledger.order_sum(db, order_id), invoices, order.total_cents


def wait_status(shop, order_id, status, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if order_state(shop, order_id)[0] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"order {order_id} is {order_state(shop, order_id)[0]}, not {status}")


def test_buy_pay_webhook_grants_once(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    order_id, session_id, url = open_checkout(shop, slug, buyer_id)
    assert url.startswith(shop.srv.url)
    cs = shop.stripe.v1.checkout.sessions.retrieve(session_id)
    assert cs.amount_total == 4900 and cs.metadata["order_id"] == str(order_id)
    assert order_state(shop, order_id)[:3] == ("pending", 0, 0)
    pay(shop, session_id)
    shop.srv.wait_idle()
    status, grants, enrolled, total, invoices, paid = order_state(shop, order_id)
    assert (status, grants, enrolled, invoices) == ("paid", 1, 1, 1)
    assert total == paid == 4900
    with shop.factory() as db:
        order = db.get(Order, order_id)
        assert order.stripe_payment_intent_id.startswith("pi_") and order.stripe_charge_id.startswith("ch_")
        delivery = lessons.deliver(db, db.get(User, buyer_id), slug, "l3")
        assert delivery.lesson_key == "l3"


def test_hosted_page_form_pays(shop, tmp_path):
    """The hosted page is a real HTML form: post a card to it like a browser would."""
    slug, buyer_id, _ = setup_course(shop, tmp_path, price=1500)
    order_id, session_id, url = open_checkout(shop, slug, buyer_id, country="US")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "15.00" in page.text
    pay(shop, session_id, card="4000000000000002") if False else None
    with pytest.raises(Exception):
        pay(shop, session_id, card="4000000000000002")  # declined: nothing happens
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[0] == "pending"
    pay(shop, session_id)
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:3] == ("paid", 1, 1)


@pytest.mark.stripe_server(async_delay=60)
def test_async_payment_waits_for_success(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id)
    pay(shop, session_id, card="4000000000008880")
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:3] == ("awaiting_payment", 0, 0)  # unpaid is never fulfilled
    with shop.factory() as db:  # a reconciliation meanwhile fulfils nothing either
        reconcile.run(db, shop.stripe, shop.policy)
    assert order_state(shop, order_id)[:3] == ("awaiting_payment", 0, 0)
    shop.srv.advance(61)
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:3] == ("paid", 1, 1)


def test_async_payment_failure_grants_nothing(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    with shop.factory() as db:
        coupons.create_coupon(db, f"A{shop.tag}", percent_off=10, max_uses=1)
        db.commit()
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id, coupon=f"A{shop.tag}")
    pay(shop, session_id, card="4000000000007775")
    shop.srv.wait_idle()
    shop.srv.advance(5)
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:3] == ("failed", 0, 0)
    with shop.factory() as db:
        assert coupons.get(db, f"A{shop.tag}").times_redeemed == 0  # the use came back


def test_expired_session_releases_coupon(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    with shop.factory() as db:
        coupons.create_coupon(db, f"E{shop.tag}", percent_off=10, max_uses=1)
        db.commit()
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id, coupon=f"E{shop.tag}")
    shop.stripe.v1.checkout.sessions.expire(session_id)
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[0] == "expired"
    with shop.factory() as db:
        assert coupons.get(db, f"E{shop.tag}").times_redeemed == 0


def test_refund_request_approved_refunds_and_revokes(shop, tmp_path):
    slug, buyer_id, instructor_id = setup_course(shop, tmp_path)
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id, country="GB")
    pay(shop, session_id)
    shop.srv.wait_idle()
    with shop.factory() as db:
        buyer = db.get(User, buyer_id)
        request = refunds.request_refund(db, shop.policy, buyer, order_id, "changed my mind")
        teacher = db.scalar(select(User).join(User.instructor).where(User.instructor.has(id=instructor_id)))
        decided = refunds.decide(db, shop.stripe, shop.policy, teacher, request.id, True)
        db.commit()
        assert decided.status == "refunded" and decided.stripe_refund_id.startswith("re_")
    shop.srv.wait_idle()  # charge.refunded etc. arrive afterwards and change nothing
    status, grants, enrolled, total, invoices, _ = order_state(shop, order_id)
    assert (status, enrolled, total, invoices) == ("refunded", 0, 0, 2)  # invoice + credit note
    with shop.factory() as db:
        with pytest.raises(Exception):
            lessons.deliver(db, db.get(User, buyer_id), slug, "l3")
        charge = shop.stripe.v1.charges.retrieve(db.get(Order, order_id).stripe_charge_id)
        assert charge.refunded
        refund_entries = db.scalar(select(func.count(LedgerEntry.id)).where(
            LedgerEntry.order_id == order_id, LedgerEntry.kind.in_(("refund", "reversal"))))
        assert refund_entries == 4


def test_refund_from_stripe_dashboard_revokes(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id)
    pay(shop, session_id)
    shop.srv.wait_idle()
    with shop.factory() as db:
        pi = db.get(Order, order_id).stripe_payment_intent_id
    shop.stripe.v1.refunds.create({"payment_intent": pi})
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:4] == ("refunded", 1, 0, 0)


def test_lost_dispute_revokes_won_keeps(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id)
    pay(shop, session_id, card="4000000000000259")
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[0] == "paid"
    shop.srv.advance(2)
    shop.srv.wait_idle()
    disputes = shop.stripe.v1.disputes.list({"limit": 10}).data
    assert disputes
    assert order_state(shop, order_id)[0] == "paid"  # an open dispute changes nothing yet
    shop.srv.close_dispute(disputes[0].id, "lost")
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:4] == ("disputed", 1, 0, 0)


def test_reconcile_repairs_lost_webhooks(shop, tmp_path):
    slug, buyer_id, _ = setup_course(shop, tmp_path)
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id)
    shop.srv.chaos(hold=True)  # every webhook is lost
    pay(shop, session_id)
    assert order_state(shop, order_id)[0] == "pending"
    with shop.factory() as db:
        report = reconcile.run(db, shop.stripe, shop.policy)
        db.commit()
    assert report.sessions >= 1 and not report.errors
    assert order_state(shop, order_id)[:4] == ("paid", 1, 1, 4900)
    with shop.factory() as db:
        pi = db.get(Order, order_id).stripe_payment_intent_id
    shop.stripe.v1.refunds.create({"payment_intent": pi})
    with shop.factory() as db:
        reconcile.run(db, shop.stripe, shop.policy)
        reconcile.run(db, shop.stripe, shop.policy)  # twice changes nothing twice
        db.commit()
    assert order_state(shop, order_id)[:4] == ("refunded", 1, 0, 0)
    shop.srv.chaos()
    shop.srv.release()  # the lost events turn up late: nothing changes
    shop.srv.wait_idle()
    assert order_state(shop, order_id)[:4] == ("refunded", 1, 0, 0)


def test_connect_onboarding_and_payout_run(shop, tmp_path):
    from datetime import timedelta

    from lms_extension.models.base import utcnow
    from lms_extension.models.commerce import Payout

    slug, buyer_id, instructor_id = setup_course(shop, tmp_path, price=10000)
    order_id, session_id, _ = open_checkout(shop, slug, buyer_id, country="US")
    pay(shop, session_id)
    shop.srv.wait_idle()
    with shop.factory() as db:
        teacher = db.scalar(select(User).where(User.instructor.has(id=instructor_id)))
        url = payouts.start_onboarding(db, shop.stripe, teacher, return_url="http://lms.test/r", refresh_url="http://lms.test/f")
        db.commit()
        account_id = payouts.account_of(db, teacher.instructor).stripe_account_id
    assert url.startswith(shop.srv.url) and account_id.startswith("acct_")
    shop.srv.control("POST", f"accounts/{account_id}/onboard", business_name="Teacher")
    shop.srv.control("POST", "balance", amount=100000, currency="usd")
    later = utcnow() + timedelta(days=31)
    with shop.factory() as db:
        teacher = db.get(User, teacher.id)
        assert payouts.refresh_account(db, shop.stripe, teacher).payouts_enabled
        early = payouts.run(db, shop.stripe, run_key=f"early-{shop.tag}")
        assert not [p for p in early.paid if p[0] == instructor_id]  # still inside the refund window
        report = payouts.run(db, shop.stripe, run_key=f"run-{shop.tag}", now=later)
        again = payouts.run(db, shop.stripe, run_key=f"run-{shop.tag}", now=later)
        db.commit()
        assert (instructor_id, 7000, "usd") in report.paid and not [p for p in again.paid if p[0] == instructor_id]
        payout = db.scalar(select(Payout).where(Payout.instructor_id == instructor_id))
        transfer = shop.stripe.v1.transfers.retrieve(payout.stripe_transfer_id)
        assert transfer.amount == 7000 and transfer.destination == account_id
        [bal] = ledger.balances(db, instructor_id, later)
        assert bal.available_cents == 0 and bal.paid_out_cents == 7000
    # a refund after the payout pulls the instructor's share back from the transfer
    with shop.factory() as db:
        pi = db.get(Order, order_id).stripe_payment_intent_id
    shop.stripe.v1.refunds.create({"payment_intent": pi})
    shop.srv.wait_idle()
    with shop.factory() as db:
        payout = db.scalar(select(Payout).where(Payout.instructor_id == instructor_id))
        assert payout.reversed_cents == 7000
        transfer = shop.stripe.v1.transfers.retrieve(payout.stripe_transfer_id)
        assert transfer.amount_reversed == 7000
        [bal] = ledger.balances(db, instructor_id, later)
        assert bal.available_cents == 0 and bal.pending_cents == 0
        assert ledger.order_sum(db, order_id) == 0
        assert db.scalar(select(func.count(StripeEvent.id))) > 0
