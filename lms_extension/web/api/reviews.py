"""``/api/v1`` reviews: a course's ratings and reviews, my review, replies, helpful votes, reports."""
from __future__ import annotations

from ...errors import NotFound
from ...services import catalog, reviews
from ..base import APIHandler, body_dict, int_arg, parse_review_id, requires_user
from .spec import SECURITY, errors, json_body, response


class CourseReviewsAPI(APIHandler):
    def get(self, slug: str):
        course = catalog.get_course(self.db, slug, viewer=self.lms_user)
        stats = reviews.stats_for(self.db, course.id)
        page = reviews.list_for_course(self.db, course.id, viewer=self.lms_user,
                                       sort=self.get_query_argument("sort", "helpful"),
                                       limit=int_arg(self, "limit", 10), offset=int_arg(self, "offset", 0),
                                       total=stats.rating_count if stats else 0)
        self.write_json({"summary": reviews.summary(stats), "total": page.total,
                         "reviews": [reviews.public(r, page.voted) for r in page.reviews]})

    @requires_user
    def post(self, slug: str):
        body = body_dict(self)
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
        body = body_dict(self)
        user = self.require_user()
        review = reviews.update_own(self.db, user, slug, body.get("rating"), body.get("text"))
        self.db.commit()
        self.write_json(reviews.public(review))

    patch = put


class ReviewReplyAPI(APIHandler):
    @requires_user
    def post(self, review_id: str):
        body = body_dict(self)
        user = self.require_user()
        review = reviews.reply(self.db, user, parse_review_id(review_id), body.get("text"))
        self.db.commit()
        self.write_json(reviews.public(review))


class ReviewHelpfulAPI(APIHandler):
    @requires_user
    def post(self, review_id: str):
        self.json_body()
        user = self.require_user()
        review = reviews.vote_helpful(self.db, user, parse_review_id(review_id), True)
        self.db.commit()
        self.write_json({"id": review.id, "helpful": review.helpful_count, "voted_helpful": True})

    @requires_user
    def delete(self, review_id: str):
        user = self.require_user()
        review = reviews.vote_helpful(self.db, user, parse_review_id(review_id), False)
        self.db.commit()
        self.write_json({"id": review.id, "helpful": review.helpful_count, "voted_helpful": False})


class ReviewReportAPI(APIHandler):
    @requires_user
    def post(self, review_id: str):
        body = body_dict(self)
        user = self.require_user()
        report = reviews.report(self.db, user, parse_review_id(review_id), body.get("reason"))
        self.db.commit()
        self.write_json({"id": report.id, "review": report.review_id, "status": report.status}, 201)


default_handlers = [
    (r"api/v1/courses/([^/]+)/reviews", CourseReviewsAPI),
    (r"api/v1/courses/([^/]+)/reviews/mine", MyReviewAPI),
    (r"api/v1/reviews/([^/]+)/reply", ReviewReplyAPI),
    (r"api/v1/reviews/([^/]+)/helpful", ReviewHelpfulAPI),
    (r"api/v1/reviews/([^/]+)/report", ReviewReportAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}
_REVIEW = {"$ref": "#/components/schemas/Review"}
OPENAPI_PATHS: dict = {
    "/courses/{slug}/reviews": {
        "get": {"summary": "Rating summary and a page of reviews", "parameters": [
            _SLUG, _LIMIT, {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer"}},
            {"name": "sort", "in": "query", "required": False, "schema": {"type": "string", "enum": ["helpful", "newest"]}}],
            "responses": {"200": response("Reviews", {"type": "object", "required": ["summary", "reviews"], "properties": {
                "summary": {"$ref": "#/components/schemas/RatingSummary"}, "total": {"type": "integer"},
                "reviews": {"type": "array", "items": _REVIEW}}}), **errors(400, 404)}},
        "post": {"summary": "Review a course (enrolled, past the minimum progress, once)", "security": SECURITY,
                 "parameters": [_SLUG],
                 "requestBody": json_body({"type": "object", "required": ["rating"], "properties": {
                     "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                     "text": {"type": "string", "maxLength": 5000}}}),
                 "responses": {"201": response("The review", _REVIEW), **errors(400, 401, 403, 404, 409)}}},
    "/courses/{slug}/reviews/mine": {
        "get": {"summary": "Your review of a course", "security": SECURITY, "parameters": [_SLUG],
                "responses": {"200": response("The review", _REVIEW), **errors(401, 404)}},
        "put": {"summary": "Edit your review", "security": SECURITY, "parameters": [_SLUG],
                "requestBody": json_body({"type": "object", "properties": {
                    "rating": {"type": "integer", "minimum": 1, "maximum": 5}, "text": {"type": "string"}}}),
                "responses": {"200": response("The review", _REVIEW), **errors(400, 401, 404)}},
        "patch": {"summary": "Edit your review (same as PUT)", "security": SECURITY, "parameters": [_SLUG],
                  "requestBody": json_body({"type": "object", "properties": {
                      "rating": {"type": "integer"}, "text": {"type": "string"}}}),
                  "responses": {"200": response("The review", _REVIEW), **errors(400, 401, 404)}}},
    "/reviews/{id}/reply": {
        "post": {"summary": "The instructor's public reply (replaces an earlier one)", "security": SECURITY,
                 "parameters": [_ID], "requestBody": json_body({"type": "object", "required": ["text"],
                                                                 "properties": {"text": {"type": "string"}}}),
                 "responses": {"200": response("The review", _REVIEW), **errors(400, 401, 403, 404)}}},
    "/reviews/{id}/helpful": {
        "post": {"summary": "Mark a review helpful (not your own)", "security": SECURITY, "parameters": [_ID],
                 "responses": {"200": response("Votes", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "helpful": {"type": "integer"}, "voted_helpful": {"type": "boolean"}}}),
                     **errors(401, 403, 404)}},
        "delete": {"summary": "Take your helpful vote back", "security": SECURITY, "parameters": [_ID],
                   "responses": {"200": response("Votes", {"type": "object"}), **errors(401, 403, 404)}}},
    "/reviews/{id}/report": {
        "post": {"summary": "Report a review to the moderators", "security": SECURITY, "parameters": [_ID],
                 "requestBody": json_body({"type": "object", "required": ["reason"],
                                            "properties": {"reason": {"type": "string", "maxLength": 500}}}),
                 "responses": {"201": response("The report", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "review": {"type": "integer"}, "status": {"type": "string"}}}),
                     **errors(400, 401, 403, 404, 409)}}},
}
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
