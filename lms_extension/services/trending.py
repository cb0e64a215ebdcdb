"""The catalog home's shelves: admin-curated featured courses and trending ones.

Trending is a time-decayed score: each enrollment counts 1 and each visible review counts
rating/5, halved every ``half_life_days``. ``refresh`` recomputes it (and the enrollment
counts the popularity sort uses) for every course; the service runs it periodically, each
replica may, and running it twice is harmless.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import Conflict, InvalidInput, NotFound
from ..models import Course, Enrollment, Instructor, User
from ..models.base import utcnow
from ..models.course import SLUG
from ..models.commerce import Bundle, BundleCourse
from ..models.discovery import CourseStats, FeaturedCourse, Review
from . import audit, catalog, course_stats

MAX_FEATURED = 24


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def refresh(session: Session, *, now: datetime | None = None, half_life_days: float = 7.0) -> int:
    """Recompute enrollment counts and trending scores; returns the number of courses scored."""
    now = now or utcnow()
    window = now - timedelta(days=half_life_days * 8)  # older events weigh < 1/256
    decay = math.log(2) / (half_life_days * 86400)
    scores: dict[int, float] = defaultdict(float)
    for course_id, created in session.execute(select(Enrollment.course_id, Enrollment.created_at)
                                              .where(Enrollment.created_at >= window)):
        scores[course_id] += math.exp(-decay * max(0.0, (now - _aware(created)).total_seconds()))
    for course_id, rating, created in session.execute(
            select(Review.course_id, Review.rating, Review.created_at)
            .where(Review.created_at >= window, Review.status == "visible")):
        scores[course_id] += rating / 5 * math.exp(-decay * max(0.0, (now - _aware(created)).total_seconds()))
    counts = dict(session.execute(select(Enrollment.course_id, func.count(Enrollment.id))
                                  .group_by(Enrollment.course_id)).all())
    touched = set(scores) | set(counts)
    course_ids = set(session.scalars(select(Course.id).where(Course.id.in_(touched)))) if touched else set()
    return course_stats.store_trending(session, course_ids, scores, counts, now)


def _cards(session: Session, stmt, limit: int) -> list[catalog.CourseCard]:
    ids = list(session.scalars(stmt.with_only_columns(Course.id).where(Course.published.is_(True)).limit(limit)))
    return catalog.cards_by_ids(session, ids)


def trending_cards(session: Session, limit: int = 8) -> list[catalog.CourseCard]:
    stmt = select(Course).join(CourseStats, CourseStats.course_id == Course.id) \
        .where(CourseStats.trending_score > 0).order_by(CourseStats.trending_score.desc(), Course.id.asc())
    return _cards(session, stmt, limit)


def featured_cards(session: Session, limit: int = MAX_FEATURED) -> list[catalog.CourseCard]:
    stmt = select(Course).join(FeaturedCourse, FeaturedCourse.course_id == Course.id) \
        .outerjoin(CourseStats, CourseStats.course_id == Course.id) \
        .order_by(FeaturedCourse.position.asc(), Course.id.asc())
    return _cards(session, stmt, limit)


def set_featured(session: Session, admin: User, slugs) -> list[str]:
    """Replace the featured list with these published courses, in this order (admins only)."""
    permissions.require_admin(admin, "curating featured courses needs the LMS admin role")
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise InvalidInput("courses must be a list of course slugs")
    if len(slugs) > MAX_FEATURED:
        raise InvalidInput(f"at most {MAX_FEATURED} featured courses")
    slugs = list(dict.fromkeys(slugs))
    found = dict(session.execute(select(Course.slug, Course.id).where(Course.slug.in_(slugs),
                                                                      Course.published.is_(True))).all())
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise NotFound(f"no published course {unknown[0]!r}")
    before = featured_slugs(session)
    session.execute(delete(FeaturedCourse))
    if slugs:
        session.execute(insert(FeaturedCourse), [{"course_id": found[s], "position": i, "added_by_id": admin.id,
                                                   "created_at": utcnow()} for i, s in enumerate(slugs)])
    if before != slugs:
        audit.record(session, admin, "featured.update", "featured", "catalog", before={"courses": before},
                     after={"courses": slugs}, summary=f"Featured courses: {len(slugs)}")
    return slugs


def featured_slugs(session: Session) -> list[str]:
    """The featured courses' slugs in order (published or not)."""
    return list(session.scalars(select(Course.slug).join(FeaturedCourse, FeaturedCourse.course_id == Course.id)
                                .order_by(FeaturedCourse.position.asc(), Course.id.asc())))


def featured_courses(session: Session) -> list[Course]:
    """The featured courses in order, unpublished ones included (the console shows them to fix)."""
    return list(session.scalars(select(Course).join(FeaturedCourse, FeaturedCourse.course_id == Course.id)
                                .order_by(FeaturedCourse.position.asc(), Course.id.asc())))


