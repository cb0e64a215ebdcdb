"""Instructor payouts through Stripe Connect (Express accounts).

Onboarding creates the connected account once and hands the instructor Stripe's onboarding
link. A payout run transfers each instructor's *available* balance (earnings older than the
hold, minus refunds and earlier payouts) with an idempotency key per (instructor, run), so a
rerun of the same run never pays twice. A refund after a payout reverses the transfer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import permissions
from ...errors import Forbidden, InvalidInput, LMSError, NotFound
from ...models import Instructor, User
from ...models.base import utcnow
from ...models.commerce import InstructorAccount, LedgerEntry, Order, Payout
from .. import audit
from . import ledger
from .stripe_client import call

log = logging.getLogger("lms.payments")


def instructor_of(db: Session, user: User) -> Instructor:
    instructor = db.scalars(select(Instructor).where(Instructor.user_id == user.id)).one_or_none()
    if instructor is None:
        raise Forbidden("only instructors have earnings")
    return instructor


def account_of(db: Session, instructor: Instructor) -> InstructorAccount:
    account = db.scalars(select(InstructorAccount).where(InstructorAccount.instructor_id == instructor.id)).one_or_none()
    if account is None:
        account = InstructorAccount(instructor_id=instructor.id)
        db.add(account)
        db.flush()
    return account


def start_onboarding(db: Session, stripe, user: User, *, return_url: str, refresh_url: str) -> str:
    """The Stripe onboarding URL for ``user``'s connected account (created on first use)."""
    instructor = instructor_of(db, user)
    account = account_of(db, instructor)
    if account.stripe_account_id is None:
        created = call(stripe.v1.accounts.create, {
            "type": "express", "metadata": {"lms_instructor": str(instructor.id), "lms_user": user.hub_name},
            "capabilities": {"transfers": {"requested": True}},
            # the payout country of their approved application (Stripe fixes it at creation)
            **({"country": instructor.payout_country} if instructor.payout_country else {})},
            {"idempotency_key": f"lms-connect-account-{instructor.id}"})
        account.stripe_account_id = created["id"]
        db.flush()
    link = call(stripe.v1.account_links.create, {"account": account.stripe_account_id, "type": "account_onboarding",
                                                  "return_url": return_url, "refresh_url": refresh_url})
    return link["url"]


def refresh_account(db: Session, stripe, user: User) -> InstructorAccount:
    account = account_of(db, instructor_of(db, user))
    if account.stripe_account_id:
        remote = call(stripe.v1.accounts.retrieve, account.stripe_account_id)
        account.details_submitted = bool(remote.get("details_submitted"))
        account.payouts_enabled = bool(remote.get("payouts_enabled")) or bool(
            (remote.get("capabilities") or {}).get("transfers") == "active")
        db.flush()
    return account


@dataclass
class RunReport:
    run_key: str
    paid: list[tuple[int, int, str]] = field(default_factory=list)  # instructor, cents, currency
    skipped: list[str] = field(default_factory=list)


def run(db: Session, stripe, *, run_key: str | None = None, now: datetime | None = None) -> RunReport:
    """Transfer every onboarded instructor's available balance. ``run_key`` (default: today) makes
    reruns of the same run idempotent."""
    now = now or utcnow()
    run_key = run_key or now.strftime("%Y-%m-%d")
    report = RunReport(run_key)
    accounts = list(db.scalars(select(InstructorAccount).where(InstructorAccount.stripe_account_id.is_not(None))))
    for account in accounts:
        for balance in ledger.balances(db, account.instructor_id, now):
            label = f"instructor {account.instructor_id} {balance.currency}"
            if balance.available_cents <= 0:
                report.skipped.append(f"{label}: nothing available")
                continue
            if not account.payouts_enabled:
                report.skipped.append(f"{label}: onboarding not finished")
                continue
            key = f"lms-payout-{account.instructor_id}-{balance.currency}-{run_key}"
            if db.scalars(select(Payout.id).where(Payout.idempotency_key == key)).first() is not None:
                report.skipped.append(f"{label}: already paid in run {run_key}")
                continue
            payout = Payout(instructor_id=account.instructor_id, amount_cents=balance.available_cents,
                            currency=balance.currency, idempotency_key=key)
            db.add(payout)
            db.flush()
            try:
                transfer = call(stripe.v1.transfers.create, {
                    "amount": payout.amount_cents, "currency": payout.currency,
                    "destination": account.stripe_account_id, "transfer_group": f"payout-{run_key}",
                    "metadata": {"lms_payout": str(payout.id)}}, {"idempotency_key": key})
            except LMSError as exc:
                payout.status, payout.error = "failed", exc.message[:500]
                db.flush()
                report.skipped.append(f"{label}: {exc.message}")
                continue
            payout.status, payout.stripe_transfer_id = "paid", transfer["id"]
            ledger.post(db, f"payout:{payout.id}", kind="payout", amount_cents=-payout.amount_cents,
                        currency=payout.currency, instructor_id=account.instructor_id, payout_id=payout.id,
                        available_at=now, memo=f"transfer {transfer['id']}")
            report.paid.append((account.instructor_id, payout.amount_cents, payout.currency))
    db.flush()
    return report


