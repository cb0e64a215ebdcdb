"""Platform revenue from the ledger: by day, week and month, per instructor and per course,
with refunds and tax; the admin page, its CSV and PDF; bad dates and periods are a 400."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from lms_extension.errors import InvalidInput
from lms_extension.models import Course
from lms_extension.models.commerce import LedgerEntry
from lms_extension.services import revenue_reports
from lms_extension.services.payments import checkout, ledger
from lms_extension.services.payments.tax import TaxTable
from tests.factories import make_course, make_user

from .conftest import text_of

TAXES = TaxTable.load("builtin")


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=timezone.utc)


def sell(db, buyer, slug: str, day: str, country: str = "US"):
    """A paid order booked in the ledger on ``day`` (as the webhook's fulfilment books it)."""
    q = checkout.quote(db, TAXES, user=buyer, country=country, course=slug)
    order = checkout.create_order(db, buyer, q)
    order.status, order.paid_at = "paid", at(day)
    db.flush()
    ledger.post_sale(db, order, platform_share_percent=30, hold_days=30, paid_at=at(day))
    db.execute(update(LedgerEntry).where(LedgerEntry.order_id == order.id).values(created_at=at(day)))
    db.flush()
    return order


def refund(db, order, day: str) -> None:
    before = {e.id for e in db.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id))}
    ledger.post_refund(db, order)
    db.execute(update(LedgerEntry).where(LedgerEntry.order_id == order.id, LedgerEntry.id.not_in(before))
               .values(created_at=at(day)))
    db.flush()


def split(order) -> tuple[int, int, int, int]:
    """(net sale, tax, instructor's part, platform's part) of a one-line order at the 70 % default share."""
    line = order.lines[0]
    net, tax = line.total_cents - line.tax_cents, line.tax_cents
    keep = net * 7000 // 10000
    return net, tax, keep, net - keep


def seed(db, tmp_path, tag: str, days: tuple[str, str, str]):
    for name in (f"rt1-{tag}", f"rt2-{tag}"):
        make_user(db, name, instructor=True)
    make_course(db, tmp_path, f"ra-{tag}", price_cents=4900, instructor=f"rt1-{tag}")
    make_course(db, tmp_path, f"rb-{tag}", price_cents=2900, instructor=f"rt2-{tag}")
    buyer = make_user(db, f"rbuyer-{tag}")
    first = sell(db, buyer, f"ra-{tag}", days[0])
    second = sell(db, buyer, f"rb-{tag}", days[1], country="DE")  # 19 % VAT, included in the price
    refund(db, first, days[2])
    return first, second


def test_the_report_adds_up(session, tmp_path):
    # in 2025: other tests of this package sell today
    first, second = seed(session, tmp_path, "svc", ("2025-11-04", "2025-11-05", "2025-11-12"))
    net1, tax1, keep1, fee1 = split(first)
    net2, tax2, keep2, fee2 = split(second)
    assert (net1, tax1, keep1, fee1) == (4900, 0, 3430, 1470) and tax2 > 0
    report = revenue_reports.build(session, "day", date(2025, 11, 1), date(2025, 11, 30))
    (total,) = report.totals
    assert total.totals.as_dict() == {"sales": 4900 + net2, "refunds": 4900, "platform": fee2,
                                      "instructors": keep2, "tax": tax2}
    t = total.totals
    assert t.sales - t.refunds == t.platform + t.instructors
    days = {row.label: row.totals.as_dict() for row in report.by_period}
    assert len(days) == 30 and days["2025-11-01"] == dict.fromkeys(days["2025-11-01"], 0)
    assert days["2025-11-04"] == {"sales": 4900, "refunds": 0, "platform": 1470, "instructors": 3430, "tax": 0}
    assert days["2025-11-05"] == {"sales": net2, "refunds": 0, "platform": fee2, "instructors": keep2, "tax": tax2}
    assert days["2025-11-12"] == {"sales": 0, "refunds": 4900, "platform": -1470, "instructors": -3430, "tax": 0}
    people = {row.label: row.totals.as_dict() for row in report.by_instructor}
    assert people["rt1-svc"] == {"sales": 4900, "refunds": 4900, "platform": 0, "instructors": 0, "tax": 0}
    assert people["rt2-svc"] == {"sales": net2, "refunds": 0, "platform": fee2, "instructors": keep2, "tax": tax2}
    courses = {row.label: row.totals.sales for row in report.by_course}
    assert courses == {"Course ra-svc": 4900, "Course rb-svc": net2}
    weeks = revenue_reports.build(session, "week", date(2025, 11, 1), date(2025, 11, 30))
    week_of = lambda d: f"{date.fromisoformat(d).isocalendar()[0]}-W{date.fromisoformat(d).isocalendar()[1]:02d}"  # noqa: E731
    by_week = {row.label: row.totals for row in weeks.by_period}
    assert by_week[week_of("2025-11-04")].sales == 4900 + net2 and by_week[week_of("2025-11-12")].refunds == 4900
    months = revenue_reports.build(session, "month", date(2025, 10, 1), date(2025, 12, 31))
    assert [(r.label, r.totals.sales) for r in months.by_period] == [("2025-10", 0), ("2025-11", 4900 + net2), ("2025-12", 0)]
    # a window that ends before the refund sees the sale only
    early = revenue_reports.build(session, "day", date(2025, 11, 4), date(2025, 11, 4))
    assert early.totals[0].totals.as_dict() == {"sales": 4900, "refunds": 0, "platform": 1470, "instructors": 3430, "tax": 0}


