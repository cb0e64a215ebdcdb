"""Discovery API: reviews, moderation, wishlist, recommendations, featured, trending.

Search itself is ``GET /api/v1/courses?q=...`` (``services.catalog`` runs it through
``services.search``).
"""
from __future__ import annotations

from ... import permissions
from ...errors import InvalidInput, NotFound
from ...services import catalog, recommendations, reviews, trending, wishlist
from ..base import APIHandler, requires, requires_user
from .spec import errors, response


def recommender(handler) -> recommendations.Recommender:
    return handler.settings["recommender"]


def _int_arg(handler, name: str, default: int) -> int:
    raw = handler.get_query_argument(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, got {raw[:30]!r}") from None


def _review_id(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise NotFound(f"no review {raw[:30]!r}") from None
    if not 0 < value < 2**31:
        raise NotFound(f"no review {value}")
    return value


def _body_dict(handler) -> dict:
    body = handler.json_body()
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


class CourseReviewsAPI(APIHandler):
    def get(self, slug: str):
        course = catalog.get_course(self.db, slug, viewer=self.lms_user)
        stats = reviews.stats_for(self.db, course.id)
        page = reviews.list_for_course(self.db, course.id, viewer=self.lms_user,
                                       sort=self.get_query_argument("sort", "helpful"),
                                       limit=_int_arg(self, "limit", 10), offset=_int_arg(self, "offset", 0),
                                       total=stats.rating_count if stats else 0)
        self.write_json({"summary": reviews.summary(stats), "total": page.total,
                         "reviews": [reviews.public(r, page.voted) for r in page.reviews]})

    @requires_user
    def post(self, slug: str):
        body = _body_dict(self)
        user = self.require_user()
        review = reviews.create(self.db, user, slug, body.get("rating"), body.get("text", ""),
                                min_progress=self.config.review_min_progress)
        self.db.commit()
        self.write_json(reviews.public(review), 201)


class MyReviewAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        user = self.require_user()
        course = catalog.get_course(self.db, slug, viewer=user)
        review = reviews.own_review(self.db, user, course.id)
        if review is None:
            raise NotFound("you have not reviewed this course")
        self.write_json(reviews.public(review))

    @requires_user
    def put(self, slug: str):
        body = _body_dict(self)
        user = self.require_user()
        review = reviews.update_own(self.db, user, slug, body.get("rating"), body.get("text"))
        self.db.commit()
        self.write_json(reviews.public(review))

    patch = put


class ReviewReplyAPI(APIHandler):
    @requires_user
    def post(self, review_id: str):
        body = _body_dict(self)
        user = self.require_user()
        review = reviews.reply(self.db, user, _review_id(review_id), body.get("text"))
        self.db.commit()
        self.write_json(reviews.public(review))


class ReviewHelpfulAPI(APIHandler):
    @requires_user
    def post(self, review_id: str):
        self.json_body()
        user = self.require_user()
        review = reviews.vote_helpful(self.db, user, _review_id(review_id), True)
        self.db.commit()
        self.write_json({"id": review.id, "helpful": review.helpful_count, "voted_helpful": True})

    @requires_user
    def delete(self, review_id: str):
        user = self.require_user()
        review = reviews.vote_helpful(self.db, user, _review_id(review_id), False)
        self.db.commit()
        self.write_json({"id": review.id, "helpful": review.helpful_count, "voted_helpful": False})


class ReviewReportAPI(APIHandler):
    @requires_user
    def post(self, review_id: str):
        body = _body_dict(self)
        user = self.require_user()
        report = reviews.report(self.db, user, _review_id(review_id), body.get("reason"))
        self.db.commit()
        self.write_json({"id": report.id, "review": report.review_id, "status": report.status}, 201)


def _report_public(item) -> dict:
    return {"id": item.id, "status": item.status, "reason": item.reason, "reported_by": item.user.hub_name,
            "created_at": item.created_at.isoformat(), "review": reviews.public(item.review)}


class ModerationQueueAPI(APIHandler):
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def get(self):
        user = self.require_user()
        self.write_json({"reports": [_report_public(r) for r in reviews.moderation_queue(self.db, user)]})


class ModerationReportAPI(APIHandler):
    @requires(permissions.ADMIN, "moderating reviews needs the LMS admin role")
    def post(self, report_id: str):
        body = _body_dict(self)
        user = self.require_user()
        item = reviews.resolve_report(self.db, user, _review_id(report_id), body.get("action"))
        self.db.commit()
        self.write_json({"id": item.id, "status": item.status})


class WishlistAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"courses": [c.public() for c in wishlist.items(self.db, user)]})


class WishlistItemAPI(APIHandler):
    @requires_user
    def put(self, slug: str):
        self.json_body()
        user = self.require_user()
        _, created = wishlist.add(self.db, user, slug)
        self.db.commit()
        self.write_json({"course": slug, "wishlisted": True}, 201 if created else 200)

    @requires_user
    def delete(self, slug: str):
        user = self.require_user()
        if not wishlist.remove(self.db, user, slug):
            raise NotFound(f"{slug!r} is not on your wishlist")
        self.db.commit()
        self.write_json({"course": slug, "wishlisted": False})


