"""``/api/v1/courses``: the public catalog and one course."""
from __future__ import annotations

from ...services import catalog
from ..announcement_views import FIELD, announcement_views, public
from ..base import APIHandler, parse_catalog_query
from .spec import SLUG, errors, response


def course_summary(course) -> dict:
    return {
        "slug": course.slug, "title": course.title, "subtitle": course.subtitle,
        "price_cents": course.price_cents, "currency": course.currency,
        "category": course.category, "level": course.level, "language": course.language,
        "instructor": course.instructor.user.hub_name if course.instructor else None,
    }


class CoursesAPI(APIHandler):
    def get(self):
        page = self.settings["catalog_cache"].list_courses(self.db, parse_catalog_query(self))
        self.write_json({
            "total": page.total, "limit": page.query.limit, "offset": page.query.offset,
            "corrected": page.corrected,
            "courses": [card.public() for card in page.courses],
        })


class CourseAPI(APIHandler):
    def get(self, slug: str):
        course = catalog.get_course(self.db, slug, viewer=self.lms_user)
        self.write_json({
            **course_summary(course),
            "description": course.description,
            "lessons": [{"id": ls.key, "title": ls.title, "free_preview": ls.free_preview}
                        for ls in course.lessons],
            # the latest three, newest first: JupyterLab's Course panel shows them
            FIELD: [public(v) for v in announcement_views(self.db, course.id, 3)],
        })


default_handlers = [
    (r"api/v1/courses", CoursesAPI),
    (r"api/v1/courses/([^/]+)", CourseAPI),
]


# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/courses": {"get": {
        "summary": "List published courses", "parameters": [
            {"name": n, "in": "query", "required": False, "schema": s} for n, s in (
                ("q", {"type": "string", "maxLength": 200}),
                ("category", {"type": "string"}),
                ("level", {"type": "string", "enum": ["beginner", "intermediate", "advanced"]}),
                ("free", {"type": "boolean"}),
                ("language", {"type": "string"}),
                ("min_price", {"type": "string", "pattern": r"^\d{1,9}([.,]\d{1,2})?$",
                               "description": "in currency units (19.99); wins over min_price_cents"}),
                ("max_price", {"type": "string", "pattern": r"^\d{1,9}([.,]\d{1,2})?$",
                               "description": "in currency units (19.99); wins over max_price_cents"}),
                ("min_price_cents", {"type": "integer", "minimum": 0}),
                ("max_price_cents", {"type": "integer", "minimum": 0}),
                ("min_rating", {"type": "number", "minimum": 0, "maximum": 5}),
                ("sort", {"type": "string", "enum": ["relevance", "newest", "title", "price_asc", "price_desc",
                                                     "rating", "popularity"]}),
                ("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                ("offset", {"type": "integer", "minimum": 0}))],
        "responses": {"200": response("A page of courses", {
            "type": "object", "required": ["total", "courses"], "properties": {
                "total": {"type": "integer"}, "limit": {"type": "integer"},
                "offset": {"type": "integer"},
                "corrected": {"type": "string", "nullable": True,
                              "description": "the search text as searched after typo correction"},
                "courses": {"type": "array", "items": {"$ref": "#/components/schemas/CourseSummary"}}}}),
            **errors(400)}}},
    "/courses/{slug}": {"get": {
        "summary": "One course with its lessons", "parameters": [SLUG],
        "responses": {"200": response("The course", {"allOf": [
            {"$ref": "#/components/schemas/CourseSummary"},
            {"type": "object", "required": ["lessons"], "properties": {
                "description": {"type": "string"},
                "lessons": {"type": "array", "items": {"$ref": "#/components/schemas/Lesson"}},
                "announcements": {"type": "array", "description": "the latest three, newest first",
                                  "items": {"$ref": "#/components/schemas/Announcement"}}}}]}),
            **errors(404)}}},
}
OPENAPI_SCHEMAS: dict = {
    "CourseSummary": {"type": "object",
                      "required": ["slug", "title", "price_cents", "currency", "category", "level"],
                      "properties": {
                          "slug": {"type": "string"}, "title": {"type": "string"},
                          "subtitle": {"type": "string"}, "price_cents": {"type": "integer"},
                          "currency": {"type": "string"}, "category": {"type": "string"},
                          "level": {"type": "string", "enum": ["beginner", "intermediate", "advanced"]},
                          "language": {"type": "string"},
                          "instructor": {"type": "string", "nullable": True}}},
    "Lesson": {"type": "object", "required": ["id", "title", "free_preview"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "free_preview": {"type": "boolean"}}},
}
