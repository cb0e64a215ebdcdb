"""Bundles: several published paid courses sold together at one price."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ... import permissions
from ...errors import Conflict, InvalidInput, NotFound
from ...models import Course, User
from ...models.course import SLUG
from ...models.commerce import Bundle, Order
from .. import audit


def create_bundle(session: Session, admin: User, *, slug: str, title: str, price_cents: int, currency: str,
                  course_slugs: list[str]) -> Bundle:
    permissions.require_admin(admin, "only admins create bundles")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise InvalidInput("slug: lowercase letters, digits and '-'")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise InvalidInput("title: 1-200 characters")
    if not isinstance(price_cents, int) or isinstance(price_cents, bool) or price_cents <= 0:
        raise InvalidInput("price_cents must be a positive whole number of cents")
    if not isinstance(course_slugs, list) or len(course_slugs) < 2 or not all(isinstance(c, str) for c in course_slugs):
        raise InvalidInput("a bundle has at least two courses")
    courses = []
    for c in dict.fromkeys(course_slugs):
        course = session.scalars(select(Course).where(Course.slug == c)).one_or_none() if SLUG.match(c) else None
        if course is None or not course.published:
            raise NotFound(f"no course {c!r}")
        if course.currency != currency.lower():
            raise InvalidInput(f"{c} is priced in {course.currency.upper()}, the bundle in {currency.upper()}")
        courses.append(course)
    if session.scalars(select(Bundle.id).where(Bundle.slug == slug)).first() is not None:
        raise Conflict(f"bundle {slug!r} exists")
    bundle = Bundle(slug=slug, title=title.strip(), price_cents=price_cents, currency=currency.lower())
    bundle.courses = courses
    session.add(bundle)
    session.flush()
    audit.record(session, admin, "bundle.create", "bundle", bundle.slug,
                 after={"title": bundle.title, "price_cents": bundle.price_cents, "currency": bundle.currency,
                        "courses": [c.slug for c in courses]},
                 summary=f"Bundle {bundle.title} ({len(courses)} courses)")
    return bundle


def listing(session: Session) -> list[Bundle]:
    """Every bundle, active ones first."""
    return list(session.scalars(select(Bundle).order_by(Bundle.active.desc(), Bundle.id.desc())))


def sales(session: Session, bundle_ids: list[int]) -> dict[int, int]:
    """Bundle id -> paid orders."""
    if not bundle_ids:
        return {}
    rows = session.execute(select(Order.bundle_id, func.count(Order.id))
                           .where(Order.bundle_id.in_(bundle_ids), Order.status == "paid").group_by(Order.bundle_id))
    return {bid: int(n) for bid, n in rows}


def set_active(session: Session, admin: User, bundle_id: int, active: bool) -> Bundle:
    """Take a bundle off sale (or back on); buyers keep their courses. Admins only; audited."""
    permissions.require_admin(admin, "only admins change bundles")
    bundle = session.get(Bundle, bundle_id) if isinstance(bundle_id, int) else None
    if bundle is None:
        raise NotFound("that bundle does not exist")
    if bundle.active == active:
        raise Conflict(f"bundle {bundle.title} is already {'on sale' if active else 'off sale'}")
    bundle.active = active
    session.flush()
    audit.record(session, admin, "bundle.activate" if active else "bundle.deactivate", "bundle", bundle.slug,
                 before={"active": not active}, after={"active": active},
                 summary=f"Bundle {bundle.title} {'back on sale' if active else 'taken off sale'}")
    return bundle
