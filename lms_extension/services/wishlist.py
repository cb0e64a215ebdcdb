"""Wishlists, and the events a wishlisted course's price drop or coupon leaves for notifications.

``record_price_change`` and ``record_coupon`` are the hooks other areas call (course import
and price edits; the commerce area when it creates a coupon). They store one event row per
user who wishlisted the course; delivering them is the notifications area's job.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Course, Enrollment, User
from ..models.base import utcnow
from ..models.discovery import WishlistEvent, WishlistItem
from . import catalog, notifications

MAX_WISHLIST = 500


def add(session: Session, user: User, slug: str) -> tuple[WishlistItem, bool]:
    """Wishlist a published course. Returns (item, created); adding twice is harmless."""
    course = catalog.get_course(session, slug, viewer=user)
    existing = _find(session, user, course.id)
    if existing is not None:
        return existing, False
    count = len(session.scalars(select(WishlistItem.id).where(WishlistItem.user_id == user.id)).all())
    if count >= MAX_WISHLIST:
        raise InvalidInput(f"a wishlist holds at most {MAX_WISHLIST} courses")
    item = WishlistItem(user_id=user.id, course_id=course.id)
    try:
        with session.begin_nested():
            session.add(item)
    except IntegrityError:  # added concurrently
        return _find(session, user, course.id), False
    return item, True


def remove(session: Session, user: User, slug: str) -> bool:
    course = catalog.get_course(session, slug, viewer=user)
    result = session.execute(delete(WishlistItem).where(WishlistItem.user_id == user.id,
                                                        WishlistItem.course_id == course.id))
    return result.rowcount > 0


def drop_enrolled(session: Session, user_id: int, course_id: int) -> bool:
    """The user now has the course (bought, in a bundle, free, by subscription): it leaves their
    wishlist. Called by ``enrollments.grant``; True when an item was removed."""
    result = session.execute(delete(WishlistItem).where(WishlistItem.user_id == user_id,
                                                        WishlistItem.course_id == course_id))
    return result.rowcount > 0


def _find(session: Session, user: User, course_id: int) -> WishlistItem | None:
    return session.scalars(select(WishlistItem).where(WishlistItem.user_id == user.id,
                                                      WishlistItem.course_id == course_id)).one_or_none()


def wishlisted_ids(session: Session, user: User | None, course_ids: list[int]) -> set[int]:
    if user is None or not course_ids:
        return set()
    return set(session.scalars(select(WishlistItem.course_id).where(
        WishlistItem.user_id == user.id, WishlistItem.course_id.in_(course_ids))))


def items(session: Session, user: User) -> list[catalog.CourseCard]:
    """The user's wishlist as catalog cards, newest first (two queries); courses the user has
    meanwhile (wished before ``drop_enrolled`` existed) are not shown."""
    owned = select(Enrollment.id).where(Enrollment.user_id == user.id, Enrollment.course_id == WishlistItem.course_id)
    ids = list(session.scalars(
        select(WishlistItem.course_id).where(WishlistItem.user_id == user.id, ~owned.exists())
        .order_by(WishlistItem.created_at.desc(), WishlistItem.id.desc())))
    return catalog.cards_by_ids(session, ids)


def record_price_change(session: Session, course: Course, old_cents: int | None, new_cents: int) -> int:
    """A course's price changed: a ``price_drop`` event per wishlisting user if it got cheaper.

    Returns the number of events stored.
    """
    if old_cents is None or new_cents >= old_cents or course.id is None:
        return 0
    return _fan_out(session, course.id, kind="price_drop", old_price_cents=old_cents, new_price_cents=new_cents)


def record_coupon(session: Session, course_id: int, coupon_code: str, *, percent_off: int | None = None,
                  amount_off_cents: int | None = None, expires_at: datetime | None = None) -> int:
    """A coupon now applies to a course: a ``coupon`` event per wishlisting user.

    Called by the commerce area when it creates a coupon. Returns the number of events stored.
    """
    if not coupon_code or len(coupon_code) > 64:
        raise InvalidInput("coupon_code must be 1 to 64 characters")
    if percent_off is not None and not 0 < percent_off <= 100:
        raise InvalidInput("percent_off must be between 1 and 100")
    return _fan_out(session, course_id, kind="coupon", coupon_code=coupon_code, percent_off=percent_off,
                    amount_off_cents=amount_off_cents, expires_at=expires_at)


def _fan_out(session: Session, course_id: int, **values) -> int:
    now = utcnow()
    columns = ["user_id", "course_id", "created_at", *values]
    source = select(WishlistItem.user_id, literal(course_id), literal(now),
                    *[literal(v, type_=WishlistEvent.__table__.c[k].type) for k, v in values.items()]) \
        .where(WishlistItem.course_id == course_id)
    created = session.execute(insert(WishlistEvent).from_select(columns, source).returning(WishlistEvent.id))
    return len(created.all())


def pending_events(session: Session, user: User | None = None, limit: int = 100) -> list[WishlistEvent]:
    """Events not delivered yet (oldest first), for the notifications area."""
    stmt = select(WishlistEvent).where(WishlistEvent.delivered_at.is_(None))
    if user is not None:
        stmt = stmt.where(WishlistEvent.user_id == user.id)
    return list(session.scalars(stmt.order_by(WishlistEvent.id).limit(limit)))


def _amount(cents: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "\u20ac", "gbp": "\u00a3"}.get(currency.lower())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def deliver_events(session: Session, limit: int = 500) -> int:
    """Hand stored price-drop and coupon events to notifications (``lms worker``'s
    ``wishlist_delivery`` job); each is delivered once (its id is the notice's dedupe key). A
    course the user has meanwhile (bought, enrolled) is not advertised to them."""
    events = session.execute(
        select(WishlistEvent, Course).join(Course, Course.id == WishlistEvent.course_id)
        .where(WishlistEvent.delivered_at.is_(None)).order_by(WishlistEvent.id).limit(limit)).all()
    now = utcnow()
    for event, course in events:
        has_it = session.scalar(select(Enrollment.user_id).where(Enrollment.user_id == event.user_id,
                                                                  Enrollment.course_id == course.id))
        if has_it is None:
            if event.kind == "price_drop":
                notifications.notify(
                    session, user_ids=[event.user_id], kind="wishlist_price_drop", url=f"courses/{course.slug}",
                    title=f"{course.title} is now {_amount(event.new_price_cents or 0, course.currency)}",
                    body=f"A course on your wishlist got cheaper: "
                         f"{_amount(event.old_price_cents or 0, course.currency)} \u2192 "
                         f"{_amount(event.new_price_cents or 0, course.currency)}.",
                    dedupe_key=f"wishlist-event:{event.id}")
            else:
                off = (f"{event.percent_off}% off" if event.percent_off
                       else f"{_amount(event.amount_off_cents or 0, course.currency)} off")
                until = f" until {event.expires_at:%Y-%m-%d}" if event.expires_at else ""
                notifications.notify(
                    session, user_ids=[event.user_id], kind="coupon", url=f"courses/{course.slug}",
                    title=f"{off} {course.title} with {event.coupon_code}",
                    body=f"A coupon for a course on your wishlist: {event.coupon_code}, {off}{until}.",
                    dedupe_key=f"wishlist-event:{event.id}")
        session.execute(update(WishlistEvent).where(WishlistEvent.id == event.id).values(delivered_at=now))
    return len(events)
