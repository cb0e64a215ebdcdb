"""Instructor grading pages under ``teach/``: submissions and scores per lesson, the autograded
notebook, manual grades with comments, re-grade one submission or a whole lesson; and the
student's feedback page.

The same actions as JSON are in ``api/grading.py``. Only the course's instructors and admins get
past ``grading_admin`` (it checks before anything else).
"""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput
from ...services import exchange, grading_admin
from ..base import BaseHandler


def _manual_form(handler: BaseHandler, detail: dict) -> list[dict]:
    """The form's fields back into grades: ``points:<nb>:<grade_id>`` and ``comment:<nb>:<grade_id>``."""
    grades = []
    for cell in detail["cells"]:
        key = f"{cell['notebook']}:{cell['grade_id']}"
        raw = handler.get_body_argument(f"points:{key}", None)
        comment = handler.get_body_argument(f"comment:{key}", None)
        if raw is None and comment is None:
            continue
        try:
            points = float(raw) if raw not in (None, "") else None
        except ValueError:
            raise InvalidInput(f"{cell['grade_id']}: points must be a number") from None
        grades.append({"notebook": cell["notebook"], "grade_id": cell["grade_id"], "points": points,
                       "comment": comment or ""})
    return grades


class CourseGradingPage(BaseHandler):
    @web.authenticated
    def get(self, slug: str):
        course, rows = grading_admin.course_overview(self.db, self.require_user(), slug)
        self.render_page("grading/course.html", course=course, rows=rows)


class LessonSubmissionsPage(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str):
        course, lesson, rows = grading_admin.lesson_submissions(self.db, self.require_user(), slug, lesson_key)
        self.render_page("grading/lesson.html", course=course, lesson=lesson,
                         rows=[grading_admin.row_view(r) for r in rows],
                         regraded=self.get_query_argument("regraded", None))


class LessonRegradePage(BaseHandler):
    @web.authenticated
    def post(self, slug: str, lesson_key: str):
        count = grading_admin.regrade_lesson(self.db, self.require_user(), slug, lesson_key)
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/lessons/{lesson_key}/submissions"
                      f"?regraded={count}")


class SubmissionPage(BaseHandler):
    @web.authenticated
    def get(self, submission_id: str):
        detail = grading_admin.detail(self.db, self.require_user(), int(submission_id))
        self.render_page("grading/submission.html", s=detail, saved=self.get_query_argument("saved", None))

    @web.authenticated
    def post(self, submission_id: str):
        user = self.require_user()
        detail = grading_admin.detail(self.db, user, int(submission_id))
        grading_admin.save_manual_grades(self.db, user, int(submission_id), _manual_form(self, detail))
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}teach/submissions/{submission_id}?saved=1")


class SubmissionRegradePage(BaseHandler):
    @web.authenticated
    def post(self, submission_id: str):
        grading_admin.regrade(self.db, self.require_user(), int(submission_id))
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}teach/submissions/{submission_id}")


class FeedbackPage(BaseHandler):
    """The student's own feedback notebook in the platform's page; the notebook itself is framed
    from ``FeedbackFile`` (their outputs are theirs, not ours: it runs nothing)."""

    @web.authenticated
    def get(self, submission_id: str):
        view = exchange.feedback_files(self.db, self.require_user(), int(submission_id))
        self.render_page("grading/feedback.html", s=view,
                         file_url=f"{self.config.service_prefix}submissions/{view['id']}/feedback/file")


class FeedbackFile(BaseHandler):
    """The feedback notebook's HTML alone, sandboxed; only our own feedback page may frame it."""

    @web.authenticated
    def get(self, submission_id: str):
        files = exchange.feedback_files(self.db, self.require_user(), int(submission_id))["files"]
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; "
                                                   "style-src 'unsafe-inline'; frame-ancestors 'self'")
        self.set_header("X-Frame-Options", "SAMEORIGIN")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(next(iter(files.values())))


default_handlers = [
    (r"teach/courses/([^/]+)/grading", CourseGradingPage),
    (r"teach/courses/([^/]+)/lessons/([^/]+)/submissions", LessonSubmissionsPage),
    (r"teach/courses/([^/]+)/lessons/([^/]+)/regrade", LessonRegradePage),
    (r"teach/submissions/([0-9]+)", SubmissionPage),
    (r"teach/submissions/([0-9]+)/regrade", SubmissionRegradePage),
    (r"submissions/([0-9]+)/feedback", FeedbackPage),
    (r"submissions/([0-9]+)/feedback/file", FeedbackFile),
]
