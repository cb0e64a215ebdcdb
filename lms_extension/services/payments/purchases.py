"""What a buyer sees of their orders: the Purchases page and the checkout's "already yours"."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import Enrollment, User
from ...models.commerce import Invoice, RefundRequest, Subscription
from . import checkout, refunds, subscriptions
from .policy import CommercePolicy


def already_owned(session: Session, user: User, quote: checkout.Quote) -> bool:
    """True when the buyer already has everything ``quote`` would sell."""
    if quote.kind == "subscription":
        return subscriptions.has_all_access(session, user.id)
    if not quote.course_ids:
        return False
    enrolled = set(session.scalars(select(Enrollment.course_id).where(
        Enrollment.user_id == user.id, Enrollment.course_id.in_(quote.course_ids))))
    return set(quote.course_ids) <= enrolled


def purchase_rows(session: Session, policy: CommercePolicy, user: User) -> list[dict]:
    """The user's orders with their invoices, subscription and refund state (one query per
    kind of row, however many orders)."""
    orders = checkout.orders_for(session, user)
    ids = [o.id for o in orders]
    invoices, requests = defaultdict(list), defaultdict(list)
    for invoice in session.scalars(select(Invoice).where(Invoice.order_id.in_(ids)).order_by(Invoice.id)):
        invoices[invoice.order_id].append(invoice)
    for request in session.scalars(select(RefundRequest).where(RefundRequest.order_id.in_(ids))):
        requests[request.order_id].append(request)
    subscriptions = {s.order_id: s for s in session.scalars(select(Subscription).where(Subscription.order_id.in_(ids)))}
    rows = []
    for order in orders:
        pending_request = any(r.status == "pending" for r in requests[order.id])
        rows.append({"order": order, "invoices": invoices[order.id],
                     "subscription": subscriptions.get(order.id) if order.kind == "subscription" else None,
                     "refundable": refunds.eligibility(session, policy, order) is None and not pending_request,
                     "pending_request": pending_request})
    return rows
