"""The one call areas that change courses make so discovery keeps up (search index, wishlists)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Course
from . import search, wishlist


def course_published(session: Session, course: Course, old_price_cents: int | None) -> None:
    """After a course was imported, published or edited (in the same transaction)."""
    search.index_course(session, course)
    wishlist.record_price_change(session, course, old_price_cents, course.price_cents)
