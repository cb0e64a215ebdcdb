"""The catalog and course pages, with what they show of reviews, wishlist and recommendations."""
from __future__ import annotations

from urllib.parse import urlencode

from ... import permissions
from ...errors import InvalidInput, LMSError
from ...services import catalog, enrollments, progress, recommendations, reviews, trending, wishlist
from ...services.payments import subscriptions
from ..base import BaseHandler, parse_catalog_query, parse_price_range
from ..announcement_views import announcement_views
from ..markdown import render_markdown
from ..page_cache import cached_for_visitors
from .analytics import record_catalog_visit, record_course_visit


LEVELS = ("beginner", "intermediate", "advanced")


def lesson_open_url(hub_prefix: str, slug: str, lesson_key: str) -> str:
    """One click starts the student's server if needed and opens the lesson there."""
    return f"{hub_prefix}user-redirect/lms/open?" + urlencode({"course": slug, "lesson": lesson_key})


def catalog_context(handler, page: catalog.CatalogPage) -> dict:
    """Shelves on the unfiltered first catalog page; the viewer's wishlist marks on cards."""
    q = page.query
    home = not (q.q or q.category or q.level or q.language or q.free is not None or q.offset
                or q.min_price_cents is not None or q.max_price_cents is not None or q.min_rating)
    user, db, cache = handler.lms_user, handler.db, handler.settings["catalog_cache"]
    return {
        "featured": cache.memo("featured", lambda: trending.featured_cards(db, 8)) if home else [],
        "trending": cache.memo("trending", lambda: trending.trending_cards(db, 8)) if home else [],
        "bundles": cache.memo("bundles", lambda: trending.bundle_offers(db)) if home else [],
        "wishlisted": wishlist.wishlisted_ids(handler.db, user, [c.id for c in page.courses]),
    }


def course_context(handler, course) -> dict:
    """Ratings, a page of reviews, the viewer's review and wishlist mark, recommendations."""
    db, user = handler.db, handler.lms_user
    stats = reviews.stats_for(db, course.id)
    page = reviews.list_for_course(db, course.id, viewer=user, sort=_review_sort(handler), limit=10,
                                   total=stats.rating_count if stats else 0)
    mine = reviews.own_review(db, user, course.id) if user else None
    can_review = None
    if user and mine is None:
        try:
            reviews.check_can_review(db, user, course, handler.config.review_min_progress)
            can_review = True
        except LMSError as exc:
            can_review = exc.message
    rec = handler.settings["recommender"]
    ranked_also = rec.also_took(db, course.id, 4)
    ranked_similar = rec.similar(db, course.id, 4)
    return {
        "rating": reviews.summary(stats), "reviews_page": page, "my_review": mine, "can_review": can_review,
        "teaches": permissions.can_teach(user, course),
        "wishlisted": bool(user and wishlist.wishlisted_ids(db, user, [course.id])),
        "also_took": recommendations.cards(db, ranked_also),
        "similar": recommendations.cards(db, ranked_similar),
        "preview_url": lambda key: f"{handler.config.service_prefix}courses/{course.slug}/preview/{key}",
    }


def _review_sort(handler) -> str:
    sort = handler.get_query_argument("reviews", "helpful")
    return sort if sort in reviews.PAGE_SORTS else "helpful"


def _units(cents: int | None) -> str:
    """A price filter's value as typed: 19.99, 20."""
    if cents is None:
        return ""
    return str(cents // 100) if cents % 100 == 0 else f"{cents / 100:.2f}"


class CatalogPage(BaseHandler):
    @record_catalog_visit  # outside the cache: cached pages count too
    @cached_for_visitors
    def get(self):
        error = None
        try:
            prices = parse_price_range(self)
        except InvalidInput as exc:  # say so above the results, which keep the other filters
            error, prices = exc.message, (None, None)
            self.set_status(400)
        query = parse_catalog_query(self, prices=prices)
        cache = self.settings["catalog_cache"]
        page = cache.list_courses(self.db, query)
        typed = {name: self.get_query_argument(name, "")[:30] for name in ("min_price", "max_price")}
        self.render_page("catalog.html", page=page, filter_error=error,
                         price_inputs=typed if error else {"min_price": _units(query.min_price_cents),
                                                           "max_price": _units(query.max_price_cents)},
                         pager_query=urlencode([(k, v) for k in self.request.query_arguments if k != "offset"
                                                for v in self.get_query_arguments(k)]),
                         categories=cache.categories(self.db), languages=cache.memo("languages", lambda: catalog.languages(self.db)),
                         levels=LEVELS, sorts=catalog.SORTS, **catalog_context(self, page))


class CoursePage(BaseHandler):
    @record_course_visit  # outside the cache: cached pages count too
    @cached_for_visitors
    def get(self, slug: str):
        user = self.lms_user
        course = catalog.get_course(self.db, slug, viewer=user)
        enrollment = enrollments.find_enrollment(self.db, user, course) if user else None
        resume = enrollments.resume_lesson(course, enrollment) if enrollment else None
        learning = progress.course_progress(self.db, user, slug) if enrollment else None
        self.render_page(
            "course.html", course=course, enrollment=enrollment, resume=resume,
            all_access=bool(user and not enrollment and not course.is_free and _all_access(self.db, user)), learning=learning,
            description_html=render_markdown(course.description),
            announcements=announcement_views(self.db, course.id, 3),
            open_url=lambda key: lesson_open_url(self.config.hub_prefix, course.slug, key),
            login_url=f"{self.config.service_prefix}login?" + urlencode({"next": self.request.uri}),
            **course_context(self, course),
        )


def _all_access(db, user) -> bool:
    return subscriptions.has_all_access(db, user.id)


class CourseForm(BaseHandler):
    def back(self, slug: str, note: str = "", anchor: str = "reviews"):
        if note:  # a signed one-time notice, shown at the top of the page (#message)
            self.add_notice(note)
            anchor = "message"
        self.redirect(f"{self.config.service_prefix}courses/{slug}#{anchor}")


default_handlers = [
    (r"", CatalogPage),
    (r"courses/([^/]+)", CoursePage),
]