class CourseRecommendationsAPI(APIHandler):
    def get(self, slug: str):
        course = catalog.get_course(self.db, slug, viewer=self.lms_user)
        k = _int_arg(self, "limit", 5)
        if not 1 <= k <= 20:
            raise InvalidInput("limit must be between 1 and 20")
        rec = recommender(self)
        self.write_json({
            "also_took": [c.public() for c in recommendations.cards(self.db, rec.also_took(self.db, course.id, k))],
            "similar": [c.public() for c in recommendations.cards(self.db, rec.similar(self.db, course.id, k))],
        })


class MyRecommendationsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        k = _int_arg(self, "limit", 5)
        if not 1 <= k <= 20:
            raise InvalidInput("limit must be between 1 and 20")
        ranked = recommender(self).for_user(self.db, user.id, k)
        self.write_json({"courses": [c.public() for c in recommendations.cards(self.db, ranked)]})


class FeaturedAPI(APIHandler):
    def get(self):
        self.write_json({"courses": [c.public() for c in trending.featured_cards(self.db)]})

    @requires(permissions.ADMIN, "curating featured courses needs the LMS admin role")
    def put(self, *_):
        body = _body_dict(self)
        user = self.require_user()
        slugs = trending.set_featured(self.db, user, body.get("courses"))
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.write_json({"courses": slugs})


class TrendingAPI(APIHandler):
    def get(self):
        k = _int_arg(self, "limit", 8)
        if not 1 <= k <= 50:
            raise InvalidInput("limit must be between 1 and 50")
        self.write_json({"courses": [c.public() for c in trending.trending_cards(self.db, k)]})


default_handlers = [
    (r"api/v1/courses/([^/]+)/reviews", CourseReviewsAPI),
    (r"api/v1/courses/([^/]+)/reviews/mine", MyReviewAPI),
    (r"api/v1/courses/([^/]+)/recommendations", CourseRecommendationsAPI),
    (r"api/v1/reviews/([^/]+)/reply", ReviewReplyAPI),
    (r"api/v1/reviews/([^/]+)/helpful", ReviewHelpfulAPI),
    (r"api/v1/reviews/([^/]+)/report", ReviewReportAPI),
    (r"api/v1/moderation/reports", ModerationQueueAPI),
    (r"api/v1/moderation/reports/([^/]+)", ModerationReportAPI),
    (r"api/v1/me/wishlist", WishlistAPI),
    (r"api/v1/me/wishlist/([^/]+)", WishlistItemAPI),
    (r"api/v1/me/recommendations", MyRecommendationsAPI),
    (r"api/v1/featured", FeaturedAPI),
    (r"api/v1/trending", TrendingAPI),
]

# --------------------------------------------------------------------------- OpenAPI

def _e(*codes: int) -> dict:
    return errors(*codes)


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}
_REVIEW = {"$ref": "#/components/schemas/Review"}
_CARDS = {"type": "object", "required": ["courses"], "properties": {
    "courses": {"type": "array", "items": {"$ref": "#/components/schemas/CourseSummary"}}}}
_SEC = [{"hubToken": []}]

