"""``/api/v1`` lesson delivery: the student version of a lesson notebook."""
from __future__ import annotations

from ...services import lessons
from ..base import APIHandler
from .spec import LESSON, SLUG, errors, response


class LessonNotebookAPI(APIHandler):
    """The student version of a lesson notebook; the lms_extension calls this with the user's token."""

    def get(self, slug: str, lesson_key: str):
        delivery = lessons.deliver(self.db, self.lms_user, slug, lesson_key)
        self.db.commit()
        self.write_json({"course": delivery.course_slug, "lesson": delivery.lesson_key,
                         "filename": delivery.filename, "version": delivery.version,
                         "notebook": delivery.notebook})


default_handlers = [
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/notebook", LessonNotebookAPI),
]


# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/courses/{slug}/lessons/{lesson}/notebook": {"get": {
        "summary": "The student version of a lesson notebook (enrolled users or free previews)",
        "parameters": [SLUG, LESSON],
        "responses": {"200": response("The notebook", {
            "type": "object", "required": ["course", "lesson", "filename", "version", "notebook"],
            "properties": {"course": {"type": "string"}, "lesson": {"type": "string"},
                           "filename": {"type": "string"}, "version": {"type": "integer"},
                           "notebook": {"type": "string", "description": "nbformat 4 JSON"}}}),
            **errors(403, 404)}}},
}
