"""Course access bought with money: grants per (order, course), all-access subscriptions.

An ``AccessGrant`` row is unique per (order, course), so fulfilling an order twice grants
nothing the second time; the ``Enrollment`` it creates is what the rest of the LMS reads.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...models import Enrollment
from ...models.base import utcnow
from ...models.commerce import AccessGrant, Bundle, Order, Subscription

log = logging.getLogger("lms.payments")
PAID_SOURCES = ("purchase", "bundle", "subscription")
ACTIVE_SUBSCRIPTION = ("active", "trialing", "past_due")


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
        _ensure_enrollment(session, order.user_id, course_id, source)
    return granted


def _ensure_enrollment(session: Session, user_id: int, course_id: int, source: str) -> None:
    exists = session.scalars(select(Enrollment).where(Enrollment.user_id == user_id,
                                                      Enrollment.course_id == course_id)).one_or_none()
    if exists is not None:
        return
    try:
        with session.begin_nested():
            session.add(Enrollment(user_id=user_id, course_id=course_id, source=source))
    except IntegrityError:
        pass


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
        session.execute(delete(Enrollment).where(Enrollment.user_id == order.user_id,
                                                 Enrollment.course_id == grant.course_id,
                                                 Enrollment.source.in_(PAID_SOURCES)))
        _revoke_certificates(session, order.user_id, grant.course_id, reason)
        revoked.append(grant.course_id)
    return revoked


def _still_entitled(session: Session, user_id: int, course_id: int) -> bool:
    other = session.scalars(select(AccessGrant.id).where(AccessGrant.user_id == user_id,
                                                         AccessGrant.course_id == course_id,
                                                         AccessGrant.revoked_at.is_(None))).first()
    return other is not None or has_all_access(session, user_id)


def _revoke_certificates(session: Session, user_id: int, course_id: int, reason: str) -> None:
    """Issue 6 provides ``certificates.revoke_for_course``; until it lands there is nothing to revoke."""
    try:
        from .. import certificates
    except ImportError:
        return
    if hasattr(certificates, "revoke_for_course"):
        certificates.revoke_for_course(session, user_id, course_id, reason)


def has_all_access(session: Session, user_id: int, now: datetime | None = None) -> bool:
    return session.scalars(select(Subscription.id).where(
        Subscription.user_id == user_id, Subscription.status.in_(ACTIVE_SUBSCRIPTION))).first() is not None


def end_subscription_access(session: Session, user_id: int, reason: str) -> None:
    """Subscription over: drop the enrollments it gave unless a purchase still grants the course."""
    if has_all_access(session, user_id):
        return
    rows = list(session.scalars(select(Enrollment).where(Enrollment.user_id == user_id,
                                                         Enrollment.source == "subscription")))
    for enrollment in rows:
        if _still_entitled(session, user_id, enrollment.course_id):
            continue
        session.delete(enrollment)  # certificates earned while subscribed stay
    session.flush()
