"""Ledger postings balance to the cent; invoice numbers are gapless; the PDF says what it should."""
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from lms_extension.models.base import utcnow
from lms_extension.models.commerce import Invoice, LedgerEntry
from lms_extension.services.payments import access, checkout, coupons, invoices, ledger, refunds
from tests.factories import make_user

PLANS = {"monthly": 2900, "yearly": 29000}


def paid_order(session, policy, user, country="DE", coupon=None, **what):
    quote = checkout.quote(session, policy.taxes, user=user, country=country, coupon=coupon, plan_prices=PLANS, **what)
    order = checkout.create_order(session, user, quote)
    order.status, order.paid_at = "paid", utcnow()
    session.flush()
    access.grant_order(session, order)
    ledger.post_sale(session, order, platform_share_percent=policy.platform_share_percent,
                     hold_days=policy.payout_hold_days)
    return order


def test_sale_entries_sum_to_what_was_paid(session, policy, paid_course, buyer):
    coupons.create_coupon(session, "ODD", percent_off=33)
    order = paid_order(session, policy, buyer, coupon="ODD", course="paid-course")
    assert ledger.order_sum(session, order.id) == order.total_cents == 3283
    entries = {e.entry_key.rsplit(":", 1)[1]: e for e in session.scalars(
        select(LedgerEntry).where(LedgerEntry.order_id == order.id))}
    net = order.total_cents - order.tax_cents
    assert entries["sale"].amount_cents == net
    keep = entries["sale"].amount_cents + entries["fee"].amount_cents
    assert keep == net * 7000 // 10000
    assert entries["fee-platform"].amount_cents == net - keep
    assert entries["tax"].amount_cents == order.tax_cents and entries["tax"].instructor_id is None
    # posting again (a retried webhook) adds nothing
    ledger.post_sale(session, order, platform_share_percent=30, hold_days=30)
    assert ledger.order_sum(session, order.id) == order.total_cents
    # the instructor's share is pending until the hold ends
    [bal] = ledger.balances(session, paid_course.instructor_id)
    assert bal.available_cents == 0 and bal.pending_cents == keep
    [later] = ledger.balances(session, paid_course.instructor_id, now=utcnow() + timedelta(days=31))
    assert later.available_cents == keep and later.pending_cents == 0


def test_refund_reverses_everything_once(session, policy, paid_course, buyer):
    order = paid_order(session, policy, buyer, course="paid-course")
    assert ledger.post_refund(session, order) == 4
    assert ledger.post_refund(session, order) == 0
    assert ledger.order_sum(session, order.id) == 0
    [bal] = ledger.balances(session, paid_course.instructor_id)
    assert bal.available_cents == 0 and bal.pending_cents == 0
    kinds = sorted(e.kind for e in session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id)))
    assert kinds == ["platform_fee", "platform_fee", "refund", "refund", "reversal", "reversal", "sale", "tax"]


def test_revenue_share_per_instructor(session, policy, paid_course, buyer):
    from lms_extension.services.payments import payouts

    admin = make_user(session, "boss", admin=True)
    payouts.set_share(session, admin, paid_course.instructor_id, 85)
    order = paid_order(session, policy, buyer, country="US", course="paid-course")
    [bal] = ledger.balances(session, paid_course.instructor_id)
    assert bal.pending_cents == 4900 * 85 // 100
    assert ledger.order_sum(session, order.id) == 4900


def test_chart_series(session, policy, paid_course, buyer):
    paid_order(session, policy, buyer, country="US", course="paid-course")
    days = ledger.series(session, paid_course.instructor_id, "day", points=7)
    assert len(days) == 7 and days[-1][1] == 4900 * 70 // 100 and sum(v for _, v in days[:-1]) == 0
    assert ledger.series(session, paid_course.instructor_id, "month")[-1][1] == 3430
    assert len(ledger.series(session, paid_course.instructor_id, "week")) == 12


def test_invoice_numbers_are_gapless_per_year(session, policy, paid_course, buyer, tmp_path):
    from tests.factories import make_course

    numbers = []
    for i in range(3):
        make_course(session, tmp_path, f"inv-course-{i}", price_cents=1000 + i)
        order = paid_order(session, policy, buyer, course=f"inv-course-{i}")
        numbers.append(invoices.issue(session, order, policy.seller, source_key=f"order:{order.id}"))
    seqs = [inv.sequence for inv in numbers]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert numbers[0].number == f"INV-{numbers[0].year}-{seqs[0]:06d}"
    again = invoices.issue(session, order, policy.seller, source_key=f"order:{order.id}")
    assert again.id == numbers[-1].id  # once per source document
    credit = invoices.issue(session, order, policy.seller, source_key=f"credit:{order.id}", kind="credit_note")
    assert credit.number.startswith("CN-") and credit.total_cents == -order.total_cents
    nxt = next_year = invoices.next_number(session, policy.seller.key, numbers[0].year + 1)
    assert nxt == 1 and next_year == 1


