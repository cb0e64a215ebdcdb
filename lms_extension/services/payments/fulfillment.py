"""Order state from Stripe's own objects, re-fetched before acting.

Every entry point here takes an object *id*, asks Stripe for the object and moves the order
with guarded ``UPDATE ... WHERE status IN (...)`` statements, so whatever the order,
duplication or delay of webhooks (or a reconciliation running beside them) an order is
fulfilled at most once, never while unpaid, and a refund or lost dispute revokes it once.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...errors import Conflict, NotFound
from ...models import User
from ...models.base import utcnow
from ...models.commerce import Order, OrderLine, Subscription
from . import access, coupons, invoices, ledger, payouts, subscriptions
from .policy import CommercePolicy
from .stripe_client import PaymentsRejected, PaymentsUnavailable, call, lookup
from .tax import TaxRule, split

log = logging.getLogger("lms.payments")
OPEN = ("pending", "awaiting_payment", "expired", "failed")
PAID_STATES = ("paid", "no_payment_required")
# How long a Checkout Session, and with it the coupon use its order reserved, stays open.
# Stripe's default is 24 hours; its minimum is 30 minutes.
CHECKOUT_TTL_SECONDS = 30 * 60


# -- starting a checkout ---------------------------------------------------------------------
def start_checkout(db: Session, stripe, order: Order, *, success_url: str, cancel_url: str) -> str:
    """Open the Stripe Checkout session of a pending order; returns the hosted page URL."""
    if order.status != "pending":
        raise Conflict(f"order {order.id} is {order.status}")
    buyer = db.get(User, order.user_id)
    meta = {"order_id": str(order.id), "lms_user": buyer.hub_name}
    rate = f" incl. {order.tax_label} {order.tax_rate_bp / 100:g}%" if order.tax_cents and order.tax_inclusive else (
        f" incl. {order.tax_label} {order.tax_rate_bp / 100:g}% added" if order.tax_cents else "")
    items = []
    for ln in order.lines:
        price = {"currency": order.currency, "unit_amount": ln.total_cents, "tax_behavior": "inclusive",
                 "product_data": {"name": ln.description[:250], "description": f"Jupyter LMS{rate}".strip(),
                                  "metadata": {"course_id": str(ln.course_id or "")}}}
        if order.kind == "subscription":
            price["recurring"] = {"interval": "month" if order.plan == "monthly" else "year"}
        items.append({"price_data": price, "quantity": 1})
    for old in getattr(order, "replaced", ()):
        expire_session(db, stripe, old)
    params = {
        "mode": "subscription" if order.kind == "subscription" else "payment",
        "line_items": items, "metadata": meta, "client_reference_id": str(order.id),
        "success_url": success_url, "cancel_url": cancel_url,
        "expires_at": int(time.time()) + CHECKOUT_TTL_SECONDS,
    }
    if order.kind == "subscription":
        params["subscription_data"] = {"metadata": meta}
    else:
        params["payment_intent_data"] = {"metadata": meta, "description": f"Jupyter LMS order {order.id}"}
    cs = call(stripe.v1.checkout.sessions.create, params, {"idempotency_key": f"lms-checkout-order-{order.id}"})
    order.stripe_session_id = cs["id"]
    db.flush()
    return cs["url"]


def open_order(db: Session, fields: dict, lines: list[dict], *, billing=None) -> Order:
    """Store a new pending order and its lines (``checkout`` prices them); ``billing`` is the
    buyer's ``checkout_billing.Billing``."""
    order = Order(status="pending", **fields, **(billing.order_fields() if billing is not None else {}))
    order.lines = [OrderLine(**line) for line in lines]
    try:
        with db.begin_nested():
            db.add(order)
            db.flush()
    except IntegrityError:  # a checkout of the same item started at the same moment won
        raise Conflict("another checkout of this was started at the same time: reload the page") from None
    return order


