"""Bundles and coupons declared in a file, so a fresh demo shop starts with offers to try.

``courses/offers.toml``::

    [[bundles]]
    slug = "data-science-track"
    title = "Data Science Track"
    price_cents = 11900
    currency = "usd"
    courses = ["statistics-with-python", "data-analysis-with-pandas"]

    [[coupons]]
    code = "WELCOME20"
    percent_off = 20            # or amount_off_cents = 500 (with currency)
    max_uses = 1000             # optional
    course = "numpy-essentials" # optional: only for this course

``lms run`` in demo mode applies it after importing the courses. Offers that already exist
(same bundle slug or coupon code) are left as they are: an admin may have changed them since.
Bundles and coupons are created through their owners (``bundles``, ``coupons``).
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import InvalidInput, LMSError
from ...models import Course
from ...models.commerce import Bundle, Coupon
from ..users import ensure_user, update_profile
from . import bundles, coupons

BUNDLE_KEYS = {"slug", "title", "price_cents", "currency", "courses"}
COUPON_KEYS = {"code", "percent_off", "amount_off_cents", "currency", "max_uses", "course"}
INSTRUCTOR_KEYS = {"name", "display_name", "headline", "bio"}


def load(path: Path | str) -> dict:
    """The offers of a file, checked for shape (values are checked when they are created)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read offers ({exc})") from exc
    unknown = set(data) - {"bundles", "coupons", "instructors"}
    if unknown:
        raise InvalidInput(f"{path}: unknown keys {sorted(unknown)}")
    for kind, keys in (("bundles", BUNDLE_KEYS), ("coupons", COUPON_KEYS), ("instructors", INSTRUCTOR_KEYS)):
        entries = data.get(kind, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InvalidInput(f"{path}: {kind} must be [[{kind}]] tables")
        for index, entry in enumerate(entries, 1):
            extra = set(entry) - keys
            if extra:
                raise InvalidInput(f"{path}: {kind} {index}: unknown keys {sorted(extra)}")
            for key in ("price_cents", "percent_off", "amount_off_cents", "max_uses"):
                value = entry.get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise InvalidInput(f"{path}: {kind} {index}: {key} must be a whole number")
            for key in ("slug", "title", "code", "currency", "course", "name", "display_name", "headline", "bio"):
                if key in entry and not isinstance(entry[key], str):
                    raise InvalidInput(f"{path}: {kind} {index}: {key} must be a string")
    return {"bundles": data.get("bundles", []), "coupons": data.get("coupons", []),
            "instructors": data.get("instructors", [])}


def apply(session: Session, offers: dict, *, admin_name: str = "admin") -> list[str]:
    """Create the offers that do not exist yet; returns what was created (``bundle x``, ``coupon Y``)."""
    created = []
    admin = None
    for entry in offers.get("bundles", []):
        slug = entry.get("slug")
        if session.scalars(select(Bundle.id).where(Bundle.slug == slug)).first() is not None:
            continue
        admin = admin or ensure_user(session, admin_name, admin=True)
        try:
            bundles.create_bundle(session, admin, slug=slug, title=entry.get("title"),
                                  price_cents=entry.get("price_cents"), currency=entry.get("currency", "usd"),
                                  course_slugs=entry.get("courses"))
        except LMSError as exc:
            raise InvalidInput(f"bundle {slug!r}: {exc.message}") from exc
        created.append(f"bundle {slug}")
    for entry in offers.get("coupons", []):
        code = str(entry.get("code", ""))
        if session.scalars(select(Coupon.id).where(Coupon.code == code.upper())).first() is not None:
            continue
        course_id = None
        if entry.get("course") is not None:
            course_id = session.scalars(select(Course.id).where(Course.slug == entry["course"])).first()
            if course_id is None:
                raise InvalidInput(f"coupon {code!r}: no course {entry['course']!r}")
        try:
            coupons.create_coupon(session, code, percent_off=entry.get("percent_off"),
                                  amount_off_cents=entry.get("amount_off_cents"),
                                  currency=entry.get("currency", "usd"), course_id=course_id,
                                  max_uses=entry.get("max_uses"))
        except LMSError as exc:
            raise InvalidInput(f"coupon {code!r}: {exc.message}") from exc
        created.append(f"coupon {code.upper()}")
    for entry in offers.get("instructors", []):
        # the demo's teachers get a face on the storefront, once: a profile they (or an admin)
        # changed stays as it is
        user = ensure_user(session, str(entry.get("name", "")), instructor=True)
        if user.display_name != user.hub_name:
            continue
        try:
            update_profile(session, user, display_name=entry.get("display_name"), headline=entry.get("headline"),
                           bio=entry.get("bio"))
        except LMSError as exc:
            raise InvalidInput(f"instructor {user.hub_name!r}: {exc.message}") from exc
        created.append(f"profile of {user.hub_name}")
    return created
