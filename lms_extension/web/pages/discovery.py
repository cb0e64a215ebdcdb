"""Discovery pages: reviews, wishlist, previews, moderation, and what the catalog
home and course pages show of them (``catalog_context`` / ``course_context``)."""
from __future__ import annotations

from urllib.parse import urlencode

from tornado import web

from ... import permissions
from ...errors import InvalidInput, LMSError, NotFound
from ...services import catalog, previews, recommendations, reviews, trending, wishlist
from ..base import BaseHandler, requires


def make_recommender(config) -> recommendations.Recommender:
    return recommendations.Recommender(config.recommender or "tfidf", config.recommendations_cache_seconds)


# --------------------------------------------------------------------------- page context
def catalog_context(handler, page: catalog.CatalogPage) -> dict:
    """Shelves on the unfiltered first catalog page; the viewer's wishlist marks on cards."""
    q = page.query
    home = not (q.q or q.category or q.level or q.language or q.free is not None or q.offset
                or q.min_price_cents is not None or q.max_price_cents is not None or q.min_rating)
    user = handler.lms_user
    return {
        "featured": trending.featured_cards(handler.db, 8) if home else [],
        "trending": trending.trending_cards(handler.db, 8) if home else [],
        "bundles": trending.bundle_offers(handler.db) if home else [],
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


# --------------------------------------------------------------------------- pages
class _FormHandler(BaseHandler):
    def back(self, slug: str, note: str = "", anchor: str = "reviews"):
        if note:  # a signed one-time notice, shown at the top of the page (#message)
            self.add_notice(note)
            anchor = "message"
        self.redirect(f"{self.config.service_prefix}courses/{slug}#{anchor}")


class WishlistPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        self.render_page("discovery/wishlist.html", courses=wishlist.items(self.db, user))


class WishlistToggle(_FormHandler):
    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        if self.get_body_argument("action", "add") == "remove":
            wishlist.remove(self.db, user, slug)
        else:
            wishlist.add(self.db, user, slug)
        self.db.commit()
        target = self.get_body_argument("next", "")
        if target.startswith(self.config.service_prefix) and "//" not in target:
            self.redirect(target)
        else:
            self.back(slug, anchor="top")


class ReviewForm(_FormHandler):
    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        rating, text = self.get_body_argument("rating", ""), self.get_body_argument("text", "")
        catalog.get_course(self.db, slug, viewer=user)  # an unknown course is a 404, not a note
        try:
            if self.get_body_argument("edit", ""):
                reviews.update_own(self.db, user, slug, rating, text)
            else:
                reviews.create(self.db, user, slug, rating, text, min_progress=self.config.review_min_progress)
        except LMSError as exc:  # shown on the course page, next to the form
            self.db.rollback()
            self.back(slug, exc.message)
            return
        self.db.commit()
        self.back(slug, "Thanks for your review.")


class ReviewAction(_FormHandler):
    """Helpful votes, reports and instructor replies from the course page's forms."""

    @web.authenticated
    def post(self, review_id: str, action: str):
        user = self.require_user()
        try:
            rid = int(review_id)
        except ValueError:
            raise NotFound(f"no review {review_id[:20]!r}") from None
        slug = self.get_body_argument("course", "")
        try:
            if action == "helpful":
                reviews.vote_helpful(self.db, user, rid, self.get_body_argument("undo", "") == "")
                note = ""
            elif action == "report":
                reviews.report(self.db, user, rid, self.get_body_argument("reason", ""))
                note = "Thanks: a moderator will look at it."
            else:
                reviews.reply(self.db, user, rid, self.get_body_argument("text", ""))
                note = "Reply published."
        except LMSError as exc:
            self.db.rollback()
            note = exc.message
        else:
            self.db.commit()
        if slug:
            catalog.get_course(self.db, slug, viewer=user)  # only redirect to a real course
            self.back(slug, note)
        else:
            self.redirect(self.config.service_prefix)


class PreviewPage(BaseHandler):
    """A free preview lesson as HTML, for visitors (signed-in users may open it in JupyterLab)."""

    def get(self, slug: str, lesson_key: str):
        course, lesson, html = previews.preview(self.db, slug, lesson_key, viewer=self.lms_user)
        self.render_page("discovery/preview.html", course=course, lesson=lesson, notebook_html=html,
                         open_url=f"{self.config.hub_prefix}user-redirect/lms/open?"
                         + urlencode({"course": course.slug, "lesson": lesson.key}),
                         login_url=f"{self.config.service_prefix}login?" + urlencode({"next": self.request.uri}))


class ModerationPage(BaseHandler):
    @web.authenticated
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def get(self):
        user = self.require_user()
        self.render_page("discovery/moderation.html", reports=reviews.moderation_queue(self.db, user))

    @web.authenticated
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def post(self):
        user = self.require_user()
        try:
            report_id = int(self.get_body_argument("report", ""))
        except ValueError:
            raise InvalidInput("report must be a number") from None
        reviews.resolve_report(self.db, user, report_id, self.get_body_argument("action", ""))
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}moderation")


default_handlers = [
    (r"wishlist", WishlistPage),
    (r"courses/([^/]+)/wishlist", WishlistToggle),
    (r"courses/([^/]+)/reviews", ReviewForm),
    (r"courses/([^/]+)/preview/([^/]+)", PreviewPage),
    (r"reviews/([0-9]+)/(helpful|report|reply)", ReviewAction),
    (r"moderation", ModerationPage),
]

# pages only: nothing under /api/v1
OPENAPI_PATHS: dict = {}
OPENAPI_SCHEMAS: dict = {}