def reverse_for_order(db: Session, stripe, order: Order) -> None:
    """After a refund: if an instructor's available balance went negative because the sale had
    already been paid out, pull that much back from their latest transfers."""
    instructors = set(db.scalars(select(LedgerEntry.instructor_id).where(
        LedgerEntry.order_id == order.id, LedgerEntry.instructor_id.is_not(None))))
    for instructor_id in instructors:
        for balance in ledger.balances(db, instructor_id, utcnow()):
            owed = -(balance.available_cents + balance.pending_cents)  # what was paid out and then refunded
            if owed <= 0 or balance.currency != order.currency:
                continue
            payouts = db.scalars(select(Payout).where(Payout.instructor_id == instructor_id, Payout.status == "paid",
                                                      Payout.currency == balance.currency)
                                 .order_by(Payout.id.desc())).all()
            for payout in payouts:
                room = payout.amount_cents - payout.reversed_cents
                if owed <= 0 or room <= 0:
                    continue
                amount = min(room, owed)
                key = f"lms-reversal-order-{order.id}-payout-{payout.id}"
                try:
                    call(stripe.v1.transfers.reversals.create, payout.stripe_transfer_id,
                         {"amount": amount, "metadata": {"order_id": str(order.id)}}, {"idempotency_key": key})
                except LMSError as exc:
                    log.warning("could not reverse transfer %s: %s", payout.stripe_transfer_id, exc.message)
                    break
                payout.reversed_cents += amount
                ledger.post(db, key, kind="reversal", amount_cents=amount, currency=payout.currency,
                            instructor_id=instructor_id, order_id=None, payout_id=payout.id,
                            memo=f"transfer reversal for order {order.id}")
                owed -= amount
    db.flush()


def set_share(db: Session, admin: User, instructor_id: int, share_percent: int) -> InstructorAccount:
    permissions.require_admin(admin, "only admins set revenue shares")
    if not 0 <= share_percent <= 100:
        raise InvalidInput("a share is between 0 and 100 percent")
    instructor = db.get(Instructor, instructor_id)
    if instructor is None:
        raise NotFound(f"no instructor {instructor_id}")
    account = account_of(db, instructor)
    before = account.revenue_share_bp
    account.revenue_share_bp = share_percent * 100
    db.flush()
    if before != account.revenue_share_bp:
        audit.record(db, admin, "revenue_share.set", "instructor", instructor.id,
                     before={"share_percent": None if before is None else before / 100},
                     after={"share_percent": share_percent}, summary=f"revenue share {share_percent}%")
    return account


def reset_share(db: Session, admin: User, instructor_id: int) -> InstructorAccount:
    """Back to the default share (admins only; audited)."""
    permissions.require_admin(admin, "only admins set revenue shares")
    instructor = db.get(Instructor, instructor_id)
    if instructor is None:
        raise NotFound(f"no instructor {instructor_id}")
    account = account_of(db, instructor)
    before = account.revenue_share_bp
    account.revenue_share_bp = None
    db.flush()
    if before is not None:
        audit.record(db, admin, "revenue_share.reset", "instructor", instructor.id,
                     before={"share_percent": before / 100}, after={"share_percent": None},
                     summary="revenue share back to the default")
    return account


def instructors_with_shares(db: Session) -> list[tuple[int, str, str, int | None]]:
    """(instructor id, display name, account name, own share in basis points or None) by account name."""
    return [(i, display or name, name, bp) for i, display, name, bp in db.execute(
        select(Instructor.id, User.display_name, User.hub_name, InstructorAccount.revenue_share_bp)
        .join(User, User.id == Instructor.user_id)
        .outerjoin(InstructorAccount, InstructorAccount.instructor_id == Instructor.id)
        .order_by(User.hub_name))]
