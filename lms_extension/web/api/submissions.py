"""Notebook submissions: stored at once (202), graded by a worker, polled for the result."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import grading_queue
from ..base import APIHandler, requires_user
from .spec import ERROR, LESSON, SLUG, errors, response


class LessonSubmissionsAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        self.write_json(grading_queue.my_lesson_submissions(self.db, user, slug, lesson_key))

    @requires_user
    def post(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or "notebooks" not in body:
            raise InvalidInput('send {"notebooks": {"<lesson>.ipynb": <notebook>}}')
        submission = grading_queue.enqueue(self.db, user, slug, lesson_key, body["notebooks"])
        self.db.commit()
        self.set_header("Location", f"{self.config.service_prefix}api/v1/submissions/{submission.id}")
        self.write_json(grading_queue.view(submission), 202)


class SubmissionAPI(APIHandler):
    @requires_user
    def get(self, submission_id: str):
        user = self.require_user()
        self.write_json(grading_queue.view(grading_queue.get_own(self.db, user, int(submission_id))))


default_handlers = [
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/submissions", LessonSubmissionsAPI),
    (r"api/v1/submissions/([0-9]{1,9})", SubmissionAPI),
]


# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/courses/{slug}/lessons/{lesson}/submissions": {"get": {
        "summary": "My submissions of the lesson (newest first) with its policy and my attempts and cooldown",
        "security": [{"hubToken": []}], "parameters": [SLUG, LESSON],
        "responses": {"200": response("Policy, standing and submissions", {
            "$ref": "#/components/schemas/LessonSubmissions"}), **errors(401, 403, 404)}}, "post": {
        "summary": "Submit the lesson notebook for grading (stored first, graded by a worker)",
        "security": [{"hubToken": []}], "parameters": [SLUG, LESSON],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["notebooks"], "properties": {"notebooks": {
                "type": "object", "description": "filename -> notebook (JSON object or text)"}}}}}},
        "responses": {"202": response("Queued; poll the Location", {"$ref": "#/components/schemas/NotebookSubmission"}),
                      "409": response("No attempts left (the lesson's max_attempts)", ERROR),
                      "429": response("Cooldown between submissions: retry after Retry-After seconds", ERROR),
                      **errors(400, 401, 403, 404, 413)}}},
    "/submissions/{submission}": {"get": {
        "summary": "One of my notebook submissions, with score and feedback once graded",
        "security": [{"hubToken": []}],
        "parameters": [{"name": "submission", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": response("The submission", {"$ref": "#/components/schemas/NotebookSubmission"}),
                      **errors(401, 404)}}},
}
OPENAPI_SCHEMAS: dict = {
    "LessonSubmissions": {"type": "object", "required": ["course", "lesson", "attempts_used", "submissions"],
                          "properties": {
        "course": {"type": "string"}, "lesson": {"type": "string"},
        "policy": {"type": "object", "nullable": True, "properties": {
            "deadline": {"type": "string", "nullable": True,
                         "description": "the student's own deadline: the lesson's, or later with an extension"},
            "late_policy": {"type": "string", "enum": ["none", "percent_per_day", "zero"]},
            "late_percent_per_day": {"type": "number"},
            "max_attempts": {"type": "integer", "nullable": True},
            "cooldown_seconds": {"type": "integer"}}},
        "attempts_used": {"type": "integer", "description": "submissions that count (failed gradings do not)"},
        "attempts_left": {"type": "integer", "nullable": True, "description": "null: no limit"},
        "cooldown_remaining_seconds": {"type": "integer"},
        "past_deadline": {"type": "boolean"},
        "deadline_extended": {"type": "boolean", "description": "the instructor gave this student a later deadline"},
        "late_penalty_percent_now": {"type": "number", "description": "what a submission now would lose"},
        "submissions": {"type": "array", "items": {"$ref": "#/components/schemas/NotebookSubmission"}}}},
    "NotebookSubmission": {"type": "object", "required": ["id", "status", "lesson"], "properties": {
        "id": {"type": "integer"}, "lesson": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "grading", "graded", "failed"]},
        "submitted_at": {"type": "string"}, "finished_at": {"type": "string", "nullable": True},
        "score": {"type": "number", "nullable": True}, "max_score": {"type": "number", "nullable": True},
        "feedback": {"type": "object", "nullable": True}, "error": {"type": "string", "nullable": True},
        "attempt": {"type": "integer"},
        "auto_score": {"type": "number", "nullable": True,
                       "description": "the autograder's points"},
        "manual_score": {"type": "number", "nullable": True,
                         "description": "what manual grades add (or take away)"},
        "late_penalty_percent": {"type": "number",
                                 "description": "score = (auto + manual) less this percentage"}}},
}
