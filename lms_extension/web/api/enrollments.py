"""``/api/v1`` enrollments: enrolling in a free course, and mine."""
from __future__ import annotations

from ...services import enrollments
from ..base import APIHandler, requires_user
from .courses import course_summary


class EnrollAPI(APIHandler):
    @requires_user
    def post(self, slug: str):
        self.json_body()  # rejects a malformed body even though none is needed
        user = self.require_user()
        enrollment, created = enrollments.enroll(self.db, user, slug)
        self.db.commit()
        self.write_json({"course": slug, "source": enrollment.source,
                         "enrolled_at": enrollment.created_at.isoformat()}, 201 if created else 200)


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
    (r"api/v1/courses/([^/]+)/enroll", EnrollAPI),
    (r"api/v1/me/enrollments", MyEnrollmentsAPI),
]