def test_invoice_pdf_content(session, policy, paid_course, buyer):
    coupons.create_coupon(session, "TEN", percent_off=10)
    buyer.display_name = "Ada Lovelace"
    order = paid_order(session, policy, buyer, coupon="TEN", course="paid-course")
    inv = invoices.issue(session, order, policy.seller, source_key=f"order:{order.id}")
    pdf = invoices.render_pdf(inv)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (inv.number, "Notebook Academy GmbH", "10115 Berlin", "DE123456789", "Ada Lovelace",
                     "Course paid-course", "VAT 19% (included)", "44.10 USD", "-4.90 USD", "7.04 USD", "Total",
                     "Country: DE"):
        assert expected in text, (expected, text)
    assert inv.total_cents == 4410 and inv.tax_cents == 704 and inv.discount_cents == 490


def test_invoice_belongs_to_its_buyer(session, policy, paid_course, buyer):
    from lms_extension.errors import NotFound

    order = paid_order(session, policy, buyer, course="paid-course")
    inv = invoices.issue(session, order, policy.seller, source_key=f"order:{order.id}")
    assert invoices.for_user(session, buyer, inv.id).id == inv.id
    with pytest.raises(NotFound):
        invoices.for_user(session, make_user(session, "eve"), inv.id)


def test_refund_policy(session, policy, paid_course, buyer):
    from lms_extension.errors import Conflict, InvalidInput, NotFound
    from lms_extension.services import lessons

    order = paid_order(session, policy, buyer, course="paid-course")
    assert refunds.eligibility(session, policy, order) is None
    assert "within 30 days" in refunds.eligibility(session, policy, order, now=utcnow() + timedelta(days=31))
    with pytest.raises(NotFound):
        refunds.request_refund(session, policy, make_user(session, "eve"), order.id, "mine now")
    # 1 of 4 lessons opened = 25 %: still allowed; 2 of 4 = 50 %: not
    lessons.deliver(session, buyer, "paid-course", "l1")
    assert refunds.progress_percent(session, order) == 25
    request = refunds.request_refund(session, policy, buyer, order.id, "not for me")
    assert request.status == "pending" and request.progress_percent == 25
    with pytest.raises(Conflict):
        refunds.request_refund(session, policy, buyer, order.id, "again")
    request.status = "rejected"
    lessons.deliver(session, buyer, "paid-course", "l2")
    with pytest.raises(InvalidInput, match="50%"):
        refunds.request_refund(session, policy, buyer, order.id, "too late")


def test_refund_deciders(session, policy, paid_course, buyer):
    from lms_extension.errors import Forbidden

    order = paid_order(session, policy, buyer, course="paid-course")
    request = refunds.request_refund(session, policy, buyer, order.id, "")
    teacher = paid_course.instructor.user
    stranger = make_user(session, "other-teacher", instructor=True)
    admin = make_user(session, "root", admin=True)
    assert [r.id for r in refunds.pending_for(session, teacher)] == [request.id]
    assert refunds.pending_for(session, stranger) == [] and refunds.pending_for(session, buyer) == []
    assert request.id in [r.id for r in refunds.pending_for(session, admin)]
    with pytest.raises(Forbidden):
        refunds.decide(session, None, policy, stranger, request.id, False)
    with pytest.raises(Forbidden):
        refunds.decide(session, None, policy, buyer, request.id, True)
    assert refunds.decide(session, None, policy, teacher, request.id, False).status == "rejected"


def test_refund_revokes_access(session, policy, paid_course, buyer):
    from lms_extension.errors import Forbidden
    from lms_extension.services import lessons

    from lms_extension.services import certificates

    order = paid_order(session, policy, buyer, course="paid-course")
    assert lessons.deliver(session, buyer, "paid-course", "l2").lesson_key == "l2"
    cert = certificates.issue(session, buyer, paid_course)
    access.revoke_order(session, order, "refund")
    with pytest.raises(Forbidden):
        lessons.deliver(session, buyer, "paid-course", "l2")
    session.refresh(cert)
    assert cert.revoked_at is not None and cert.revoke_reason == "refund"
    assert access.revoke_order(session, order, "again") == []  # once
