"""nbgrader Exchange backed by the LMS: list, fetch, submit, fetch feedback.

The student's server (``lms_extension.labserver.exchange``) calls these with the student's
own JupyterHub token; nothing is shared but HTTP.
"""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import exchange, grading_queue
from ..base import APIHandler, requires_user
from .spec import errors, response


class AssignmentsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"assignments": exchange.list_assignments(
            self.db, user, self.get_query_argument("course_id", None))})


class AssignmentAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = exchange.fetch(self.db, user, slug, lesson_key)
        self.db.commit()
        self.write_json(body)


class AssignmentSubmissionsAPI(APIHandler):
    @requires_user
    def post(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or "notebooks" not in body:
            raise InvalidInput('send {"notebooks": {"<lesson>.ipynb": <notebook>}}')
        submission = exchange.submit(self.db, user, slug, lesson_key, body["notebooks"])
        self.db.commit()
        self.set_header("Location", f"{self.config.service_prefix}api/v1/submissions/{submission.id}")
        self.write_json(grading_queue.view(submission), 202)


class LessonAccessAPI(APIHandler):
    """The student's server asks which lessons in the home the student may still open."""

    @requires_user
    def post(self):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or "lessons" not in body:
            raise InvalidInput('send {"lessons": [{"course": <slug>, "lesson": <id>}, ...]}')
        self.write_json({"lessons": exchange.lesson_access(self.db, user, body["lessons"])})


class SubmissionsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"submissions": exchange.list_submissions(
            self.db, user, self.get_query_argument("course_id", None),
            self.get_query_argument("assignment_id", None))})


class FeedbackAPI(APIHandler):
    @requires_user
    def get(self, submission_id: str):
        user = self.require_user()
        self.write_json(exchange.feedback_files(self.db, user, int(submission_id)))


default_handlers = [
    (r"api/v1/exchange/assignments", AssignmentsAPI),
    (r"api/v1/exchange/courses/([^/]+)/assignments/([^/]+)", AssignmentAPI),
    (r"api/v1/exchange/courses/([^/]+)/assignments/([^/]+)/submissions", AssignmentSubmissionsAPI),
    (r"api/v1/exchange/submissions", SubmissionsAPI),
    (r"api/v1/exchange/access", LessonAccessAPI),
    (r"api/v1/exchange/submissions/([0-9]{1,9})/feedback", FeedbackAPI),
]

_SEC = [{"hubToken": []}]
_COURSE = {"name": "course_id", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "course slug"}
_ASSIGNMENT = {"name": "assignment_id", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "lesson id"}



def _errs(*codes: int) -> dict:
    return errors(*codes, text={403: "Not enrolled", 409: "Not possible now (no attempts left, not graded yet)",
                                429: "Cooldown between submissions: retry after Retry-After seconds"})


def _query(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}


OPENAPI_PATHS: dict = {
    "/exchange/assignments": {"get": {
        "summary": "nbgrader Exchange: the assignments (lessons) of every course I am enrolled in",
        "security": _SEC, "parameters": [_query("course_id", "only this course")],
        "responses": {"200": response("Assignments", {"type": "object", "required": ["assignments"], "properties": {
            "assignments": {"type": "array", "items": {"$ref": "#/components/schemas/ExchangeAssignment"}}}}),
            **_errs(400, 401)}}},
    "/exchange/courses/{course_id}/assignments/{assignment_id}": {"get": {
        "summary": "nbgrader Exchange: fetch the student version of an assignment's notebooks",
        "security": _SEC, "parameters": [_COURSE, _ASSIGNMENT],
        "responses": {"200": response("The released notebooks", {
            "type": "object", "required": ["course_id", "assignment_id", "version", "notebooks"], "properties": {
                "course_id": {"type": "string"}, "assignment_id": {"type": "string"},
                "version": {"type": "integer"},
                "notebooks": {"type": "object", "description": "file name -> nbformat 4 JSON text"}}}),
            **_errs(400, 401, 403, 404)}}},
    "/exchange/courses/{course_id}/assignments/{assignment_id}/submissions": {"post": {
        "summary": "nbgrader Exchange: submit (stored, then graded by a worker; the lesson's policy applies)",
        "security": _SEC, "parameters": [_COURSE, _ASSIGNMENT],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["notebooks"], "properties": {"notebooks": {
                "type": "object", "description": "file name -> notebook (JSON object or text)"}}}}}},
        "responses": {"202": response("Queued", {"$ref": "#/components/schemas/NotebookSubmission"}),
                      **_errs(400, 401, 403, 404, 409, 413, 429)}}},
    "/exchange/access": {"post": {
        "summary": "May I still open these lessons? The student's server locks the ones answered false "
                   "(a refunded purchase); null: the LMS no longer knows the lesson",
        "security": _SEC,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["lessons"], "properties": {"lessons": {"type": "array", "items": {
                "type": "object", "required": ["course", "lesson"],
                "properties": {"course": {"type": "string"}, "lesson": {"type": "string"}}}}}}}}},
        "responses": {"200": response("One answer per lesson asked", {
            "type": "object", "required": ["lessons"], "properties": {"lessons": {"type": "array", "items": {
                "type": "object", "required": ["course", "lesson", "access"], "properties": {
                    "course": {"type": "string"}, "lesson": {"type": "string"},
                    "access": {"type": "boolean", "nullable": True},
                    "message": {"type": "string", "nullable": True,
                                "description": "why not, for the notice put in place of the lesson"}}}}}}),
            **_errs(400, 401)}}},
    "/exchange/submissions": {"get": {
        "summary": "nbgrader Exchange: my submissions, oldest first",
        "security": _SEC, "parameters": [_query("course_id", "only this course"),
                                         _query("assignment_id", "only this assignment")],
        "responses": {"200": response("Submissions", {"type": "object", "required": ["submissions"], "properties": {
            "submissions": {"type": "array", "items": {"$ref": "#/components/schemas/ExchangeSubmission"}}}}),
            **_errs(400, 401)}}},
    "/exchange/submissions/{submission}/feedback": {"get": {
        "summary": "nbgrader Exchange: the HTML feedback of one of my graded submissions (no hidden tests)",
        "security": _SEC,
        "parameters": [{"name": "submission", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": response("Feedback files", {"allOf": [
            {"$ref": "#/components/schemas/ExchangeSubmission"},
            {"type": "object", "required": ["files"], "properties": {"files": {
                "type": "object", "description": "<notebook_id>.html -> HTML"}}}]}),
            **_errs(401, 404, 409)}}},
}
OPENAPI_SCHEMAS: dict = {
    "ExchangeAssignment": {"type": "object", "required": ["course_id", "assignment_id", "notebooks"], "properties": {
        "course_id": {"type": "string"}, "assignment_id": {"type": "string"}, "title": {"type": "string"},
        "notebooks": {"type": "array", "items": {"type": "string"}},
        "policy": {"type": "object", "nullable": True}}},
    "ExchangeSubmission": {"type": "object", "required": ["id", "course_id", "assignment_id", "status"], "properties": {
        "id": {"type": "integer"}, "course_id": {"type": "string"}, "assignment_id": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "grading", "graded", "failed"]},
        "attempt": {"type": "integer"}, "submitted_at": {"type": "string"},
        "score": {"type": "number", "nullable": True}, "max_score": {"type": "number", "nullable": True},
        "notebooks": {"type": "array", "items": {"type": "string"}}, "has_feedback": {"type": "boolean"},
        "feedback_digest": {"type": "string", "nullable": True}}},
}
