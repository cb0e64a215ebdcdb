"""Platform revenue from the earnings ledger, by day, week or month, per instructor and per
course: read-only (the ledger's owner is ``payments/ledger.py``).

For every ledger entry of a sale, its fee split, its tax or their refunds (payouts and transfer
reversals move money already earned and are left out), in the window ``[start, end)``:

- ``sales``: net sales, tax excluded (``sale`` entries);
- ``refunds``: what refunds took back of them (a positive number);
- ``platform``: what the platform keeps (its fee on instructors' sales, its own courses' sales,
  less their refunds);
- ``instructors``: what instructors earn (their share, less refunds);
- ``tax``: tax collected less tax refunded.

So ``sales - refunds == platform + instructors`` in each row, per currency (amounts in
different currencies are never added up).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Course, Instructor, User
from ..models.base import utcnow
from ..models.commerce import LedgerEntry

PERIODS = ("day", "week", "month")
DEFAULT_SPAN = {"day": 30, "week": 7 * 12, "month": 366}  # days shown when no dates are given
MAX_SPAN_DAYS = {"day": 366, "week": 366 * 3, "month": 366 * 10}
EARNING_KINDS = ("sale", "platform_fee", "tax", "refund", "reversal")


@dataclass
class Totals:
    sales: int = 0
    refunds: int = 0
    platform: int = 0
    instructors: int = 0
    tax: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sales": self.sales, "refunds": self.refunds, "platform": self.platform,
                "instructors": self.instructors, "tax": self.tax}


@dataclass
class Row:
    key: str          # the period's label, or the instructor's / course's id ("" for the platform's own)
    label: str        # what a reader sees: "2026-12-07", "2026-W49", "2026-12", a name, a course title
    currency: str
    totals: Totals = field(default_factory=Totals)


@dataclass
class Report:
    period: str
    start: date
    end: date  # inclusive, as the reader chose it
    by_period: list[Row]
    by_instructor: list[Row]
    by_course: list[Row]
    totals: list[Row]  # one per currency

    @property
    def empty(self) -> bool:
        return not self.totals


def parse_window(period: str, start: str = "", end: str = "", *, today: date | None = None) -> tuple[str, date, date]:
    """The report's period and dates from what a reader typed (YYYY-MM-DD, blank for the default)."""
    if period not in PERIODS:
        raise InvalidInput("Group by day, week or month")
    today = today or utcnow().date()

    def day(raw: str, name: str) -> date | None:
        raw = (raw or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw[:10]) if len(raw) == 10 else _bad(name, raw)
        except ValueError:
            return _bad(name, raw)

    last = day(end, "The end date") or today
    first = day(start, "The start date") or last - timedelta(days=DEFAULT_SPAN[period] - 1)
    if first > last:
        raise InvalidInput("The start date is after the end date")
    if (last - first).days + 1 > MAX_SPAN_DAYS[period]:
        limit = MAX_SPAN_DAYS[period]
        raise InvalidInput(f"By {period}, a report covers at most {limit:,} days: choose a shorter range or "
                           f"{'a longer grouping' if period != 'month' else 'fewer years'}")
    return period, first, last


def _bad(name: str, raw: str):
    raise InvalidInput(f"{name} must be a date like 2026-12-31, not {raw[:30]!r}")