def fulfill_without_payment(db: Session, policy: CommercePolicy, order: Order) -> bool:
    """A one-off order a coupon made free: nothing to charge, so no Stripe session (Stripe refuses
    zero-amount payments); granted, booked and invoiced at once."""
    if order.total_cents != 0 or order.kind == "subscription":
        raise Conflict(f"order {order.id} costs {order.total_cents} cents: it goes through Stripe")
    now = utcnow()
    moved = db.execute(update(Order).where(Order.id == order.id, Order.status == "pending")
                       .values(status="paid", paid_at=now).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        return False
    db.refresh(order)
    access.grant_order(db, order)
    ledger.post_sale(db, order, platform_share_percent=policy.platform_share_percent,
                     hold_days=policy.payout_hold_days, paid_at=now)
    invoices.issue(db, order, policy.seller, source_key=f"order:{order.id}", issued_at=now)
    return True


# -- checkout sessions -----------------------------------------------------------------------
def sync_session(db: Session, stripe, policy: CommercePolicy, session_id: str) -> Order | None:
    """Bring the order of checkout session ``session_id`` in line with Stripe; ``None`` if not ours."""
    cs = lookup(stripe.v1.checkout.sessions.retrieve, session_id)
    if cs is None:
        return None
    order = _order_of_session(db, cs)
    if order is None:
        return None
    if cs.get("status") == "expired":
        close_unpaid(db, order, "expired")
    elif cs.get("status") == "complete":
        if cs.get("payment_status") in PAID_STATES:
            _fulfill(db, stripe, policy, order, cs)
        else:  # async payment (bank debit...): wait for async_payment_succeeded
            db.execute(update(Order).where(Order.id == order.id, Order.status == "pending")
                       .values(status="awaiting_payment").execution_options(synchronize_session=False))
    db.refresh(order)
    return order


def mark_async_failed(db: Session, stripe, policy: CommercePolicy, session_id: str) -> Order | None:
    cs = lookup(stripe.v1.checkout.sessions.retrieve, session_id)
    order = _order_of_session(db, cs) if cs else None
    if order is not None and cs.get("payment_status") not in PAID_STATES:
        close_unpaid(db, order, "failed")
        db.refresh(order)
    return order


def _order_of_session(db: Session, cs: dict) -> Order | None:
    order = db.scalars(select(Order).where(Order.stripe_session_id == cs["id"])).one_or_none()
    if order is None:
        # a session whose id we never stored (the create call's answer was lost): trust our metadata
        # only when it names an order that has no session yet and the amounts agree
        ref = (cs.get("metadata") or {}).get("order_id") or cs.get("client_reference_id")
        candidate = db.get(Order, int(ref)) if ref and str(ref).isdigit() else None
        if candidate is None or candidate.stripe_session_id not in (None, cs["id"]):
            return None
        if cs.get("amount_total") != candidate.total_cents:
            return None
        candidate.stripe_session_id = cs["id"]
        db.flush()
        order = candidate
    return order


def close_unpaid(db: Session, order: Order, status: str, note: str | None = None) -> bool:
    """An open order that will not be paid: closed once, its coupon use given back."""
    values = {"status": status, "closed_at": utcnow(), **({"note": note} if note else {})}
    done = db.execute(update(Order).where(Order.id == order.id, Order.status.in_(("pending", "awaiting_payment")))
                      .values(**values).execution_options(synchronize_session=False))
    if done.rowcount == 1:
        coupons.release(db, order)
        db.refresh(order)
        return True
    return False



def expire_session(db: Session, stripe, order: Order) -> None:
    """Make ``order``'s Stripe session unpayable (it was replaced or abandoned). A session
    paid meanwhile is settled instead: the buyer gets what they paid for."""
    if not order.stripe_session_id:
        return
    cs = lookup(stripe.v1.checkout.sessions.retrieve, order.stripe_session_id)
    if cs is not None and cs.get("status") == "open":
        try:
            call(stripe.v1.checkout.sessions.expire, order.stripe_session_id)
        except PaymentsRejected as exc:  # completed between the two calls
            log.info("order %s: session not expired: %s", order.id, exc.message)
        except PaymentsUnavailable as exc:  # it expires by itself within CHECKOUT_TTL_SECONDS
            log.warning("order %s: could not expire its session now: %s", order.id, exc.message)


def sweep_abandoned(db: Session, stripe, policy: CommercePolicy, *, now: datetime | None = None,
                    grace_seconds: int = 60) -> list[int]:
    """Close checkouts left open past their session's lifetime and give their coupon uses back.

    The ``checkout.session.expired`` webhook does this when it arrives; this sweep (a job of
    ``lms worker``, and the first step of every reconciliation) catches lost webhooks, sessions created before
    sessions expired after 30 minutes, and orders whose Stripe session was never created.
    Returns the ids of the orders it closed."""
    cutoff = (now or utcnow()) - timedelta(seconds=CHECKOUT_TTL_SECONDS + grace_seconds)
    closed = []
    stale = db.scalars(select(Order).where(Order.status == "pending", Order.created_at < cutoff)
                       .order_by(Order.id)).all()
    for order in stale:
        if order.stripe_session_id:
            expire_session(db, stripe, order)
            sync_session(db, stripe, policy, order.stripe_session_id)
            if order.status == "pending":  # Stripe unreachable or the session unknown: try next round
                continue
            if order.status == "expired":
                closed.append(order.id)
        elif close_unpaid(db, order, "expired", note="checkout never reached Stripe"):
            closed.append(order.id)
    return closed


def _fulfill(db: Session, stripe, policy: CommercePolicy, order: Order, cs: dict) -> None:
    if cs.get("amount_total") != order.total_cents or (cs.get("currency") or order.currency) != order.currency:
        # never hand over more than what was paid for: keep the order for a human to look at
        log.error("order %s: Stripe charged %s %s, order says %s %s", order.id, cs.get("amount_total"),
                  cs.get("currency"), order.total_cents, order.currency)
        db.execute(update(Order).where(Order.id == order.id, Order.status.in_(OPEN))
                   .values(note="amount mismatch: not fulfilled").execution_options(synchronize_session=False))
        return
    now = utcnow()
    values = {"status": "paid", "paid_at": now, "stripe_customer_id": cs.get("customer")}
    pi = cs.get("payment_intent")
    pi = pi["id"] if isinstance(pi, dict) else pi
    if pi:
        values["stripe_payment_intent_id"] = pi
        intent = call(stripe.v1.payment_intents.retrieve, pi)
        charge = intent.get("latest_charge")
        values["stripe_charge_id"] = charge["id"] if isinstance(charge, dict) else charge
    sub_id = cs.get("subscription")
    sub_id = sub_id["id"] if isinstance(sub_id, dict) else sub_id
    subscription = call(stripe.v1.subscriptions.retrieve, sub_id) if sub_id else None
    if sub_id:
        values["stripe_subscription_id"] = sub_id
    # the one transition that hands over what was bought
    moved = db.execute(update(Order).where(Order.id == order.id, Order.status.in_(OPEN))
                       .values(**values).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        return
    db.refresh(order)
    if order.coupon_id is not None:  # paid after its checkout was replaced or expired
        coupons.reclaim(db, order)
    if order.kind == "subscription" and subscription is not None:
        row = Subscription(user_id=order.user_id, order_id=order.id, stripe_subscription_id=sub_id,
                           plan=order.plan or "monthly", status=subscription.get("status", "active"),
                           current_period_end=_period_end(subscription))
        db.add(row)
        db.flush()
    access.grant_order(db, order)
    ledger.post_sale(db, order, platform_share_percent=policy.platform_share_percent,
                     hold_days=policy.payout_hold_days, paid_at=now)
    invoices.issue(db, order, policy.seller, source_key=f"order:{order.id}", issued_at=now)
    log.info("order %s paid: %s %s", order.id, order.total_cents, order.currency)


def _period_end(sub: dict) -> datetime | None:
    ts = sub.get("current_period_end")
    if ts is None:
        items = ((sub.get("items") or {}).get("data") or [])
        ts = items[0].get("current_period_end") if items else None
    return datetime.fromtimestamp(ts, timezone.utc) if ts else None


# -- refunds and disputes --------------------------------------------------------------------
def order_for_payment_intent(db: Session, stripe, policy: CommercePolicy, payment_intent: str | None) -> Order | None:
    if not payment_intent:
        return None
    order = db.scalars(select(Order).where(Order.stripe_payment_intent_id == payment_intent)).first()
    if order is not None:
        return order
    # the refund or dispute overtook the checkout's own events: settle the checkout first
    found = call(stripe.v1.checkout.sessions.list, {"payment_intent": payment_intent, "limit": 1})
    for cs in found.get("data", []):
        return sync_session(db, stripe, policy, cs["id"])
    return None


def sync_charge(db: Session, stripe, policy: CommercePolicy, charge_id: str) -> Order | None:
    charge = lookup(stripe.v1.charges.retrieve, charge_id)
    if charge is None:
        return None
    order = order_for_payment_intent(db, stripe, policy, _id(charge.get("payment_intent")))
    if order is None:
        return None
    if charge.get("refunded") or (charge.get("amount_refunded") or 0) >= (charge.get("amount") or 1):
        take_back(db, stripe, policy, order, "refunded", "refund")
    if charge.get("disputed"):
        for dispute in call(stripe.v1.disputes.list, {"charge": charge_id, "limit": 10}).get("data", []):
            if dispute.get("status") == "lost":
                take_back(db, stripe, policy, order, "disputed", "dispute lost")
    db.refresh(order)
    return order


def sync_dispute(db: Session, stripe, policy: CommercePolicy, dispute_id: str) -> Order | None:
    dispute = lookup(stripe.v1.disputes.retrieve, dispute_id)
    if dispute is None:
        return None
    order = order_for_payment_intent(db, stripe, policy, _id(dispute.get("payment_intent")))
    if order is None:
        charge = lookup(stripe.v1.charges.retrieve, _id(dispute.get("charge")))
        order = order_for_payment_intent(db, stripe, policy, _id(charge.get("payment_intent"))) if charge else None
    if order is not None and dispute.get("status") == "lost":
        take_back(db, stripe, policy, order, "disputed", "dispute lost")
        db.refresh(order)
    return order


def take_back(db: Session, stripe, policy: CommercePolicy, order: Order, status: str, reason: str) -> bool:
    """Refund or lost dispute: once per order, revoke access and certificates, reverse the ledger."""
    moved = db.execute(update(Order).where(Order.id == order.id, Order.status == "paid")
                       .values(status=status, closed_at=utcnow()).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        return False
    db.refresh(order)
    access.revoke_order(db, order, reason)
    if order.kind == "subscription":
        db.execute(update(Subscription).where(Subscription.order_id == order.id)
                   .values(status="canceled", canceled_at=utcnow()).execution_options(synchronize_session=False))
        access.end_subscription_access(db, order.user_id, reason)
    ledger.post_refund(db, order, memo=reason)
    invoices.issue(db, order, policy.seller, source_key=f"credit:{order.id}", kind="credit_note")
    payouts.reverse_for_order(db, stripe, order)
    log.info("order %s %s: access revoked", order.id, status)
    return True


# -- subscriptions ---------------------------------------------------------------------------
def sync_subscription(db: Session, stripe, policy: CommercePolicy, subscription_id: str) -> Subscription | None:
    sub = lookup(stripe.v1.subscriptions.retrieve, subscription_id)
    if sub is None:
        return None
    row = db.scalars(select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)).one_or_none()
    if row is None:
        found = call(stripe.v1.checkout.sessions.list, {"subscription": subscription_id, "limit": 1})
        for cs in found.get("data", []):
            sync_session(db, stripe, policy, cs["id"])
        row = db.scalars(select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)).one_or_none()
        if row is None:
            return None
    row.status = sub.get("status", row.status)
    row.current_period_end = _period_end(sub) or row.current_period_end
    if sub.get("canceled_at") and row.canceled_at is None:
        row.canceled_at = datetime.fromtimestamp(sub["canceled_at"], timezone.utc)
    db.flush()
    if row.status not in subscriptions.ACTIVE_SUBSCRIPTION:
        access.end_subscription_access(db, row.user_id, "subscription ended")
    return row


def cancel_subscription(db: Session, stripe, policy: CommercePolicy, user: User, order_id: int) -> Subscription:
    """The buyer stops renewing: access lasts to the end of the paid period, then Stripe's
    ``customer.subscription.deleted`` ends it."""
    order = db.get(Order, order_id)
    row = db.scalars(select(Subscription).where(Subscription.order_id == order_id)).one_or_none() if order else None
    if order is None or order.user_id != user.id or row is None:
        raise NotFound(f"no subscription for order {order_id}")
    if row.status not in subscriptions.ACTIVE_SUBSCRIPTION:
        raise Conflict(f"the subscription is already {row.status}")
    call(stripe.v1.subscriptions.update, row.stripe_subscription_id, {"cancel_at_period_end": True},
         {"idempotency_key": f"lms-cancel-subscription-{row.id}"})
    row.canceled_at = utcnow()
    db.flush()
    return row


def sync_invoice(db: Session, stripe, policy: CommercePolicy, invoice_id: str) -> Subscription | None:
    """A paid renewal of an all-access subscription: book it and issue our invoice (once)."""
    inv = lookup(stripe.v1.invoices.retrieve, invoice_id)
    if inv is None or inv.get("status") != "paid":
        return None
    sub_id = _id(inv.get("subscription")) or _id(((inv.get("parent") or {}).get("subscription_details") or {}).get("subscription"))
    if not sub_id:
        return None
    row = sync_subscription(db, stripe, policy, sub_id)
    if row is None or inv.get("billing_reason") == "subscription_create":
        return row  # the first payment is the checkout's own order
    order = db.get(Order, row.order_id)
    paid = inv.get("amount_paid") or 0
    if paid <= 0:
        return row
    tax, total = split(paid, TaxRule(order.tax_rate_bp, True, order.tax_label))
    ledger.post_sale(db, order, platform_share_percent=policy.platform_share_percent, hold_days=0,
                     paid_at=utcnow(), key_prefix=f"renewal:{invoice_id}",
                     amounts=[("renewal", None, None, total, tax)])
    invoices.issue(db, order, policy.seller, source_key=f"stripe-invoice:{invoice_id}", lines=[{
        "description": f"All-access subscription ({order.plan}) renewal", "list_cents": paid, "discount_cents": 0,
        "tax_cents": tax, "total_cents": total}])
    return row


def _id(value) -> str | None:
    return value["id"] if isinstance(value, dict) else value


# -- erasing an account ----------------------------------------------------------------------
def stop_payments_of(db: Session, user: User, stripe) -> list[str]:
    """No more money from ``user``, whose account is being erased: cancel live subscriptions at
    once (not at period end), close open checkouts and forget the billing details entered at
    checkout. Returns the cancelled Stripe ids.

    Without ``stripe`` a live subscription is refused (``Conflict``): erasing the account would
    leave Stripe charging a person the platform no longer knows."""
    live = list(db.scalars(select(Subscription).where(
        Subscription.user_id == user.id, Subscription.status.in_(subscriptions.ACTIVE_SUBSCRIPTION))))
    if live and stripe is None:
        raise Conflict(f"{user.hub_name} has a live all-access subscription and Stripe is not configured "
                       "where the account is being deleted, so it cannot be cancelled; configure "
                       "LMS_STRIPE_SECRET_KEY there or cancel it in Stripe first")
    cancelled = []
    for sub in live:
        try:
            call(stripe.v1.subscriptions.cancel, sub.stripe_subscription_id, {},
                 {"idempotency_key": f"lms-delete-account-{sub.id}"})
        except PaymentsRejected as exc:
            if exc.details.get("stripe_status") != 404:
                raise
        sub.status, sub.canceled_at = "canceled", utcnow()
        cancelled.append(sub.stripe_subscription_id)
    open_orders = list(db.scalars(select(Order).where(
        Order.user_id == user.id, Order.status.in_(("pending", "awaiting_payment")))))
    for order in open_orders:
        if stripe is not None and order.status == "pending" and order.stripe_session_id:
            try:
                call(stripe.v1.checkout.sessions.expire, order.stripe_session_id)
            except PaymentsRejected:
                pass  # already completed or expired: the webhook settles it
        if order.status == "pending":
            close_unpaid(db, order, "expired")
    # the billing name, address and VAT ID go with the person (the invoices keep the country)
    db.execute(update(Order).where(Order.user_id == user.id).values(
        billing_name="", billing_street="", billing_postal_code="", billing_city="", billing_vat_id="")
        .execution_options(synchronize_session=False))
    db.flush()
    return cancelled