def feature(session: Session, admin: User, slug: str) -> list[str]:
    """Add a published course at the end of the featured list (audited)."""
    permissions.require_admin(admin, "curating featured courses needs the LMS admin role")
    current = featured_slugs(session)
    course = (session.scalars(select(Course).where(Course.slug == slug)).one_or_none()
              if isinstance(slug, str) and SLUG.match(slug) else None)
    if course is None:
        raise NotFound("there is no such course")
    if slug in current:
        raise Conflict(f"{course.title} is featured already")
    if not course.published:
        raise InvalidInput(f"{course.title} is not published: only published courses can be featured")
    if len(current) >= MAX_FEATURED:
        raise InvalidInput(f"at most {MAX_FEATURED} featured courses: take one off first")
    return _replace(session, admin, current + [slug])


def unfeature(session: Session, admin: User, slug: str) -> list[str]:
    """Take a course off the featured list (audited); works for unpublished courses too."""
    permissions.require_admin(admin, "curating featured courses needs the LMS admin role")
    current = featured_slugs(session)
    if slug not in current:
        raise Conflict("that course is not featured (any more)")
    return _replace(session, admin, [s for s in current if s != slug])


def move_featured(session: Session, admin: User, slug: str, step: int) -> list[str]:
    """Move a featured course up (``step`` -1) or down (+1) the list (audited)."""
    permissions.require_admin(admin, "curating featured courses needs the LMS admin role")
    if step not in (-1, 1):
        raise InvalidInput("move a course up or down one place")
    current = featured_slugs(session)
    if slug not in current:
        raise Conflict("that course is not featured (any more)")
    i = current.index(slug)
    j = i + step
    if not 0 <= j < len(current):
        return current
    current[i], current[j] = current[j], current[i]
    return _replace(session, admin, current)


def _replace(session: Session, admin: User, slugs: list[str]) -> list[str]:
    """Like ``set_featured`` but keeps courses that were unpublished since they were featured."""
    before = featured_slugs(session)
    ids = dict(session.execute(select(Course.slug, Course.id).where(Course.slug.in_(slugs))).all())
    session.execute(delete(FeaturedCourse))
    rows = [{"course_id": ids[s], "position": i, "added_by_id": admin.id, "created_at": utcnow()}
            for i, s in enumerate(slugs) if s in ids]
    if rows:
        session.execute(insert(FeaturedCourse), rows)
    audit.record(session, admin, "featured.update", "featured", "catalog", before={"courses": before},
                 after={"courses": slugs}, summary=f"Featured courses: {len(slugs)}")
    return slugs


@dataclass(frozen=True)
class BundleOffer:
    slug: str
    title: str
    price_cents: int
    currency: str
    course_count: int
    list_price_cents: int  # the courses bought one by one

    @property
    def savings_cents(self) -> int:
        return max(0, self.list_price_cents - self.price_cents)


def bundle_offers(session: Session, limit: int = 6) -> list[BundleOffer]:
    """Active bundles of published courses with what they save, biggest saving first (one query)."""
    rows = session.execute(
        select(Bundle.slug, Bundle.title, Bundle.price_cents, Bundle.currency, func.count(Course.id),
               func.sum(Course.price_cents))
        .join(BundleCourse, BundleCourse.bundle_id == Bundle.id).join(Course, Course.id == BundleCourse.course_id)
        .where(Bundle.active.is_(True), Course.published.is_(True), Course.currency == Bundle.currency)
        .group_by(Bundle.id, Bundle.slug, Bundle.title, Bundle.price_cents, Bundle.currency)).all()
    offers = [BundleOffer(slug, title, price, currency, n, total or 0) for slug, title, price, currency, n, total in rows]
    return sorted(offers, key=lambda o: (-o.savings_cents, o.slug))[:limit]


@dataclass(frozen=True)
class ConsoleCourse:
    course: Course
    instructor: str  # display name, "" without one
    students: int
    featured: bool


def console_courses(session: Session, q: str = "", limit: int = 500) -> list[ConsoleCourse]:
    """Every course (drafts too) for the admin console, newest first; ``q`` matches title or slug."""
    stmt = select(Course).order_by(Course.published.desc(), Course.id.desc()).limit(limit)
    q = (q or "").strip()[:100]
    if q:
        like = f"%{q}%"
        stmt = stmt.where(Course.title.ilike(like) | Course.slug.ilike(like))
    courses = list(session.scalars(stmt))
    ids = [c.id for c in courses]
    if not ids:
        return []
    students = dict(session.execute(select(Enrollment.course_id, func.count(Enrollment.id))
                                    .where(Enrollment.course_id.in_(ids)).group_by(Enrollment.course_id)).all())
    featured = set(session.scalars(select(FeaturedCourse.course_id).where(FeaturedCourse.course_id.in_(ids))))
    teachers = {cid: display or name for cid, display, name in session.execute(
        select(Course.id, User.display_name, User.hub_name).join(Instructor, Instructor.id == Course.instructor_id)
        .join(User, User.id == Instructor.user_id).where(Course.id.in_(ids)))}
    return [ConsoleCourse(c, teachers.get(c.id, ""), int(students.get(c.id, 0)), c.id in featured) for c in courses]
