"""Course access bought with money: grants per (order, course), all-access subscriptions.

An ``AccessGrant`` row is unique per (order, course), so fulfilling an order twice grants
nothing the second time; the enrollment it asks ``enrollments`` for is what the rest of the
LMS reads.
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...models.base import utcnow
from ...models.commerce import AccessGrant, Bundle, Order
from .. import certificates, enrollments
from .subscriptions import has_all_access

log = logging.getLogger("lms.payments")
PAID_SOURCES = ("purchase", "bundle", "subscription")


def courses_of(session: Session, order: Order) -> list[int]:
    if order.kind == "course" and order.course_id:
        return [order.course_id]
    if order.kind == "bundle" and order.bundle_id:
        bundle = session.get(Bundle, order.bundle_id)
        return [c.id for c in bundle.courses] if bundle else []
    return []


def grant_order(session: Session, order: Order) -> list[int]:
    """Give ``order``'s buyer its courses; returns the course ids newly granted."""
    granted = []
    source = "bundle" if order.kind == "bundle" else "purchase"
    for course_id in courses_of(session, order):
        try:
            with session.begin_nested():
                session.add(AccessGrant(order_id=order.id, user_id=order.user_id, course_id=course_id))
        except IntegrityError:
            continue  # granted by an earlier delivery of the same payment
        granted.append(course_id)
        enrollments.grant(session, order.user_id, course_id, source)
    return granted


def revoke_order(session: Session, order: Order, reason: str) -> list[int]:
    """Take back the courses ``order`` gave (and their certificates) unless something else still grants them."""
    now = utcnow()
    grants = list(session.scalars(select(AccessGrant).where(AccessGrant.order_id == order.id,
                                                            AccessGrant.revoked_at.is_(None))))
    revoked = []
    for grant in grants:
        grant.revoked_at = now
        session.flush()
        if _still_entitled(session, order.user_id, grant.course_id):
            continue
        enrollments.revoke(session, order.user_id, grant.course_id, PAID_SOURCES)
        certificates.revoke_for_course(session, order.user_id, grant.course_id, reason)
        revoked.append(grant.course_id)
    return revoked


def ended_purchases(session: Session, user_id: int, course_ids: list[int]) -> dict[int, tuple[str, object]]:
    """course id -> (order status, when) of the user's purchases of these courses whose access was
    taken back (refunded, disputed), for telling the student why a course's lessons are locked."""
    if not course_ids:
        return {}
    rows = session.execute(select(AccessGrant.course_id, Order.status, AccessGrant.revoked_at)
                           .join(Order, Order.id == AccessGrant.order_id)
                           .where(AccessGrant.user_id == user_id, AccessGrant.course_id.in_(course_ids),
                                  AccessGrant.revoked_at.is_not(None))
                           .order_by(AccessGrant.revoked_at))
    return {course_id: (status, when) for course_id, status, when in rows}


def _still_entitled(session: Session, user_id: int, course_id: int) -> bool:
    other = session.scalars(select(AccessGrant.id).where(AccessGrant.user_id == user_id,
                                                         AccessGrant.course_id == course_id,
                                                         AccessGrant.revoked_at.is_(None))).first()
    return other is not None or has_all_access(session, user_id)


def end_subscription_access(session: Session, user_id: int, reason: str) -> None:
    """Subscription over: drop the enrollments it gave unless a purchase still grants the course."""
    if has_all_access(session, user_id):
        return
    for course_id in enrollments.course_ids_by_source(session, user_id, "subscription"):
        if _still_entitled(session, user_id, course_id):
            continue
        enrollments.revoke(session, user_id, course_id, ("subscription",))  # certificates earned while subscribed stay
    session.flush()
