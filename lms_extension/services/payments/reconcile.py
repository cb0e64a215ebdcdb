"""Repair what a lost webhook missed: walk Stripe's sessions, charges and subscriptions.

Runs every ``LMS_RECONCILE_INTERVAL_SECONDS`` as a job of ``lms worker`` (``jobs.py``) and on demand as
``lms payments reconcile``. Unlike the other services it commits: each repair on its own. It uses the same idempotent steps as the webhook, so running it
beside live webhooks (or twice) changes nothing twice.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ...errors import LMSError
from ...models.commerce import Order, Subscription
from . import fulfillment
from .policy import CommercePolicy
from .stripe_client import call, from_config

log = logging.getLogger("lms.payments")


@dataclass
class Report:
    sessions: int = 0
    charges: int = 0
    subscriptions: int = 0
    changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _pages(stripe_list, params: dict):
    params = dict(params, limit=100)
    while True:
        page = call(stripe_list, params)
        data = page.get("data", [])
        yield from data
        if not page.get("has_more") or not data:
            return
        params["starting_after"] = data[-1]["id"]


def run(db: Session, stripe, policy: CommercePolicy, *, since_days: int = 45, now: float | None = None) -> Report:
    report = Report()
    # abandoned checkouts first: their coupon uses go back even when Stripe's webhook was lost
    _step(db, report, "abandoned checkouts", lambda: fulfillment.sweep_abandoned(db, stripe, policy))
    since = int((now or time.time()) - since_days * 86400)
    for cs in _pages(stripe.v1.checkout.sessions.list, {"created": {"gte": since}}):
        report.sessions += 1
        _step(db, report, f"session {cs['id']}", lambda: fulfillment.sync_session(db, stripe, policy, cs["id"]))
    for charge in _pages(stripe.v1.charges.list, {"created": {"gte": since}}):
        report.charges += 1
        if charge.get("refunded") or charge.get("amount_refunded") or charge.get("disputed"):
            _step(db, report, f"charge {charge['id']}", lambda: fulfillment.sync_charge(db, stripe, policy, charge["id"]))
    # our own open orders whose sessions are older than the window, and subscriptions we hold
    open_sessions = db.scalars(select(Order.stripe_session_id).where(
        Order.status.in_(("pending", "awaiting_payment")), Order.stripe_session_id.is_not(None))).all()
    for session_id in open_sessions:
        _step(db, report, f"session {session_id}", lambda: fulfillment.sync_session(db, stripe, policy, session_id))
    for sub_id in db.scalars(select(Subscription.stripe_subscription_id)).all():
        report.subscriptions += 1
        _step(db, report, f"subscription {sub_id}", lambda: fulfillment.sync_subscription(db, stripe, policy, sub_id))
    return report


def _step(db: Session, report: Report, label: str, action) -> None:
    """One repair in its own transaction: a slow walk over Stripe never holds the database's
    write lock for long, and a failed step (retried once on a write conflict) spoils no other."""
    before = _snapshot(db)
    for attempt in (1, 2):
        try:
            action()
            db.commit()
            break
        except LMSError as exc:
            db.rollback()
            report.errors.append(f"{label}: {exc.message}")
            log.warning("reconcile %s: %s", label, exc.message)
            return
        except DBAPIError as exc:  # a webhook wrote the same rows meanwhile
            db.rollback()
            if attempt == 2:
                report.errors.append(f"{label}: database conflict: {exc.orig}")
                return
    after = _snapshot(db)
    if after != before:
        report.changed.append(label)


def _snapshot(db: Session) -> tuple:
    return tuple(db.execute(select(Order.status, func.count()).group_by(Order.status).order_by(Order.status)).all())


def run_once(factory, config) -> Report:
    """One reconciliation in its own transaction (``lms payments reconcile``, the worker's timer)."""
    stripe = from_config(config)
    policy = CommercePolicy.from_config(config)
    with factory() as db:
        return run(db, stripe, policy)
