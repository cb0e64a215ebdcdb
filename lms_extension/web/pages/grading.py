"""Instructor grading pages under ``teach/``: the course's grading queue (submissions needing a
manual grade, oldest first) with the feedback release policy and "Release feedback" per lesson;
submissions and scores per lesson; one submission as its autograded notebook, rendered, with
each graded cell's grade box right after it (save one cell, all, or save and go to the next
ungraded; keys j/k or n/p walk the queue); re-grade one submission or a whole lesson; and the
student's feedback page.

The same actions as JSON are in ``api/grading.py``. Only the course's instructors and admins get
past ``grading_admin`` (it checks before anything else).
"""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput
from ...services import exchange, feedback_release, grading_admin
from ..base import BaseHandler

MAX_POINTS_CHARS = 30


def _manual_form(handler: BaseHandler, detail: dict, only: str | None = None) -> list[dict]:
    """The form's fields back into grades: ``points:<nb>:<grade_id>`` and ``comment:<nb>:<grade_id>``;
    ``only``: one cell's ``<nb>:<grade_id>`` (its own Save button)."""
    grades = []
    for cell in detail["cells"]:
        key = f"{cell['notebook']}:{cell['grade_id']}"
        if only is not None and key != only:
            continue
        raw = handler.get_body_argument(f"points:{key}", None)
        comment = handler.get_body_argument(f"comment:{key}", None)
        if raw is None and comment is None:
            continue
        title = cell.get("title") or "this part"
        raw = (raw or "").strip().replace(",", ".")
        if len(raw) > MAX_POINTS_CHARS:
            raise InvalidInput(f"{title}: points must be a number") from None
        try:
            points = float(raw) if raw else None
        except ValueError:
            raise InvalidInput(f"{title}: points must be a number, not {raw[:MAX_POINTS_CHARS]!r}") from None
        grades.append({"notebook": cell["notebook"], "grade_id": cell["grade_id"], "points": points,
                       "comment": comment or ""})
    if only is not None and not grades:
        raise InvalidInput("that part is not in this submission")
    return grades


def _typed(handler: BaseHandler, detail: dict) -> dict:
    """What the instructor typed, to show again with an error: ``{"<nb>:<grade_id>": (points, comment)}``."""
    typed = {}
    for cell in detail["cells"]:
        key = f"{cell['notebook']}:{cell['grade_id']}"
        raw = handler.get_body_argument(f"points:{key}", None)
        comment = handler.get_body_argument(f"comment:{key}", None)
        if raw is not None or comment is not None:
            typed[key] = (raw if raw is not None else "", comment if comment is not None else cell["comment"])
    return typed


class CourseGradingPage(BaseHandler):
    """The grading queue of a course, with counts per lesson, filters and the release policy."""

    @web.authenticated
    def get(self, slug: str):
        user = self.require_user()
        lesson = self.get_query_argument("lesson", "") or None
        attempts = self.get_query_argument("attempts", "latest")
        if attempts not in grading_admin.QUEUE_ATTEMPTS:
            attempts = "latest"
        course, rows = grading_admin.course_overview(self.db, user, slug)
        if lesson is not None and lesson not in {r["lesson"].key for r in rows}:
            lesson = None  # a stale or typed filter shows the whole course rather than an error
        view = grading_admin.queue(self.db, user, slug, attempts=attempts)  # every lesson's counts
        counts = {row["lesson"]: row for row in view["lessons"]}
        if lesson is not None:
            view["submissions"] = [s for s in view["submissions"] if s["lesson"] == lesson]
            view["lesson"] = lesson
        self.render_page("grading/course.html", course=course, rows=rows, q=view, counts=counts,
                         studio_section="grading", release_labels=feedback_release.LABELS)


class GradingSettingsPage(BaseHandler):
    """POST: the course's feedback release policy."""

    @web.authenticated
    def post(self, slug: str):
        value = self.get_body_argument("feedback_release", "")
        after = grading_admin.set_release_policy(self.db, self.require_user(), slug, value)
        self.db.commit()
        self.add_notice(f"Feedback: {feedback_release.LABELS[after].lower()}.")
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/grading")


