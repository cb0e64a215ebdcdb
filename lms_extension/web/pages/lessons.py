"""The lesson page: the lesson's notebook to read, open it in JupyterLab, its deadline, attempts and
cooldown, submit the notebook, see scores and feedback; quizzes, notes, bookmarks, resources and
video on it (their forms post to the pages of those resources)."""
from __future__ import annotations

import json

from tornado import web

from ...services import enrollments, forum, grading_queue, lesson_extras, policies, previews, progress, quizzes
from ..base import BaseHandler
from .catalog import lesson_open_url


def lesson_learning_context(session, user, course, lesson, enrollment) -> dict:
    """What the lesson page shows beyond submissions."""
    video = lesson_extras.video_of(session, lesson)
    return {
        "quizzes": quizzes.quizzes_of_lesson(session, user, lesson),
        "lesson_progress": progress.lesson_status(session, user.id, lesson, course) if enrollment else None,
        "note": lesson_extras.get_note(session, user, course.slug, lesson.key)["body"],
        "bookmarked": lesson_extras.is_bookmarked(session, user, lesson),
        "resources": [lesson_extras.resource_view(r) for r in lesson_extras.resources_of(session, lesson)],
        "video": {"content_type": video.content_type, "chapters": json.loads(video.chapters)} if video else None,
        "lesson_base": f"courses/{course.slug}/lessons/{lesson.key}",
    }


class LessonPage(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        course, lesson, enrollment = enrollments.lesson_access(self.db, user, slug, lesson_key)
        submissions = [grading_queue.view(s) for s in grading_queue.submissions_for_lesson(self.db, user, lesson.id)]
        self.render_page(
            "lesson.html", course=course, lesson=lesson, enrollment=enrollment, submissions=submissions,
            notebook_html=previews.lesson_html(self.db, lesson), **policies.standing(self.db, user, lesson),
            open_url=lesson_open_url(self.config.hub_prefix, slug, lesson_key),
            submit_url=f"{self.config.hub_prefix}user-redirect/lms/submit?course={slug}&lesson={lesson_key}",
            pending=any(s["status"] in ("queued", "grading") for s in submissions),
            lesson_threads=forum.lesson_threads(self.db, user, course, lesson),
            **lesson_learning_context(self.db, user, course, lesson, enrollment),
        )


class LessonForm(BaseHandler):
    def back(self, slug: str, lesson_key: str, anchor: str = "") -> None:
        self.redirect(f"{self.config.service_prefix}courses/{slug}/lessons/{lesson_key}#{anchor}")


default_handlers = [(r"courses/([^/]+)/lessons/([^/]+)", LessonPage)]
