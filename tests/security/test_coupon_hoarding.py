"""Coupons cannot be hoarded.

A limited coupon's use is reserved when a checkout starts. Without limits a student could
open checkout after checkout (each reserving a use) and leave them open for Stripe's default
24 hours, so nobody else could use the coupon; and the anonymous quote endpoint told apart
codes that do not exist from codes that are used up, so codes could be enumerated.

- at most one pending checkout per user per item: a new one replaces the old and gives its
  coupon use back (its Stripe session is expired too);
- a Stripe session lives 30 minutes at most, and its expiry gives the use back, through the
  ``checkout.session.expired`` webhook and, when that is lost, the worker's periodic sweep;
- the quote endpoint answers alike for unknown, used-up, expired and misapplied coupons.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from lms_extension.models import User
from lms_extension.models.base import utcnow
from lms_extension.models.commerce import Order
from lms_extension.services.payments import checkout, coupons, fulfillment, reconcile
from tests.commerce.conftest import LMSWebhookEndpoint, Shop, policy  # noqa: F401  (fixtures)
from tests.conftest import own_engine
from tests.factories import make_course, make_user


@pytest.fixture(scope="module")
def engine(db_url, tmp_path_factory):
    """A database of its own: the webhook endpoint's threads commit for real."""
    yield from own_engine(db_url, tmp_path_factory, real_savepoints=False)


@pytest.fixture
def shop(engine, policy):  # noqa: F811
    import uuid

    from lms_extension.db import session_factory
    from stripe_test_server.testing import running_server

    factory = session_factory(engine)
    ref: dict = {}
    endpoint = LMSWebhookEndpoint(factory, ref, policy)
    with running_server(webhook_url=endpoint.url, webhook_secret=endpoint.secret, retry_base=0.1) as srv:
        ref["client"] = srv.client()
        yield Shop(srv, ref["client"], endpoint, factory, policy, uuid.uuid4().hex[:8])
    endpoint.close()


def setup(shop, tmp_path, max_uses=1):
    with shop.factory() as db:
        course = make_course(db, tmp_path, f"c-{shop.tag}", price_cents=4900, lessons=2, instructor=f"t-{shop.tag}")
        other = make_course(db, tmp_path, f"o-{shop.tag}", price_cents=2900, lessons=2, instructor=f"t-{shop.tag}")
        users = [make_user(db, f"{n}-{shop.tag}").id for n in ("hoarder", "other")]
        code = f"HALF{shop.tag}".upper()
        coupons.create_coupon(db, code, percent_off=50, max_uses=max_uses)
        db.commit()
        return course.slug, other.slug, users, code


def start(shop, slug, user_id, code=None, country="US"):
    """What the checkout page and API do: quote, order, Stripe session."""
    with shop.factory() as db:
        user = db.get(User, user_id)
        q = checkout.quote(db, shop.policy.taxes, user=user, country=country, course=slug, coupon=code)
        order = checkout.create_order(db, user, q)
        url = fulfillment.start_checkout(db, shop.stripe, order, success_url="http://lms.test/ok",
                                         cancel_url="http://lms.test/cancel")
        db.commit()
        return order.id, order.stripe_session_id, url


def uses(shop, code) -> int:
    with shop.factory() as db:
        return coupons.get(db, code).times_redeemed


def statuses(shop, user_id) -> list[str]:
    with shop.factory() as db:
        return list(db.scalars(select(Order.status).where(Order.user_id == user_id).order_by(Order.id)))


def test_one_pending_checkout_per_user_and_item(shop, tmp_path):
    slug, other_slug, (hoarder, other), code = setup(shop, tmp_path, max_uses=2)
    first = start(shop, slug, hoarder, code)
    assert uses(shop, code) == 1
    for _ in range(4):  # checkout after checkout for the same course, each with the coupon
        last = start(shop, slug, hoarder, code)
    assert uses(shop, code) == 1, "each new checkout must replace the pending one, not reserve another use"
    assert statuses(shop, hoarder).count("pending") == 1
    # the replaced sessions cannot be paid any more
    assert shop.stripe.v1.checkout.sessions.retrieve(first[1]).status == "expired"
    assert shop.stripe.v1.checkout.sessions.retrieve(last[1]).status == "open"
    # so the other use is still there for someone else
    start(shop, slug, other, code)
    assert uses(shop, code) == 2
    # another item is another checkout
    start(shop, other_slug, hoarder)
    assert statuses(shop, hoarder).count("pending") == 2


def test_a_pending_order_of_the_same_item_is_refused_by_the_database(shop, tmp_path):
    """Two checkouts racing past the service's own check still cannot both stay pending."""
    slug, _, (hoarder, _), _ = setup(shop, tmp_path)
    start(shop, slug, hoarder)
    from sqlalchemy.exc import IntegrityError

    with shop.factory() as db:
        first = db.scalars(select(Order).where(Order.user_id == hoarder)).one()
        db.add(Order(user_id=hoarder, kind="course", course_id=first.course_id, item_key=first.item_key,
                     status="pending", currency="usd", country="US", subtotal_cents=1, total_cents=1))
        with pytest.raises(IntegrityError):
            db.flush()


