"""Whether a user holds an all-access subscription (read by enrollments, checkout and pages)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models.commerce import Subscription

# states in which Stripe still lets the subscriber in (past_due: Stripe is retrying the card)
ACTIVE_SUBSCRIPTION = ("active", "trialing", "past_due")


def has_all_access(session: Session, user_id: int) -> bool:
    return session.scalars(select(Subscription.id).where(
        Subscription.user_id == user_id, Subscription.status.in_(ACTIVE_SUBSCRIPTION))).first() is not None
