"""Coupons: percent or amount off, for one course or any purchase, with max uses and expiry.

A use is reserved when a checkout starts (one atomic UPDATE guarded by ``times_redeemed <
max_uses``, so concurrent checkouts never exceed the limit on SQLite or PostgreSQL) and given
back when that checkout expires unpaid.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ...errors import Conflict, InvalidInput, NotFound
from ...models.base import utcnow
from ...models.commerce import Coupon, CouponRedemption, Order
from ...models.discovery import WishlistItem
from .. import wishlist

log = logging.getLogger("lms.payments")
CODE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")


def create_coupon(session: Session, code: str, *, percent_off: int | None = None, amount_off_cents: int | None = None,
                  currency: str = "usd", course_id: int | None = None, max_uses: int | None = None,
                  expires_at: datetime | None = None) -> Coupon:
    if not CODE.match(code or ""):
        raise InvalidInput("a coupon code is 2-64 letters, digits, '-' or '_'")
    if (percent_off is None) == (amount_off_cents is None):
        raise InvalidInput("a coupon takes either percent_off or amount_off_cents")
    if percent_off is not None and not 1 <= percent_off <= 100:
        raise InvalidInput("percent_off must be between 1 and 100")
    if amount_off_cents is not None and amount_off_cents <= 0:
        raise InvalidInput("amount_off_cents must be positive")
    if max_uses is not None and max_uses <= 0:
        raise InvalidInput("max_uses must be positive")
    if session.scalars(select(Coupon).where(Coupon.code == code.upper())).first():
        raise Conflict(f"coupon {code.upper()!r} exists")
    coupon = Coupon(code=code.upper(), percent_off=percent_off, amount_off_cents=amount_off_cents,
                    currency=currency.lower(), course_id=course_id, max_uses=max_uses, expires_at=expires_at)
    session.add(coupon)
    session.flush()
    _tell_wishlists(session, coupon)
    return coupon


def _tell_wishlists(session: Session, coupon: Coupon) -> None:
    """A coupon is news for everyone who wishlisted a course it applies to (a stored event;
    notifications deliver it)."""
    course_ids = ([coupon.course_id] if coupon.course_id is not None
                  else session.scalars(select(WishlistItem.course_id).distinct()).all())
    for course_id in course_ids:
        wishlist.record_coupon(session, course_id, coupon.code, percent_off=coupon.percent_off,
                               amount_off_cents=coupon.amount_off_cents, expires_at=coupon.expires_at)


# One answer for every refusal: the price quote is anonymous, and telling "no such code" from
# "used up" or "expired" would let anyone enumerate the codes that exist.
REFUSED = "unknown coupon, or one that cannot be used for this purchase"


def find_valid(session: Session, code: str, *, course_id: int | None, currency: str,
               now: datetime | None = None) -> Coupon:
    """The coupon ``code`` if it applies to this purchase now; ``InvalidInput(REFUSED)`` otherwise,
    whatever the reason (the reason goes to the debug log only)."""
    now = now or utcnow()
    coupon = (session.scalars(select(Coupon).where(Coupon.code == code.strip().upper())).one_or_none()
              if CODE.match((code or "").strip()) else None)
    reason = None
    if coupon is None or not coupon.active:
        reason = "unknown or inactive"
    elif coupon.expires_at is not None and _aware(coupon.expires_at) <= now:
        reason = "expired"
    elif coupon.course_id is not None and coupon.course_id != course_id:
        reason = "for another course"
    elif coupon.amount_off_cents is not None and coupon.currency != currency:
        reason = f"in {coupon.currency.upper()}, the price in {currency.upper()}"
    elif coupon.max_uses is not None and coupon.times_redeemed >= coupon.max_uses:
        reason = "used up"
    if reason:
        log.debug("coupon %r refused: %s", code[:64], reason)
        raise InvalidInput(REFUSED)
    return coupon


def discount_for(coupon: Coupon | None, amount_cents: int) -> int:
    if coupon is None:
        return 0
    if coupon.percent_off is not None:
        return min(amount_cents, (amount_cents * coupon.percent_off + 50) // 100)
    return min(amount_cents, coupon.amount_off_cents or 0)


def reserve(session: Session, coupon: Coupon, order: Order) -> None:
    """Take one use of ``coupon`` for ``order``; ``InvalidInput`` when none is left."""
    result = session.execute(
        update(Coupon).where(Coupon.id == coupon.id, Coupon.active.is_(True),
                             or_(Coupon.max_uses.is_(None), Coupon.times_redeemed < Coupon.max_uses))
        .values(times_redeemed=Coupon.times_redeemed + 1).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise InvalidInput(REFUSED)
    session.add(CouponRedemption(coupon_id=coupon.id, order_id=order.id, user_id=order.user_id))
    session.flush()


def release(session: Session, order: Order) -> None:
    """Give the use back when ``order`` never gets paid (once)."""
    redemption = session.scalars(select(CouponRedemption).where(CouponRedemption.order_id == order.id,
                                                                CouponRedemption.released.is_(False))).one_or_none()
    if redemption is None:
        return
    done = session.execute(update(CouponRedemption).where(CouponRedemption.id == redemption.id,
                                                          CouponRedemption.released.is_(False))
                           .values(released=True).execution_options(synchronize_session=False))
    if done.rowcount == 1:
        session.execute(update(Coupon).where(Coupon.id == redemption.coupon_id, Coupon.times_redeemed > 0)
                        .values(times_redeemed=Coupon.times_redeemed - 1).execution_options(synchronize_session=False))


def reclaim(session: Session, order: Order) -> None:
    """Count the use again for an order paid after its reservation was given back (a replaced
    or expired checkout whose Stripe session was paid in the last moment): the sale stands."""
    done = session.execute(update(CouponRedemption).where(CouponRedemption.order_id == order.id,
                                                          CouponRedemption.released.is_(True))
                           .values(released=False).execution_options(synchronize_session=False))
    if done.rowcount == 1:
        session.execute(update(Coupon).where(Coupon.id == order.coupon_id)
                        .values(times_redeemed=Coupon.times_redeemed + 1).execution_options(synchronize_session=False))


def get(session: Session, code: str) -> Coupon:
    coupon = session.scalars(select(Coupon).where(Coupon.code == code.upper())).one_or_none()
    if coupon is None:
        raise NotFound(f"no coupon {code!r}")
    return coupon


def _aware(moment: datetime) -> datetime:
    from datetime import timezone

    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