def test_sessions_expire_within_30_minutes_and_give_the_use_back(shop, tmp_path):
    slug, _, (hoarder, other), code = setup(shop, tmp_path)
    order_id, session_id, _ = start(shop, slug, hoarder, code)
    cs = shop.stripe.v1.checkout.sessions.retrieve(session_id)
    assert cs.expires_at - cs.created <= 30 * 60
    assert uses(shop, code) == 1
    with shop.factory() as db, pytest.raises(Exception, match="cannot be used"):
        checkout.quote(db, shop.policy.taxes, user=db.get(User, other), country="US", course=slug, coupon=code)
    shop.srv.advance(30 * 60 + 1)  # Stripe expires the session and sends checkout.session.expired
    shop.srv.wait_idle()
    assert statuses(shop, hoarder) == ["expired"]
    assert uses(shop, code) == 0
    start(shop, slug, other, code)  # free again
    assert uses(shop, code) == 1


def test_the_sweep_releases_abandoned_checkouts_when_webhooks_are_lost(shop, tmp_path):
    slug, other_slug, (hoarder, _), code = setup(shop, tmp_path, max_uses=5)
    shop.srv.chaos(hold=True)  # every webhook from now on is lost
    order_id, session_id, _ = start(shop, slug, hoarder, code)
    with shop.factory() as db:  # and a checkout whose Stripe call never happened (a crash)
        user = db.get(User, hoarder)
        q = checkout.quote(db, shop.policy.taxes, user=user, country="US", course=other_slug, coupon=code)
        crashed = checkout.create_order(db, user, q).id
        db.commit()
    assert uses(shop, code) == 2
    with shop.factory() as db:  # young checkouts are left alone
        assert not {order_id, crashed} & set(fulfillment.sweep_abandoned(db, shop.stripe, shop.policy))
        db.commit()
    shop.srv.advance(30 * 60 + 1)
    later = utcnow() + timedelta(minutes=31)
    with shop.factory() as db:
        swept = fulfillment.sweep_abandoned(db, shop.stripe, shop.policy, now=later)
        db.commit()
    assert {order_id, crashed} <= set(swept)
    assert statuses(shop, hoarder) == ["expired", "expired"]
    assert uses(shop, code) == 0
    # the worker's reconciliation job runs the sweep
    start(shop, slug, hoarder, code)
    shop.srv.advance(30 * 60 + 1)
    with shop.factory() as db:
        report = reconcile.run(db, shop.stripe, shop.policy)
    assert uses(shop, code) == 0 and not report.errors
    shop.srv.chaos()


def test_a_replaced_checkout_paid_anyway_keeps_its_coupon_use(shop, tmp_path):
    """If the old session was paid just before it was replaced, the sale stands and the use counts."""
    slug, _, (hoarder, _), code = setup(shop, tmp_path, max_uses=3)
    first = start(shop, slug, hoarder, code)
    shop.srv.chaos(hold=True)
    shop.srv.pay(first[1], email="h@example.org")
    second = start(shop, slug, hoarder, code)
    shop.srv.chaos()
    shop.srv.release()
    shop.srv.wait_idle()
    with shop.factory() as db:
        assert db.get(Order, first[0]).status == "paid" and db.get(Order, second[0]).status == "pending"
    assert uses(shop, code) == 2  # the paid one and the open one


# -- the anonymous quote endpoint -----------------------------------------------------------------------
@pytest.fixture
def served(engine, tmp_path, monkeypatch):
    from lms_extension.config import LMSConfig
    from lms_extension.web.app import make_app
    from tests.sandbox.sandbox_helpers import ServerThread

    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "unused-by-visitors")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    config = LMSConfig(db_url=str(engine.url.render_as_string(hide_password=False)), data_dir=str(tmp_path),
                       catalog_cache_seconds=0.0, trending_refresh_seconds=0.0)
    server = ServerThread(lambda: make_app(config, engine))
    yield f"http://127.0.0.1:{server.port}/services/lms/"
    server.stop()


def test_quote_answers_alike_for_unknown_used_up_expired_and_misapplied_coupons(engine, served, tmp_path):
    from lms_extension.db import session_factory

    with session_factory(engine)() as db:
        tag = "q" + str(id(tmp_path))[-6:]
        course = make_course(db, tmp_path, f"quote-{tag}", price_cents=4900, lessons=2, instructor=f"t-{tag}")
        other = make_course(db, tmp_path, f"quote2-{tag}", price_cents=4900, lessons=2, instructor=f"t-{tag}")
        buyer = make_user(db, f"b-{tag}")
        used = coupons.create_coupon(db, f"USED{tag}", percent_off=10, max_uses=1)
        coupons.create_coupon(db, f"OLD{tag}", percent_off=10, expires_at=utcnow() - timedelta(days=1))
        coupons.create_coupon(db, f"ELSE{tag}", percent_off=10, course_id=other.id)
        coupons.create_coupon(db, f"GOOD{tag}", percent_off=10)
        order = Order(user_id=buyer.id, kind="course", course_id=other.id, status="paid", currency="usd",
                      country="US", subtotal_cents=1, total_cents=1)
        db.add(order)
        db.flush()
        coupons.reserve(db, used, order)
        db.commit()
        slug = course.slug
    answers = {}
    for code in (f"NOSUCH{tag}", f"USED{tag}", f"OLD{tag}", f"ELSE{tag}"):
        r = requests.post(served + "api/v1/payments/quote", json={"course": slug, "coupon": code}, timeout=30)
        answers[code] = (r.status_code, r.json())
    distinct = {repr(a) for a in answers.values()}
    assert len(distinct) == 1, answers
    status, body = next(iter(answers.values()))
    assert status == 400 and set(body) == {"status", "error", "message"}
    good = requests.post(served + "api/v1/payments/quote", json={"course": slug, "coupon": f"GOOD{tag}"}, timeout=30)
    assert good.status_code == 200 and good.json()["discount_cents"] == 490
