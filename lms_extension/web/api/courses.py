"""``/api/v1/courses``: the public catalog and one course."""
from __future__ import annotations

from ...services import catalog
from ..base import APIHandler, parse_catalog_query


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
        })


default_handlers = [
    (r"api/v1/courses", CoursesAPI),
    (r"api/v1/courses/([^/]+)", CourseAPI),
]
