"""``/api/v1/courses``: the public catalog, enrollment and lesson delivery."""
from __future__ import annotations

from ...services import catalog, enrollments, lessons
from ..base import APIHandler, parse_catalog_query, requires_user


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


class EnrollAPI(APIHandler):
    @requires_user
    def post(self, slug: str):
        self.json_body()  # rejects a malformed body even though none is needed
        user = self.require_user()
        enrollment, created = enrollments.enroll(self.db, user, slug)
        self.db.commit()
        self.write_json({"course": slug, "source": enrollment.source,
                         "enrolled_at": enrollment.created_at.isoformat()}, 201 if created else 200)


class LessonNotebookAPI(APIHandler):
    """The student version of a lesson notebook; the lms_extension calls this with the user's token."""

    def get(self, slug: str, lesson_key: str):
        delivery = lessons.deliver(self.db, self.lms_user, slug, lesson_key)
        self.db.commit()
        self.write_json({"course": delivery.course_slug, "lesson": delivery.lesson_key,
                         "filename": delivery.filename, "version": delivery.version,
                         "notebook": delivery.notebook})


class MyEnrollmentsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        rows = enrollments.enrollments_for(self.db, user)
        self.write_json({"enrollments": [
            {"course": course_summary(e.course), "source": e.source,
             "enrolled_at": e.created_at.isoformat(), "last_lesson": e.last_lesson_key}
            for e in rows
        ]})


default_handlers = [
    (r"api/v1/courses", CoursesAPI),
    (r"api/v1/courses/([^/]+)", CourseAPI),
    (r"api/v1/courses/([^/]+)/enroll", EnrollAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/notebook", LessonNotebookAPI),
    (r"api/v1/me/enrollments", MyEnrollmentsAPI),
]