OPENAPI_SCHEMAS: dict = {
    "Review": {"type": "object", "required": ["id", "rating", "text", "html", "helpful"], "properties": {
        "id": {"type": "integer"}, "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "text": {"type": "string"}, "html": {"type": "string", "description": "sanitized Markdown"},
        "author": {"type": "string", "nullable": True}, "helpful": {"type": "integer"},
        "voted_helpful": {"type": "boolean"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"},
        "reply": {"type": "object", "nullable": True, "properties": {
            "text": {"type": "string"}, "html": {"type": "string"}, "at": {"type": "string", "nullable": True}}}}},
    "RatingSummary": {"type": "object", "required": ["average", "count", "distribution"], "properties": {
        "average": {"type": "number"}, "count": {"type": "integer"},
        "distribution": {"type": "object", "additionalProperties": {"type": "integer"}}}},
}

OPENAPI_PATHS: dict = {
    "/courses/{slug}/reviews": {
        "get": {"summary": "Rating summary and a page of reviews", "parameters": [
            _SLUG, _LIMIT, {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer"}},
            {"name": "sort", "in": "query", "required": False, "schema": {"type": "string", "enum": ["helpful", "newest"]}}],
            "responses": {"200": response("Reviews", {"type": "object", "required": ["summary", "reviews"], "properties": {
                "summary": {"$ref": "#/components/schemas/RatingSummary"}, "total": {"type": "integer"},
                "reviews": {"type": "array", "items": _REVIEW}}}), **_e(400, 404)}},
        "post": {"summary": "Review a course (enrolled, past the minimum progress, once)", "security": _SEC,
                 "parameters": [_SLUG],
                 "requestBody": _json_body({"type": "object", "required": ["rating"], "properties": {
                     "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                     "text": {"type": "string", "maxLength": 5000}}}),
                 "responses": {"201": response("The review", _REVIEW), **_e(400, 401, 403, 404, 409)}}},
    "/courses/{slug}/reviews/mine": {
        "get": {"summary": "Your review of a course", "security": _SEC, "parameters": [_SLUG],
                "responses": {"200": response("The review", _REVIEW), **_e(401, 404)}},
        "put": {"summary": "Edit your review", "security": _SEC, "parameters": [_SLUG],
                "requestBody": _json_body({"type": "object", "properties": {
                    "rating": {"type": "integer", "minimum": 1, "maximum": 5}, "text": {"type": "string"}}}),
                "responses": {"200": response("The review", _REVIEW), **_e(400, 401, 404)}},
        "patch": {"summary": "Edit your review (same as PUT)", "security": _SEC, "parameters": [_SLUG],
                  "requestBody": _json_body({"type": "object", "properties": {
                      "rating": {"type": "integer"}, "text": {"type": "string"}}}),
                  "responses": {"200": response("The review", _REVIEW), **_e(400, 401, 404)}}},
    "/courses/{slug}/recommendations": {
        "get": {"summary": "Students who took this also took; similar courses", "parameters": [_SLUG, _LIMIT],
                "responses": {"200": response("Recommendations", {"type": "object", "properties": {
                    "also_took": _CARDS["properties"]["courses"], "similar": _CARDS["properties"]["courses"]}}),
                    **_e(400, 404)}}},
    "/reviews/{id}/reply": {
        "post": {"summary": "The instructor's public reply (replaces an earlier one)", "security": _SEC,
                 "parameters": [_ID], "requestBody": _json_body({"type": "object", "required": ["text"],
                                                                 "properties": {"text": {"type": "string"}}}),
                 "responses": {"200": response("The review", _REVIEW), **_e(400, 401, 403, 404)}}},
    "/reviews/{id}/helpful": {
        "post": {"summary": "Mark a review helpful (not your own)", "security": _SEC, "parameters": [_ID],
                 "responses": {"200": response("Votes", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "helpful": {"type": "integer"}, "voted_helpful": {"type": "boolean"}}}),
                     **_e(401, 403, 404)}},
        "delete": {"summary": "Take your helpful vote back", "security": _SEC, "parameters": [_ID],
                   "responses": {"200": response("Votes", {"type": "object"}), **_e(401, 403, 404)}}},
    "/reviews/{id}/report": {
        "post": {"summary": "Report a review to the moderators", "security": _SEC, "parameters": [_ID],
                 "requestBody": _json_body({"type": "object", "required": ["reason"],
                                            "properties": {"reason": {"type": "string", "maxLength": 500}}}),
                 "responses": {"201": response("The report", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "review": {"type": "integer"}, "status": {"type": "string"}}}),
                     **_e(400, 401, 403, 404, 409)}}},
    "/moderation/reports": {
        "get": {"summary": "Open review reports (LMS admins)", "security": _SEC,
                "responses": {"200": response("Reports", {"type": "object", "properties": {
                    "reports": {"type": "array", "items": {"type": "object"}}}}), **_e(401, 403)}}},
    "/moderation/reports/{id}": {
        "post": {"summary": "Dismiss a report or remove the review (LMS admins)", "security": _SEC,
                 "parameters": [_ID], "requestBody": _json_body({"type": "object", "required": ["action"], "properties": {
                     "action": {"type": "string", "enum": ["dismiss", "remove"]}}}),
                 "responses": {"200": response("The report", {"type": "object"}), **_e(400, 401, 403, 404, 409)}}},
    "/me/wishlist": {
        "get": {"summary": "Your wishlist", "security": _SEC, "responses": {"200": response("Courses", _CARDS), **_e(401)}}},
    "/me/wishlist/{slug}": {
        "put": {"summary": "Add a course to your wishlist", "security": _SEC, "parameters": [_SLUG],
                "responses": {"201": response("Added", {"type": "object"}), "200": response("Already there", {"type": "object"}),
                              **_e(401, 404)}},
        "delete": {"summary": "Remove a course from your wishlist", "security": _SEC, "parameters": [_SLUG],
                   "responses": {"200": response("Removed", {"type": "object"}), **_e(401, 404)}}},
    "/me/recommendations": {
        "get": {"summary": "Courses for you (history, co-enrollment, content, categories)", "security": _SEC,
                "parameters": [_LIMIT], "responses": {"200": response("Courses", _CARDS), **_e(400, 401)}}},
    "/featured": {
        "get": {"summary": "Admin-curated featured courses", "responses": {"200": response("Courses", _CARDS)}},
        "put": {"summary": "Replace the featured courses (LMS admins)", "security": _SEC,
                "requestBody": _json_body({"type": "object", "required": ["courses"], "properties": {
                    "courses": {"type": "array", "items": {"type": "string"}}}}),
                "responses": {"200": response("Slugs", {"type": "object"}), **_e(400, 401, 403, 404)}}},
    "/trending": {
        "get": {"summary": "Trending courses (time-decayed enrollments and ratings)", "parameters": [_LIMIT],
                "responses": {"200": response("Courses", _CARDS), **_e(400)}}},
}
