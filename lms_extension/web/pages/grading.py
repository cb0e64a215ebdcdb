"""Instructor grading: submissions and scores per lesson, the autograded notebook,
manual grades with comments, re-grade one submission or a whole lesson.

Pages under ``teach/`` and the same actions as JSON under ``api/v1/teach/``. Only the
course's instructors and admins get past ``grading_admin`` (it checks before anything else).
"""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput
from ...services import exchange, grading_admin
from ..base import APIHandler, BaseHandler, requires_user


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
    """The student's own feedback notebook as HTML; sandboxed (their outputs are theirs, not ours)."""

    @web.authenticated
    def get(self, submission_id: str):
        files = exchange.feedback_files(self.db, self.require_user(), int(submission_id))["files"]
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(next(iter(files.values())))


# ---- JSON -----------------------------------------------------------------------------
class LessonSubmissionsAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        _, _, rows = grading_admin.lesson_submissions(self.db, self.require_user(), slug, lesson_key)
        self.write_json({"submissions": [grading_admin.row_view(r) for r in rows]})


class LessonRegradeAPI(APIHandler):
    @requires_user
    def post(self, slug: str, lesson_key: str):
        count = grading_admin.regrade_lesson(self.db, self.require_user(), slug, lesson_key)
        self.db.commit()
        self.write_json({"requeued": count}, 202)


class SubmissionAPI(APIHandler):
    @requires_user
    def get(self, submission_id: str):
        self.write_json(grading_admin.detail(self.db, self.require_user(), int(submission_id)))


class SubmissionRegradeAPI(APIHandler):
    @requires_user
    def post(self, submission_id: str):
        user = self.require_user()
        grading_admin.regrade(self.db, user, int(submission_id))
        self.db.commit()
        self.write_json(grading_admin.detail(self.db, user, int(submission_id)), 202)


class ManualGradesAPI(APIHandler):
    @requires_user
    def put(self, submission_id: str):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or "grades" not in body:
            raise InvalidInput('send {"grades": [{"notebook", "grade_id", "points", "comment"}, ...]}')
        grading_admin.save_manual_grades(self.db, user, int(submission_id), body["grades"])
        self.db.commit()
        self.write_json(grading_admin.detail(self.db, user, int(submission_id)))


default_handlers = [
    (r"teach/courses/([^/]+)/grading", CourseGradingPage),
    (r"teach/courses/([^/]+)/lessons/([^/]+)/submissions", LessonSubmissionsPage),
    (r"teach/courses/([^/]+)/lessons/([^/]+)/regrade", LessonRegradePage),
    (r"teach/submissions/([0-9]+)", SubmissionPage),
    (r"teach/submissions/([0-9]+)/regrade", SubmissionRegradePage),
    (r"submissions/([0-9]+)/feedback", FeedbackPage),
    (r"api/v1/teach/courses/([^/]+)/lessons/([^/]+)/submissions", LessonSubmissionsAPI),
    (r"api/v1/teach/courses/([^/]+)/lessons/([^/]+)/regrade", LessonRegradeAPI),
    (r"api/v1/teach/submissions/([0-9]+)", SubmissionAPI),
    (r"api/v1/teach/submissions/([0-9]+)/regrade", SubmissionRegradeAPI),
    (r"api/v1/teach/submissions/([0-9]+)/grades", ManualGradesAPI),
]

_ERROR = {"$ref": "#/components/schemas/Error"}
_SEC = [{"hubToken": []}]
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_LESSON = {"name": "lesson", "in": "path", "required": True, "schema": {"type": "string"}}
_SUB = {"name": "submission", "in": "path", "required": True, "schema": {"type": "integer"}}


def _r(description: str, schema: dict | None = None) -> dict:
    body = {"description": description}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def _errs(*codes: int) -> dict:
    text = {400: "Bad input", 401: "Not logged in", 403: "Not an instructor of this course",
            404: "Not found", 413: "Body too large"}
    return {str(c): _r(text[c], _ERROR) for c in codes}


_DETAIL = {"$ref": "#/components/schemas/GradedSubmission"}
OPENAPI_PATHS: dict = {
    "/teach/courses/{slug}/lessons/{lesson}/submissions": {"get": {
        "summary": "Instructors: every submission of a lesson with raw, manual, penalty and final scores",
        "security": _SEC, "parameters": [_SLUG, _LESSON],
        "responses": {"200": _r("Submissions by student, newest first", {
            "type": "object", "required": ["submissions"], "properties": {"submissions": {
                "type": "array", "items": {"$ref": "#/components/schemas/SubmissionRow"}}}}),
            **_errs(401, 403, 404)}}},
    "/teach/courses/{slug}/lessons/{lesson}/regrade": {"post": {
        "summary": "Instructors: queue every submission of the lesson again, against its newest published version",
        "security": _SEC, "parameters": [_SLUG, _LESSON],
        "responses": {"202": _r("Queued again", {"type": "object", "required": ["requeued"],
                                                 "properties": {"requeued": {"type": "integer"}}}),
                      **_errs(401, 403, 404)}}},
    "/teach/submissions/{submission}": {"get": {
        "summary": "Instructors: one submission with per-cell results, manual grades and the autograded notebook",
        "security": _SEC, "parameters": [_SUB],
        "responses": {"200": _r("The submission", _DETAIL), **_errs(401, 403, 404)}}},
    "/teach/submissions/{submission}/regrade": {"post": {
        "summary": "Instructors: queue one submission again, against the lesson's newest published version",
        "security": _SEC, "parameters": [_SUB],
        "responses": {"202": _r("Queued again", _DETAIL), **_errs(401, 403, 404)}}},
    "/teach/submissions/{submission}/grades": {"put": {
        "summary": "Instructors: points and comments per cell; the final score is auto + manual less the late penalty",
        "security": _SEC, "parameters": [_SUB],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["grades"], "properties": {"grades": {"type": "array", "items": {
                "type": "object", "required": ["notebook", "grade_id"], "properties": {
                    "notebook": {"type": "string"}, "grade_id": {"type": "string"},
                    "points": {"type": "number", "nullable": True,
                               "description": "replaces the cell's automatic points; null: comment only"},
                    "comment": {"type": "string", "maxLength": 10000}}}}}}}}},
        "responses": {"200": _r("Saved", _DETAIL), **_errs(400, 401, 403, 404, 413)}}},
}
_ROW_PROPS = {
    "id": {"type": "integer"}, "student": {"type": "string"}, "attempt": {"type": "integer"},
    "status": {"type": "string", "enum": ["queued", "grading", "graded", "failed"]},
    "lesson_version": {"type": "integer"}, "submitted_at": {"type": "string"},
    "auto_score": {"type": "number", "nullable": True}, "manual_score": {"type": "number", "nullable": True},
    "late_penalty_percent": {"type": "number"}, "score": {"type": "number", "nullable": True},
    "max_score": {"type": "number", "nullable": True}, "needs_manual_grade": {"type": "boolean"},
    "regrades": {"type": "integer"}}
OPENAPI_SCHEMAS: dict = {
    "SubmissionRow": {"type": "object", "required": ["id", "student", "status"], "properties": _ROW_PROPS},
    "GradedSubmission": {"type": "object", "required": ["id", "student", "status", "cells"], "properties": {
        **_ROW_PROPS, "course": {"type": "string"}, "lesson": {"type": "string"},
        "error": {"type": "string", "nullable": True},
        "cells": {"type": "array", "items": {"type": "object"}},
        "autograded": {"type": "object", "description": "notebook name -> autograded notebook (hidden tests included)"}}},
}
