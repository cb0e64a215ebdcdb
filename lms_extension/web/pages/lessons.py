"""The lesson page: open in JupyterLab, submit the notebook, see scores and feedback."""
from __future__ import annotations

from tornado import web

from ...services import enrollments, grading_queue
from ..base import BaseHandler
from .learning import lesson_learning_context
from .catalog import lesson_open_url


class LessonPage(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        course, lesson, enrollment = enrollments.lesson_access(self.db, user, slug, lesson_key)
        submissions = [grading_queue.view(s) for s in grading_queue.submissions_for_lesson(self.db, user, lesson.id)]
        self.render_page(
            "lesson.html", course=course, lesson=lesson, enrollment=enrollment, submissions=submissions,
            open_url=lesson_open_url(self.config.hub_prefix, slug, lesson_key),
            submit_url=f"{self.config.hub_prefix}user-redirect/lms/submit?course={slug}&lesson={lesson_key}",
            pending=any(s["status"] in ("queued", "grading") for s in submissions),
            **lesson_learning_context(self.db, user, course, lesson, enrollment),
        )


default_handlers = [(r"courses/([^/]+)/lessons/([^/]+)", LessonPage)]
