"""Coupons: percent or amount off, for one course or any purchase, with max uses and expiry.

A use is reserved when a checkout starts (one atomic UPDATE guarded by ``times_redeemed <
max_uses``, so concurrent checkouts never exceed the limit on SQLite or PostgreSQL) and given
back when that checkout expires unpaid.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ... import permissions
from ...errors import Conflict, InvalidInput, NotFound
from ...models import Course, User
from ...models.base import utcnow
from ...models.commerce import Coupon, CouponRedemption, Order
from ...models.discovery import WishlistItem
from .. import audit, wishlist

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


# --------------------------------------------------------------------------- the console and the studio
MAX_USES_LIMIT = 1_000_000


def _snapshot(coupon: Coupon) -> dict:
    return {"code": coupon.code, "percent_off": coupon.percent_off, "amount_off_cents": coupon.amount_off_cents,
            "currency": coupon.currency, "course_id": coupon.course_id, "max_uses": coupon.max_uses,
            "expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None, "active": coupon.active}


def _check_terms(max_uses: int | None, expires_at: datetime | None, now: datetime | None) -> None:
    if max_uses is not None and max_uses > MAX_USES_LIMIT:
        raise InvalidInput(f"a coupon can be used at most {MAX_USES_LIMIT:,} times")
    if expires_at is not None and _aware(expires_at) <= (now or utcnow()):
        raise InvalidInput("the expiry date is already past")


def create_for_course(session: Session, actor: User, course: Course, code: str, *, percent_off: int | None = None,
                      amount_off_cents: int | None = None, max_uses: int | None = None,
                      expires_at: datetime | None = None, now: datetime | None = None) -> Coupon:
    """An instructor's coupon: it applies to ``course`` only (checkout refuses it for any other
    course, bundle or plan), in the course's currency. Audited."""
    permissions.require_teacher(actor, course, "only the course's instructor or an admin can make its coupons")
    _check_terms(max_uses, expires_at, now)
    coupon = create_coupon(session, code, percent_off=percent_off, amount_off_cents=amount_off_cents,
                           currency=course.currency, course_id=course.id, max_uses=max_uses, expires_at=expires_at)
    audit.record(session, actor, "coupon.create", "coupon", coupon.code, after=_snapshot(coupon),
                 summary=f"Coupon {coupon.code} for {course.title}")
    return coupon


def create_by_admin(session: Session, admin: User, code: str, *, percent_off: int | None = None,
                    amount_off_cents: int | None = None, currency: str = "usd", course: Course | None = None,
                    max_uses: int | None = None, expires_at: datetime | None = None,
                    now: datetime | None = None) -> Coupon:
    """A platform coupon (any purchase, or one course). Admins only; audited."""
    permissions.require_admin(admin, "only admins create platform coupons")
    _check_terms(max_uses, expires_at, now)
    coupon = create_coupon(session, code, percent_off=percent_off, amount_off_cents=amount_off_cents,
                           currency=course.currency if course is not None else currency,
                           course_id=course.id if course is not None else None, max_uses=max_uses, expires_at=expires_at)
    audit.record(session, admin, "coupon.create", "coupon", coupon.code, after=_snapshot(coupon),
                 summary=f"Coupon {coupon.code}" + (f" for {course.title}" if course is not None else " for any purchase"))
    return coupon


def deactivate(session: Session, actor: User, coupon_id: int, *, course: Course | None = None) -> Coupon:
    """Stop a coupon (orders already paid keep their discount). With ``course``, only that
    course's coupons, by its instructor or an admin; without, admins only. Audited."""
    coupon = session.get(Coupon, coupon_id) if isinstance(coupon_id, int) else None
    if course is not None:
        permissions.require_teacher(actor, course, "only the course's instructor or an admin can stop its coupons")
        if coupon is not None and coupon.course_id != course.id:
            coupon = None
    else:
        permissions.require_admin(actor, "only admins stop platform coupons")
    if coupon is None:
        raise NotFound("that coupon does not exist")
    if not coupon.active:
        raise Conflict(f"coupon {coupon.code} is already inactive")
    before = _snapshot(coupon)
    coupon.active = False
    session.flush()
    audit.record(session, actor, "coupon.deactivate", "coupon", coupon.code,
                 before={"active": before["active"]}, after={"active": False}, summary=f"Coupon {coupon.code} stopped")
    return coupon


def for_course(session: Session, course_id: int) -> list[Coupon]:
    return list(session.scalars(select(Coupon).where(Coupon.course_id == course_id)
                                .order_by(Coupon.active.desc(), Coupon.id.desc())))


def listing(session: Session, limit: int = 500) -> list[Coupon]:
    """Every coupon, active ones first, newest first."""
    return list(session.scalars(select(Coupon).order_by(Coupon.active.desc(), Coupon.id.desc()).limit(limit)))


def paid_uses(session: Session, coupon_ids: list[int]) -> dict[int, int]:
    """Coupon id -> paid orders that used it (``times_redeemed`` also counts open checkouts)."""
    if not coupon_ids:
        return {}
    rows = session.execute(select(Order.coupon_id, func.count(Order.id))
                           .where(Order.coupon_id.in_(coupon_ids), Order.status == "paid").group_by(Order.coupon_id))
    return {cid: int(n) for cid, n in rows}


def course_titles(session: Session, items: list[Coupon]) -> dict[int, str]:
    """Course id -> title of the courses these coupons are restricted to."""
    ids = {c.course_id for c in items if c.course_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Course.id, Course.title).where(Course.id.in_(ids))).all())
