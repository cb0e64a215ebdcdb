"""`lms payments reconcile` and `lms payments payout-run` against the Stripe test server."""
from datetime import timedelta

from sqlalchemy import select

from lms_extension import cli
from lms_extension.models import User
from lms_extension.models.base import utcnow
from lms_extension.models.commerce import LedgerEntry, Order
from lms_extension.services.payments import checkout, fulfillment, payouts
from lms_extension.services.payments.ledger import aware
from tests.factories import make_course, make_user


def test_reconcile_and_payout_run_commands(shop, tmp_path, engine, monkeypatch, capsys):
    monkeypatch.setenv("LMS_DB_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("LMS_STRIPE_API_BASE", shop.srv.url)
    monkeypatch.setenv("LMS_STRIPE_SECRET_KEY", shop.srv.api_key)
    monkeypatch.setenv("LMS_PAYOUT_HOLD_DAYS", "0")
    with shop.factory() as db:
        course = make_course(db, tmp_path, f"cli-{shop.tag}", price_cents=2000, instructor=f"cli-t-{shop.tag}")
        user = make_user(db, f"cli-b-{shop.tag}")
        q = checkout.quote(db, shop.policy.taxes, user=user, country="US", course=course.slug)
        order = checkout.create_order(db, user, q)
        fulfillment.start_checkout(db, shop.stripe, order, success_url="http://x/ok", cancel_url="http://x/no")
        teacher = db.scalar(select(User).where(User.instructor.has(id=course.instructor_id)))
        payouts.start_onboarding(db, shop.stripe, teacher, return_url="http://x/r", refresh_url="http://x/f")
        account = payouts.account_of(db, teacher.instructor).stripe_account_id
        db.commit()
        order_id, session_id, instructor_id = order.id, order.stripe_session_id, course.instructor_id
    shop.srv.chaos(hold=True)  # the webhooks are lost
    shop.srv.pay(session_id, card="4242424242424242", email="c@example.org", name="C")
    shop.srv.control("POST", f"accounts/{account}/onboard", business_name="T")
    shop.srv.control("POST", "balance", amount=100000, currency="usd")
    assert cli.main(["payments", "reconcile"]) == 0
    assert "repaired" in capsys.readouterr().out
    with shop.factory() as db:
        assert db.get(Order, order_id).status == "paid"
        teacher = db.scalar(select(User).where(User.instructor.has(id=instructor_id)))
        payouts.refresh_account(db, shop.stripe, teacher)
        db.commit()
        # booked by the command (webhooks lost) with LMS_PAYOUT_HOLD_DAYS=0: payable at once
        entries = db.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order_id)).all()
        assert entries and all(aware(e.available_at) <= utcnow() + timedelta(seconds=1) for e in entries)
    assert cli.main(["payments", "payout-run", "--run-key", f"cli-{shop.tag}"]) == 0
    out = capsys.readouterr().out
    assert f"paid instructor {instructor_id}: 14.00 USD" in out
    assert cli.main(["payments", "payout-run", "--run-key", f"cli-{shop.tag}"]) == 0
    assert f"paid instructor {instructor_id}" not in capsys.readouterr().out  # same run: nothing twice


def test_worker_timer_reconciles(shop, tmp_path, engine):
    """`lms worker` runs the reconciliation on a timer beside grading."""
    import asyncio
    from types import SimpleNamespace

    from lms_extension.db import session_factory
    from lms_extension.jobs import configured_jobs, run_forever

    with shop.factory() as db:
        course = make_course(db, tmp_path, f"tm-{shop.tag}", price_cents=2500, instructor=f"tm-t-{shop.tag}")
        user = make_user(db, f"tm-b-{shop.tag}")
        q = checkout.quote(db, shop.policy.taxes, user=user, country="US", course=course.slug)
        order = checkout.create_order(db, user, q)
        fulfillment.start_checkout(db, shop.stripe, order, success_url="http://x/ok", cancel_url="http://x/no")
        db.commit()
        order_id, session_id = order.id, order.stripe_session_id
    shop.srv.chaos(hold=True)
    shop.srv.pay(session_id, card="4242424242424242", email="t@example.org", name="T")
    config = SimpleNamespace(reconcile_interval_seconds=1, trending_refresh_seconds=0, judge0_expiry_seconds=0,
                             analytics_refresh_seconds=0, wishlist_delivery_seconds=0, deadline_reminder_seconds=0, digest_seconds=0,
                             checkout_expiry_seconds=0, stripe_secret_key=shop.srv.api_key,
                             stripe_api_base=shop.srv.url, platform_share_percent=30, refund_window_days=30,
                             refund_max_progress_percent=30, payout_hold_days=30, seller_name="S",
                             seller_address="A", seller_vat_id="", tax_table="builtin",
                             subscription_monthly_cents=2900, subscription_yearly_cents=29000)

    async def main():
        stopping = asyncio.Event()
        jobs = configured_jobs(config)
        assert [job.name for job in jobs] == ["payments_reconciliation"]
        task = asyncio.ensure_future(run_forever(session_factory(engine), jobs, "timer-test", stopping))
        for _ in range(60):
            await asyncio.sleep(0.1)
            with shop.factory() as db:
                if db.get(Order, order_id).status == "paid":
                    break
        stopping.set()
        return await task

    assert asyncio.run(main()) >= 1
    with shop.factory() as db:
        assert db.get(Order, order_id).status == "paid"
