"""The public catalog: listing, filtering and sorting published courses."""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import permissions
from ..errors import InvalidInput, NotFound
from ..models import Course, Enrollment, Instructor, Lesson, User
from ..models.course import LEVELS, CourseCover
from ..models.discovery import CourseStats
from . import search

SORTS = {
    # relevance without search text is the newest first
    "relevance": (Course.created_at.desc(), Course.id.desc()),
    "newest": (Course.created_at.desc(), Course.id.desc()),
    "title": (Course.title.asc(), Course.id.asc()),
    "price_asc": (Course.price_cents.asc(), Course.id.asc()),
    "price_desc": (Course.price_cents.desc(), Course.id.desc()),
    "rating": (func.coalesce(CourseStats.rating_avg, 0.0).desc(), func.coalesce(CourseStats.rating_count, 0).desc(),
               Course.id.asc()),
    "popularity": (func.coalesce(CourseStats.enrollment_count, 0).desc(), Course.id.asc()),
}
MAX_PAGE = 100


@dataclass(frozen=True)
class CatalogQuery:
    q: str = ""
    category: str = ""
    level: str = ""
    free: bool | None = None
    language: str = ""
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    min_rating: float | None = None
    sort: str = "relevance"
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
        for name in ("min_price_cents", "max_price_cents"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 100_000_000:
                raise InvalidInput(f"{name} must be between 0 and 100000000")
        if (self.min_price_cents is not None and self.max_price_cents is not None
                and self.min_price_cents > self.max_price_cents):
            raise InvalidInput("min_price_cents is above max_price_cents")
        if self.min_rating is not None and not 0 <= self.min_rating <= 5:
            raise InvalidInput("min_rating must be between 0 and 5")
        if len(self.language) > 10 or len(self.category) > 100:
            raise InvalidInput("language or category is too long")
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
    rating_avg: float = 0.0
    rating_count: int = 0
    minutes: int = 0  # the lessons' estimated study time
    cover_version: str = ""  # an uploaded cover (covers.py), "" for the generated one
    cover_widths: str = ""
    instructor_hub_name: str | None = None  # for the link to /instructors/<name>

    def public(self) -> dict:
        return {"slug": self.slug, "title": self.title, "subtitle": self.subtitle,
                "price_cents": self.price_cents, "currency": self.currency, "category": self.category,
                "level": self.level, "language": self.language, "instructor": self.instructor,
                "rating": {"average": round(self.rating_avg, 2), "count": self.rating_count}}


@dataclass(frozen=True)
class CatalogPage:
    courses: list[CourseCard]
    total: int
    query: CatalogQuery
    # the search text as searched when words were corrected ("showing results for ...")
    corrected: str | None = None


def _filtered(session: Session, query: CatalogQuery, plan=None):
    """The published courses the query's filters and search text select."""
    stmt = select(Course).outerjoin(CourseStats, CourseStats.course_id == Course.id) \
        .where(Course.published.is_(True))
    if plan is not None:
        stmt = search.restrict(session, stmt, plan)
    if query.language:
        stmt = stmt.where(Course.language == query.language)
    if query.min_price_cents is not None:
        stmt = stmt.where(Course.price_cents >= query.min_price_cents)
    if query.max_price_cents is not None:
        stmt = stmt.where(Course.price_cents <= query.max_price_cents)
    if query.min_rating:
        stmt = stmt.where(CourseStats.rating_count > 0, CourseStats.rating_avg >= query.min_rating)
    if query.category:
        stmt = stmt.where(Course.category == query.category)
    if query.level:
        stmt = stmt.where(Course.level == query.level)
    if query.free is True:
        stmt = stmt.where(Course.price_cents == 0)
    elif query.free is False:
        stmt = stmt.where(Course.price_cents > 0)
    return stmt


def _has_filters(query: CatalogQuery) -> bool:
    return bool(query.category or query.level or query.language or query.free is not None or query.min_rating
                or query.min_price_cents is not None or query.max_price_cents is not None)


def list_courses(session: Session, query: CatalogQuery,
                 vocabulary: search.VocabularyCache | None = None) -> CatalogPage:
    query = query.validated()
    plan = search.plan(session, query.q, vocabulary) if query.q else None
    if plan is not None and plan.empty:  # only separators: nothing to search for
        return CatalogPage(courses=[], total=0, query=query)
    stmt = _filtered(session, query, plan)
    conn = session.connection()  # plain rows: ids need no ORM objects
    if plan is not None and query.sort == "relevance":
        # every match's id (narrow rows), ranked here by relevance, then the page
        if _has_filters(query):
            matches = conn.execute(stmt.with_only_columns(Course.id).order_by(Course.id)).scalars().all()
        else:
            matches = search.matching_ids(session, plan)  # the index holds published courses only
        matches = search.rank(session, plan, matches)
        total, ids = len(matches), matches[query.offset:query.offset + query.limit]
    else:
        # the database sorts and pages (a top-N sort), and counts apart
        total = conn.execute(select(func.count()).select_from(stmt.with_only_columns(Course.id).subquery())).scalar() or 0
        ids = list(conn.execute(stmt.with_only_columns(Course.id).order_by(*SORTS[query.sort])
                                .limit(query.limit).offset(query.offset)).scalars())
    return CatalogPage(courses=cards_by_ids(session, ids), total=total, query=query,
                       corrected=plan.corrected if plan else None)


def cards_by_ids(session: Session, ids: list[int]) -> list[CourseCard]:
    """Cards for these published courses, in this order, in one query."""
    if not ids:
        return []
    lessons = select(Lesson.course_id, func.count(Lesson.id).label("n"), func.sum(Lesson.minutes).label("minutes")) \
        .where(Lesson.course_id.in_(ids)).group_by(Lesson.course_id).subquery()
    rows = session.connection().execute(
        select(Course.id, Course.slug, Course.title, Course.subtitle, Course.price_cents, Course.currency,
               Course.category, Course.level, Course.language, User.display_name, lessons.c.n,
               CourseStats.rating_avg, CourseStats.rating_count, lessons.c.minutes, CourseCover.version,
               CourseCover.widths, User.hub_name)
        .outerjoin(Instructor, Instructor.id == Course.instructor_id).outerjoin(User, User.id == Instructor.user_id)
        .outerjoin(CourseStats, CourseStats.course_id == Course.id)
        .outerjoin(CourseCover, CourseCover.course_id == Course.id)
        .outerjoin(lessons, lessons.c.course_id == Course.id)
        .where(Course.id.in_(ids), Course.published.is_(True))).all()
    by_id = {r[0]: CourseCard(
        id=r[0], slug=r[1], title=r[2], subtitle=r[3], price_cents=r[4], currency=r[5], category=r[6],
        level=r[7], language=r[8], instructor=r[9], lesson_count=r[10] or 0, rating_avg=r[11] or 0.0,
        rating_count=r[12] or 0, minutes=r[13] or 0, cover_version=r[14] or "", cover_widths=r[15] or "",
        instructor_hub_name=r[16]) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


class CatalogCache:
    """Catalog pages cached per query for a few seconds.

    The catalog is read far more often than it changes; a short TTL bounds how stale a
    replica can be (each replica keeps its own copy until a shared cache replaces this).
    ``clear()`` is called after writes made in this process (imports, publishing).

    It also keeps, for as long, what the catalog pages show to everyone alike (``memo``: the
    shelves of featured and trending courses and bundles) and whole pages as visitors get them
    (``page``/``store_page``, used by ``web.page_cache``).
    """

    def __init__(self, ttl_seconds: float = 5.0, max_entries: int = 2048, clock=time.monotonic,
                 vocabulary: search.VocabularyCache | None = None):
        self.ttl, self.max_entries, self.clock = ttl_seconds, max_entries, clock
        self.vocabulary = vocabulary
        self._entries: OrderedDict[CatalogQuery, tuple[float, CatalogPage]] = OrderedDict()
        self._categories: tuple[float, list[str]] | None = None
        self._memo: dict[str, tuple[float, object]] = {}
        self._pages: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def list_courses(self, session: Session, query: CatalogQuery) -> CatalogPage:
        query = query.validated()
        now = self.clock()
        hit = self._entries.get(query)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(query)
            return hit[1]
        page = list_courses(session, query, self.vocabulary)
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

    def memo(self, key: str, compute):
        """``compute()``'s value, computed at most once per TTL (values the same for everyone)."""
        now = self.clock()
        hit = self._memo.get(key)
        if hit is None or hit[0] <= now:
            hit = self._memo[key] = (now + self.ttl, compute())
        return hit[1]

    def page(self, key: str) -> str | None:
        hit = self._pages.get(key)
        if hit is None or hit[0] <= self.clock():
            return None
        self._pages.move_to_end(key)
        return hit[1]

    def store_page(self, key: str, html: str) -> None:
        self._pages[key] = (self.clock() + self.ttl, html)
        self._pages.move_to_end(key)
        while len(self._pages) > self.max_entries:
            self._pages.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self._categories = None
        self._memo.clear()
        self._pages.clear()


# names of the languages a course.toml may give (ISO 639-1); others show as their code
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
                  "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "ru": "Russian", "uk": "Ukrainian",
                  "tr": "Turkish", "ar": "Arabic", "hi": "Hindi", "zh": "Chinese", "ja": "Japanese", "ko": "Korean"}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower(), code.upper())


def languages(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every language a published course is in, by name: the language filter's options."""
    codes = session.scalars(select(Course.language).where(Course.published.is_(True)).distinct())
    return sorted(((c, language_name(c)) for c in codes if c), key=lambda pair: pair[1])


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
    if course is None or not (course.published or permissions.can_teach(viewer, course)
                              or _enrolled(session, viewer, course)):
        raise NotFound(f"no course {slug!r}")
    return course


def _enrolled(session: Session, viewer: User | None, course: Course) -> bool:
    """Unpublishing a course hides it from the catalog, not from the students already in it."""
    return viewer is not None and session.scalar(
        select(Enrollment.id).where(Enrollment.user_id == viewer.id, Enrollment.course_id == course.id)) is not None


def lesson_count(session: Session, course_ids: list[int]) -> dict[int, int]:
    if not course_ids:
        return {}
    rows = session.execute(
        select(Lesson.course_id, func.count(Lesson.id)).where(Lesson.course_id.in_(course_ids))
        .group_by(Lesson.course_id)
    )
    return dict(rows.all())
