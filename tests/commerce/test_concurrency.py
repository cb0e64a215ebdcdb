"""Real threads, real commits: coupon uses never exceed max_uses; invoice numbers never collide or skip."""
import threading
import uuid

import pytest
from sqlalchemy import select

from lms_extension.db import session_factory
from lms_extension.errors import InvalidInput
from lms_extension.models.commerce import Coupon, CouponRedemption, Invoice
from lms_extension.services.payments import checkout, coupons, invoices
from lms_extension.services.payments.invoices import Seller
from lms_extension.services.payments.tax import TaxTable
from tests.factories import make_course, make_user

THREADS = 12


def _race(fn, n=THREADS):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        barrier.wait()
        try:
            results.append(fn(i))
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


@pytest.fixture
def committed(engine, tmp_path):
    factory = session_factory(engine)
    tag = uuid.uuid4().hex[:8]
    with factory() as s:
        course = make_course(s, tmp_path, f"race-{tag}", price_cents=5000, instructor=f"t-{tag}")
        users = [make_user(s, f"racer-{tag}-{i}").id for i in range(THREADS)]
        coupon = coupons.create_coupon(s, f"RACE{tag}", percent_off=50, max_uses=3)
        s.commit()
        yield factory, course.slug, users, coupon.id, tag


def test_coupon_max_uses_under_concurrent_checkouts(committed, engine):
    factory, slug, users, coupon_id, tag = committed
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers; the race is real on PostgreSQL")

    def buy(i):
        from lms_extension.models import User

        with factory() as s:
            user = s.get(User, users[i])
            quote = checkout.quote(s, TaxTable({}), user=user, country="US", course=slug, coupon=f"RACE{tag}")
            order = checkout.create_order(s, user, quote)
            s.commit()
            return order.id

    results, errors = _race(buy)
    assert len(results) == 3, (results, errors)
    assert all(isinstance(e, InvalidInput) and e.message == coupons.REFUSED for e in errors), errors
    with factory() as s:
        assert s.get(Coupon, coupon_id).times_redeemed == 3
        assert len(s.scalars(select(CouponRedemption).where(CouponRedemption.coupon_id == coupon_id)).all()) == 3


def test_coupon_max_uses_sequential_sqlite_and_pg(committed):
    factory, slug, users, coupon_id, tag = committed
    from lms_extension.models import User

    made = 0
    for uid in users[:5]:
        with factory() as s:
            user = s.get(User, uid)
            try:
                quote = checkout.quote(s, TaxTable({}), user=user, country="US", course=slug, coupon=f"RACE{tag}")
                checkout.create_order(s, user, quote)
                s.commit()
                made += 1
            except InvalidInput:
                s.rollback()
    assert made == 3


def test_invoice_numbers_under_concurrency(committed, engine):
    factory, slug, users, coupon_id, tag = committed
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers; the race is real on PostgreSQL")
    seller = Seller(f"Race Seller {tag}", "x", "")
    from lms_extension.models import User

    with factory() as s:
        orders = []
        for uid in users:
            quote = checkout.quote(s, TaxTable({}), user=s.get(User, uid), country="US", course=slug)
            orders.append(checkout.create_order(s, s.get(User, uid), quote).id)
        s.commit()

    def issue(i):
        from lms_extension.models.commerce import Order

        with factory() as s:
            inv = invoices.issue(s, s.get(Order, orders[i]), seller, source_key=f"race:{tag}:{i}")
            if i % 4 == 0:  # a payment that fails after taking a number gives it back
                s.rollback()
                return None
            s.commit()
            return inv.sequence

    results, errors = _race(issue)
    assert not errors, errors
    with factory() as s:
        seqs = sorted(s.scalars(select(Invoice.sequence).where(Invoice.seller_key == seller.key)))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == THREADS - THREADS // 4
