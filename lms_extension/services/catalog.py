"""The public catalog: listing, filtering and sorting published courses."""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..errors import InvalidInput, NotFound
from ..models import Course, Instructor, Lesson, User
from ..models.course import LEVELS

SORTS = {
    "newest": (Course.created_at.desc(), Course.id.desc()),
    "title": (Course.title.asc(), Course.id.asc()),
    "price_asc": (Course.price_cents.asc(), Course.id.asc()),
    "price_desc": (Course.price_cents.desc(), Course.id.desc()),
}
MAX_PAGE = 100


@dataclass(frozen=True)
class CatalogQuery:
    q: str = ""
    category: str = ""
    level: str = ""
    free: bool | None = None
    sort: str = "newest"
    limit: int = 24
    offset: int = 0

    def validated(self) -> "CatalogQuery":
        if self.sort not in SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
        if self.level and self.level not in LEVELS:
            raise InvalidInput(f"level must be one of {', '.join(LEVELS)}")
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        if self.offset < 0:
            raise InvalidInput("offset must be >= 0")
        if len(self.q) > 200:
            raise InvalidInput("search text is limited to 200 characters")
        return self


@dataclass(frozen=True)
class CourseCard:
    """What a catalog listing shows of a course: plain values, safe to cache and share."""

    id: int
    slug: str
    title: str
    subtitle: str
    price_cents: int
    currency: str
    category: str
    level: str
    language: str
    instructor: str | None
    lesson_count: int

    def public(self) -> dict:
        return {"slug": self.slug, "title": self.title, "subtitle": self.subtitle,
                "price_cents": self.price_cents, "currency": self.currency, "category": self.category,
                "level": self.level, "language": self.language, "instructor": self.instructor}


@dataclass(frozen=True)
class CatalogPage:
    courses: list[CourseCard]
    total: int
    query: CatalogQuery


def _filtered(query: CatalogQuery):
    stmt = select(Course).where(Course.published.is_(True))
    if query.q:
        # issue 7 replaces this with full-text search behind one interface
        like = f"%{query.q.lower().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(func.lower(Course.title).like(like),
                              func.lower(Course.subtitle).like(like),
                              func.lower(Course.description).like(like)))
    if query.category:
        stmt = stmt.where(Course.category == query.category)
    if query.level:
        stmt = stmt.where(Course.level == query.level)
    if query.free is True:
        stmt = stmt.where(Course.price_cents == 0)
    elif query.free is False:
        stmt = stmt.where(Course.price_cents > 0)
    return stmt


def list_courses(session: Session, query: CatalogQuery) -> CatalogPage:
    query = query.validated()
    stmt = _filtered(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(Course.instructor).selectinload(Instructor.user))
        .order_by(*SORTS[query.sort]).limit(query.limit).offset(query.offset)
    ).all()
    counts = lesson_count(session, [c.id for c in rows])
    cards = [CourseCard(
        id=c.id, slug=c.slug, title=c.title, subtitle=c.subtitle, price_cents=c.price_cents,
        currency=c.currency, category=c.category, level=c.level, language=c.language,
        instructor=c.instructor.user.display_name if c.instructor else None,
        lesson_count=counts.get(c.id, 0),
    ) for c in rows]
    return CatalogPage(courses=cards, total=total, query=query)


class CatalogCache:
    """Catalog pages cached per query for a few seconds.

    The catalog is read far more often than it changes; a short TTL bounds how stale a
    replica can be (each replica keeps its own copy until a shared cache replaces this).
    ``clear()`` is called after writes made in this process (imports, publishing).
    """

    def __init__(self, ttl_seconds: float = 5.0, max_entries: int = 2048, clock=time.monotonic):
        self.ttl, self.max_entries, self.clock = ttl_seconds, max_entries, clock
        self._entries: OrderedDict[CatalogQuery, tuple[float, CatalogPage]] = OrderedDict()
        self._categories: tuple[float, list[str]] | None = None

    def list_courses(self, session: Session, query: CatalogQuery) -> CatalogPage:
        query = query.validated()
        now = self.clock()
        hit = self._entries.get(query)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(query)
            return hit[1]
        page = list_courses(session, query)
        self._entries[query] = (now + self.ttl, page)
        self._entries.move_to_end(query)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return page

    def categories(self, session: Session) -> list[str]:
        now = self.clock()
        if self._categories is None or self._categories[0] <= now:
            self._categories = (now + self.ttl, categories(session))
        return self._categories[1]

    def clear(self) -> None:
        self._entries.clear()
        self._categories = None


def categories(session: Session) -> list[str]:
    return list(session.scalars(
        select(Course.category).where(Course.published.is_(True)).distinct().order_by(Course.category)
    ))


def get_course(session: Session, slug: str, *, viewer: User | None = None) -> Course:
    """A published course with its lessons; unpublished ones only for their instructor or admins."""
    course = session.scalars(
        select(Course).where(Course.slug == slug).options(
            selectinload(Course.lessons).selectinload(Lesson.challenges),
            selectinload(Course.instructor).selectinload(Instructor.user),
        )
    ).one_or_none()
    if course is None or not (course.published or _can_edit(viewer, course)):
        raise NotFound(f"no course {slug!r}")
    return course


def _can_edit(viewer: User | None, course: Course) -> bool:
    if viewer is None:
        return False
    return viewer.is_admin or (course.instructor is not None and course.instructor.user_id == viewer.id)


def lesson_count(session: Session, course_ids: list[int]) -> dict[int, int]:
    if not course_ids:
        return {}
    rows = session.execute(
        select(Lesson.course_id, func.count(Lesson.id)).where(Lesson.course_id.in_(course_ids))
        .group_by(Lesson.course_id)
    )
    return dict(rows.all())
