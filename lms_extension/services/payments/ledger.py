"""The append-only earnings ledger.

Per paid order line: the instructor is credited the net sale (``sale``) and debited the
platform's cut (``platform_fee``), the platform is credited that cut and the tax (``tax``).
So the entries of an order sum to exactly what the buyer paid; a refund posts the opposite
of every one of them (``refund`` / ``reversal``) and the order sums to zero. Each posting has
a unique ``entry_key``: a retried webhook posts nothing twice.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...models.base import utcnow
from ...models.commerce import InstructorAccount, LedgerEntry, Order
from .. import platform_settings

REVERSE_KIND = {"sale": "refund", "platform_fee": "reversal", "tax": "refund"}


def post(session: Session, key: str, *, kind: str, amount_cents: int, currency: str, instructor_id: int | None = None,
         order_id: int | None = None, course_id: int | None = None, payout_id: int | None = None,
         available_at: datetime | None = None, memo: str = "") -> LedgerEntry | None:
    """Append one entry; ``None`` when ``key`` was posted before."""
    if session.scalars(select(LedgerEntry.id).where(LedgerEntry.entry_key == key)).first() is not None:
        return None
    entry = LedgerEntry(entry_key=key, kind=kind, amount_cents=amount_cents, currency=currency,
                        instructor_id=instructor_id, order_id=order_id, course_id=course_id, payout_id=payout_id,
                        available_at=available_at or utcnow(), memo=memo[:255])
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        return None
    return entry


def share_bp(session: Session, instructor_id: int, platform_share_percent: int) -> int:
    account = session.scalars(select(InstructorAccount).where(InstructorAccount.instructor_id == instructor_id)).one_or_none()
    if account is not None and account.revenue_share_bp is not None:
        return account.revenue_share_bp
    # the default share: the admin's run-time setting, else the configured platform share's rest
    return platform_settings.instructor_share_percent(session, 100 - platform_share_percent) * 100


def post_sale(session: Session, order: Order, *, platform_share_percent: int, hold_days: int,
              paid_at: datetime | None = None, key_prefix: str | None = None,
              amounts: list[tuple] | None = None) -> None:
    """Book a paid order (or, with ``key_prefix``/``amounts``, one subscription renewal)."""
    paid_at = paid_at or order.paid_at or utcnow()
    available = paid_at + timedelta(days=hold_days)
    prefix = key_prefix or f"order:{order.id}"
    rows = amounts or [(ln.id, ln.course_id, ln.instructor_id, ln.total_cents, ln.tax_cents) for ln in order.lines]
    for line_id, course_id, instructor_id, total, tax in rows:
        net = total - tax
        key = f"{prefix}:line:{line_id}"
        if instructor_id is not None:
            keep = net * share_bp(session, instructor_id, platform_share_percent) // 10000
            post(session, f"{key}:sale", kind="sale", amount_cents=net, currency=order.currency,
                 instructor_id=instructor_id, order_id=order.id, course_id=course_id, available_at=available)
            post(session, f"{key}:fee", kind="platform_fee", amount_cents=-(net - keep), currency=order.currency,
                 instructor_id=instructor_id, order_id=order.id, course_id=course_id, available_at=available)
            post(session, f"{key}:fee-platform", kind="platform_fee", amount_cents=net - keep, currency=order.currency,
                 order_id=order.id, course_id=course_id, available_at=paid_at)
        else:
            post(session, f"{key}:sale", kind="sale", amount_cents=net, currency=order.currency,
                 order_id=order.id, course_id=course_id, available_at=paid_at)
        if tax:
            post(session, f"{key}:tax", kind="tax", amount_cents=tax, currency=order.currency,
                 order_id=order.id, course_id=course_id, available_at=paid_at, memo=f"{order.tax_label} {order.country}")


def post_refund(session: Session, order: Order, memo: str = "refund") -> int:
    """Post the opposite of every sale/fee/tax entry of ``order`` not reversed yet; returns how many."""
    entries = list(session.scalars(select(LedgerEntry).where(
        LedgerEntry.order_id == order.id, LedgerEntry.kind.in_(("sale", "platform_fee", "tax")))
        .order_by(LedgerEntry.id)))
    now = utcnow()
    posted = 0
    for e in entries:
        if post(session, f"reverse:{e.entry_key}", kind=REVERSE_KIND[e.kind], amount_cents=-e.amount_cents,
                currency=e.currency, instructor_id=e.instructor_id, order_id=order.id, course_id=e.course_id,
                # still inside the hold: the reversal nets against pending; else against available
                available_at=max(aware(e.available_at), now), memo=memo) is not None:
            posted += 1
    return posted


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def order_sum(session: Session, order_id: int) -> int:
    return session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
                          .where(LedgerEntry.order_id == order_id)) or 0


@dataclass
class Balance:
    currency: str
    available_cents: int
    pending_cents: int
    paid_out_cents: int


def balances(session: Session, instructor_id: int, now: datetime | None = None) -> list[Balance]:
    """Per currency: available (past the hold), pending (inside it), paid out so far."""
    now = now or utcnow()
    rows = session.execute(
        select(LedgerEntry.currency,
               func.coalesce(func.sum(case((LedgerEntry.available_at <= now, LedgerEntry.amount_cents), else_=0)), 0),
               func.coalesce(func.sum(case((LedgerEntry.available_at > now, LedgerEntry.amount_cents), else_=0)), 0),
               func.coalesce(func.sum(case((LedgerEntry.kind == "payout", -LedgerEntry.amount_cents), else_=0)), 0))
        .where(LedgerEntry.instructor_id == instructor_id).group_by(LedgerEntry.currency))
    return [Balance(c, int(a), int(p), int(o)) for c, a, p, o in rows]


def history(session: Session, instructor_id: int, limit: int = 200) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.instructor_id == instructor_id)
                                .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit)))


def per_course(session: Session, instructor_id: int) -> dict[int, dict[str, int]]:
    """Course id -> {kind: sum} for the instructor's entries."""
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = session.execute(select(LedgerEntry.course_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
                           .where(LedgerEntry.instructor_id == instructor_id, LedgerEntry.course_id.is_not(None))
                           .group_by(LedgerEntry.course_id, LedgerEntry.kind))
    for course_id, kind, amount in rows:
        out[course_id][kind] += int(amount)
    return out


def series(session: Session, instructor_id: int, period: str, now: datetime | None = None, points: int = 12) -> list[tuple[str, int]]:
    """Net earnings (sale + fee + refunds, payouts excluded) per day/week/month, oldest first."""
    now = now or utcnow()
    if period not in ("day", "week", "month"):
        period = "day"
    entries = session.execute(select(LedgerEntry.created_at, LedgerEntry.amount_cents).where(
        LedgerEntry.instructor_id == instructor_id, LedgerEntry.kind != "payout"))
    buckets: dict[str, int] = defaultdict(int)
    for created, amount in entries:
        buckets[_bucket(created, period)] += amount
    labels = []
    cursor = now
    for _ in range(points):
        label = _bucket(cursor, period)
        if label not in labels:
            labels.append(label)
        cursor = _step_back(cursor, period)
    return [(label, buckets.get(label, 0)) for label in reversed(labels)]


def _bucket(moment: datetime, period: str) -> str:
    if period == "month":
        return moment.strftime("%Y-%m")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m-%d")


def _step_back(moment: datetime, period: str) -> datetime:
    if period == "month":
        first = moment.replace(day=1)
        return first - timedelta(days=1)
    return moment - timedelta(days=7 if period == "week" else 1)