class LessonReleasePage(BaseHandler):
    """POST: release the lesson's held feedback to its students."""

    @web.authenticated
    def post(self, slug: str, lesson_key: str):
        result = grading_admin.release_lesson(self.db, self.require_user(), slug, lesson_key)
        self.db.commit()
        text = f"Feedback released on {result['released']} submission(s)."
        if result["still_ungraded"]:
            text += f" {result['still_ungraded']} still need a manual grade and stay held."
        self.add_notice(text)
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/grading")


class LessonSubmissionsPage(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str):
        course, lesson, rows = grading_admin.lesson_submissions(self.db, self.require_user(), slug, lesson_key)
        held = feedback_release.held(self.db, course.id)
        self.render_page("grading/lesson.html", course=course, lesson=lesson, studio_section="grading",
                         rows=[{**grading_admin.row_view(r), "feedback_held": held and r.submission.status == "graded"
                                and r.submission.feedback_released_at is None} for r in rows],
                         regraded=self.get_query_argument("regraded", None))


class LessonRegradePage(BaseHandler):
    @web.authenticated
    def post(self, slug: str, lesson_key: str):
        count = grading_admin.regrade_lesson(self.db, self.require_user(), slug, lesson_key)
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/lessons/{lesson_key}/submissions"
                      f"?regraded={count}")


class SubmissionPage(BaseHandler):
    def _render(self, user, submission_id: int, *, error: str | None = None, typed: dict | None = None,
                saved=None, status: int = 200):
        detail = grading_admin.detail(self.db, user, submission_id)
        self.set_status(status)
        self.render_page("grading/submission.html", s=detail, saved=saved, error=error, typed=typed or {},
                         books=grading_admin.notebook_view(detail),
                         nav=grading_admin.neighbours(self.db, user, submission_id),
                         course=grading_admin.taught_course(self.db, user, detail["course"]),
                         studio_section="grading", empty=self.get_query_argument("empty", None))

    @web.authenticated
    def get(self, submission_id: str):
        self._render(self.require_user(), int(submission_id), saved=self.get_query_argument("saved", None))

    @web.authenticated
    def post(self, submission_id: str):
        user = self.require_user()
        sid = int(submission_id)
        detail = grading_admin.detail(self.db, user, sid)
        try:
            grades = _manual_form(self, detail, only=self.get_body_argument("only", None))
            grading_admin.save_manual_grades(self.db, user, sid, grades)
        except InvalidInput as exc:  # the form again, with what was typed and why it was refused
            self.db.rollback()
            typed = _typed(self, detail)
            self._render(user, sid, error=exc.message, typed=typed, status=400)
            return
        self.db.commit()
        if self.get_body_argument("then", "") == "next":
            nav = grading_admin.neighbours(self.db, user, sid)
            target = nav["next"] or nav["first"]
            if target is not None:
                self.redirect(f"{self.config.service_prefix}teach/submissions/{target}?saved=1")
                return
            self.redirect(f"{self.config.service_prefix}teach/submissions/{sid}?saved=1&empty=1")
            return
        self.redirect(f"{self.config.service_prefix}teach/submissions/{sid}?saved=1")


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
    (r"teach/courses/([^/]+)/grading/settings", GradingSettingsPage),
    (r"teach/courses/([^/]+)/lessons/([^/]+)/release-feedback", LessonReleasePage),
    (r"teach/courses/([^/]+)/lessons/([^/]+)/submissions", LessonSubmissionsPage),
    (r"teach/courses/([^/]+)/lessons/([^/]+)/regrade", LessonRegradePage),
    (r"teach/submissions/([0-9]{1,9})", SubmissionPage),
    (r"teach/submissions/([0-9]{1,9})/regrade", SubmissionRegradePage),
    (r"submissions/([0-9]{1,9})/feedback", FeedbackPage),
    (r"submissions/([0-9]{1,9})/feedback/file", FeedbackFile),
]