def bucket(moment: datetime, period: str) -> str:
    """The label of the day, ISO week or month ``moment`` (UTC) falls in."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    if period == "month":
        return moment.strftime("%Y-%m")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m-%d")


def _labels(first: date, last: date, period: str) -> list[str]:
    """Every bucket from ``first`` to ``last``, so quiet days show as zero rows."""
    labels: list[str] = []
    cursor = first
    while cursor <= last:
        label = bucket(datetime.combine(cursor, time()), period)
        if not labels or labels[-1] != label:
            labels.append(label)
        cursor += timedelta(days=1)
    return labels


def _add(totals: Totals, entry_kind: str, amount: int, *, instructor: bool, is_tax: bool) -> None:
    if is_tax:
        totals.tax += amount
        return
    if entry_kind == "sale":
        totals.sales += amount
    elif entry_kind == "refund":
        totals.refunds -= amount
    if instructor:
        # the instructor's own entries: sale (+), fee (-), refund (-), fee reversal (+)
        totals.instructors += amount
    else:
        totals.platform += amount


def build(session: Session, period: str, first: date, last: date) -> Report:
    """The report of ``[first, last]`` (whole UTC days) grouped by ``period``."""
    start = datetime.combine(first, time(), tzinfo=timezone.utc)
    stop = datetime.combine(last + timedelta(days=1), time(), tzinfo=timezone.utc)
    rows = session.execute(
        select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.amount_cents, LedgerEntry.currency,
               LedgerEntry.instructor_id, LedgerEntry.course_id, LedgerEntry.entry_key)
        .where(LedgerEntry.created_at >= start, LedgerEntry.created_at < stop,
               LedgerEntry.kind.in_(EARNING_KINDS), LedgerEntry.payout_id.is_(None))).all()
    periods: dict[tuple[str, str], Totals] = defaultdict(Totals)
    instructors: dict[tuple[int | None, str], Totals] = defaultdict(Totals)
    courses: dict[tuple[int | None, str], Totals] = defaultdict(Totals)
    totals: dict[str, Totals] = defaultdict(Totals)
    # the platform's entries of a line name no instructor: the line's instructor comes from the
    # instructor's entries of the same order and course
    line_instructor: dict[tuple[str, int | None], int] = {}
    for _, _, _, _, instructor_id, course_id, key in rows:
        if instructor_id is not None:
            line_instructor[(_line_key(key), course_id)] = instructor_id
    for created, kind, amount, currency, instructor_id, course_id, key in rows:
        is_tax = key.endswith(":tax")
        when = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        for target in (periods[(bucket(when, period), currency)], courses[(course_id, currency)], totals[currency]):
            _add(target, kind, amount, instructor=instructor_id is not None, is_tax=is_tax)
        owner = instructor_id if instructor_id is not None else line_instructor.get((_line_key(key), course_id))
        _add(instructors[(owner, currency)], kind, amount, instructor=instructor_id is not None, is_tax=is_tax)
    currencies = sorted(totals)
    by_period = [Row(label, label, cur, periods.get((label, cur), Totals()))
                 for label in _labels(first, last, period) for cur in currencies]
    names = _instructor_names(session, [i for i, _ in instructors if i is not None])
    titles = _course_titles(session, [c for c, _ in courses if c is not None])
    by_instructor = sorted((Row(str(i or ""), names.get(i, "Platform (no instructor)") if i else "Platform (no instructor)",
                                cur, t) for (i, cur), t in instructors.items()),
                           key=lambda r: (r.currency, -r.totals.sales, r.label))
    by_course = sorted((Row(str(c or ""), titles.get(c, "A deleted course") if c else "Not a course", cur, t)
                        for (c, cur), t in courses.items()),
                       key=lambda r: (r.currency, -r.totals.sales, r.label))
    return Report(period, first, last, by_period, by_instructor, by_course,
                  [Row("total", cur.upper(), cur, totals[cur]) for cur in currencies])


def _line_key(entry_key: str) -> str:
    """``order:7:line:3`` of ``order:7:line:3:fee-platform`` or ``reverse:order:7:line:3:sale``."""
    key = entry_key.removeprefix("reverse:")
    return key.rsplit(":", 1)[0]


def _instructor_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Instructor.id, User.display_name, User.hub_name)
                           .join(User, User.id == Instructor.user_id).where(Instructor.id.in_(ids)))
    return {i: (display or name) for i, display, name in rows}


def _course_titles(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Course.id, Course.title).where(Course.id.in_(ids))).all())


# --------------------------------------------------------------------------- exports
COLUMNS = ("sales", "refunds", "platform", "instructors", "tax")
HEADINGS = {"sales": "Sales", "refunds": "Refunds", "platform": "Platform", "instructors": "Instructors", "tax": "Tax"}
SECTIONS = (("period", "by_period"), ("instructor", "by_instructor"), ("course", "by_course"), ("total", "totals"))


def units(cents: int) -> str:
    """Cents as a plain decimal amount: 1234 -> "12.34", -5 -> "-0.05"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _cell(text: str) -> str:
    """A spreadsheet cell that is never a formula (titles and names are typed by people)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: Report) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["group", "name", "currency", *COLUMNS])
    for section, attribute in SECTIONS:
        for row in getattr(report, attribute):
            writer.writerow([section, _cell(row.label), row.currency.upper(),
                             *(units(getattr(row.totals, c)) for c in COLUMNS)])
    return out.getvalue()


def _latin1(text: str) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def to_pdf(report: Report, *, title: str = "Platform revenue") -> bytes:
    """The report as an A4 PDF: totals first, then by period, instructor and course."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin1(f"{report.start.isoformat()} to {report.end.isoformat()}, by {report.period} (UTC)"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, "Sales exclude tax. Sales - Refunds = Platform + Instructors.", new_x="LMARGIN", new_y="NEXT")
    widths = (62, 14, 23, 23, 23, 23, 22)

    def table(heading: str, rows: list[Row]) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _latin1(heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 9)
        for w, head in zip(widths, ("", "", *(HEADINGS[c] for c in COLUMNS))):
            pdf.cell(w, 6, head, border="B", align="L" if w in (62, 14) else "R")
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        if not rows:
            pdf.cell(0, 6, "Nothing in this period.", new_x="LMARGIN", new_y="NEXT")
        for row in rows:
            pdf.cell(widths[0], 6, _latin1(row.label[:40]))
            pdf.cell(widths[1], 6, row.currency.upper())
            for w, c in zip(widths[2:], COLUMNS):
                pdf.cell(w, 6, units(getattr(row.totals, c)), align="R")
            pdf.ln()

    table("Totals", report.totals)
    table(f"By {report.period}", [r for r in report.by_period if any(r.totals.as_dict().values())])
    table("By instructor", report.by_instructor)
    table("By course", report.by_course)
    return bytes(pdf.output())