@pytest.mark.parametrize("period, start, end, message", [
    ("year", "", "", "Group by day, week or month"),
    ("day", "yesterday", "", "The start date must be a date like 2026-12-31"),
    ("day", "", "2026-02-30", "The end date must be a date like 2026-12-31"),
    ("day", "2026-12-01", "2026-11-01", "The start date is after the end date"),
    ("day", "2020-01-01", "2026-01-01", "By day, a report covers at most 366 days"),
    ("day", "2026-01-01T00:00", "", "The start date must be a date like"),
])
def test_bad_windows(period, start, end, message):
    with pytest.raises(InvalidInput, match=message):
        revenue_reports.parse_window(period, start, end)


def test_default_windows():
    today = date(2026, 12, 7)
    assert revenue_reports.parse_window("day", today=today)[1:] == (date(2026, 11, 8), today)
    assert revenue_reports.parse_window("month", "2026-01-01", "2026-12-31", today=today)[1:] == (date(2026, 1, 1), date(2026, 12, 31))


def test_the_admin_page_csv_and_pdf(service, world, tmp_path):
    admin, tag = world["admin"], world["tag"]
    with service.factory() as db:
        first, second = seed(db, tmp_path, tag, ("2025-03-03", "2025-03-04", "2025-03-20"))
        course = db.scalars(select(Course).where(Course.slug == f"rb-{tag}")).one()
        course.title = "=HYPERLINK(\"http://evil.example\")"  # a title a spreadsheet must not run
        db.commit()
        net2, tax2, keep2, fee2 = split(second)
    query = {"period": "month", "from": "2025-03-01", "to": "2025-03-31"}
    page = admin.get("admin/revenue", params=query)
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Platform revenue" in words and "By instructor" in words and "By course" in words
    assert f"${fee2 / 100:,.2f}" in words and "$49.00" in words  # the platform's part; the refunded sale
    csv_response = admin.get("admin/revenue.csv", params=query)
    assert csv_response.status_code == 200 and csv_response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    total = next(r for r in rows if r["group"] == "total")
    assert total == {"group": "total", "name": "USD", "currency": "USD", "sales": revenue_reports.units(4900 + net2),
                     "refunds": "49.00", "platform": revenue_reports.units(fee2),
                     "instructors": revenue_reports.units(keep2), "tax": revenue_reports.units(tax2)}
    assert [r["name"] for r in rows if r["group"] == "period"] == ["2025-03"]
    titles = [r["name"] for r in rows if r["group"] == "course"]
    assert "'=HYPERLINK(\"http://evil.example\")" in titles  # defused
    pdf = admin.get("admin/revenue.pdf", params=query)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for figure in (revenue_reports.units(4900 + net2), "49.00", revenue_reports.units(fee2), revenue_reports.units(keep2)):
        assert figure in text, figure
    assert "2025-03-01 to 2025-03-31, by month" in text and "By instructor" in text and f"rt2-{tag}" in text
    # bad windows: the page says why (400), the downloads too
    bad = admin.get("admin/revenue", params={"period": "fortnight"})
    assert bad.status_code == 400 and "Group by day, week or month" in text_of(bad.text)
    assert 'id="revenue-form"' in bad.text
    bad = admin.get("admin/revenue", params={"from": "2025-13-01"})
    assert bad.status_code == 400 and "The start date must be a date like 2026-12-31" in text_of(bad.text)
    assert admin.get("admin/revenue.csv", params={"to": "soon"}).status_code == 400
    assert admin.get("admin/revenue.pdf", params={"period": "day", "from": "2000-01-01"}).status_code == 400


def test_a_negative_amount_reads_as_one(service, world, tmp_path):
    with service.factory() as db:
        seed(db, tmp_path, world["tag"], ("2025-06-02", "2025-06-03", "2025-06-09"))
        db.commit()
    page = world["admin"].get("admin/revenue", params={"period": "day", "from": "2025-06-09", "to": "2025-06-09"})
    assert "\u2212$14.70" in page.text and "$-" not in page.text  # the refund takes the platform's part back
