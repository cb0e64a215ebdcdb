"""``/api/v1`` quizzes: a lesson's questions and graded answers."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import quizzes
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, json_body, path_param, ref, response


class LessonQuizzesAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        self.write_json({"quizzes": quizzes.lesson_quiz_list(self.db, user, slug, lesson_key)})


class QuizAnswerAPI(APIHandler):
    @requires_user
    def post(self, slug: str, quiz_key: str):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or "answer" not in body:
            raise InvalidInput('send {"answer": <option index, letter or list> | "<text>"}')
        result = quizzes.answer(self.db, user, slug, quiz_key, body["answer"])
        self.db.commit()
        self.write_json(result)


default_handlers = [
    (r"api/v1/courses/([^/]+)/quizzes/([^/]+)/answers", QuizAnswerAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/quizzes", LessonQuizzesAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/courses/{slug}/quizzes/{quiz}/answers": {"post": {
        "summary": "Answer a quiz (graded on the server; the key is never sent)", "security": SECURITY,
        "parameters": [path_param("slug"), path_param("quiz")],
        "requestBody": json_body({"type": "object", "required": ["answer"], "properties": {"answer": {}}}),
        "responses": {"200": response("Graded attempt", ref("Quiz")), **errors(400, 401, 403, 404, 409)}}},
    "/courses/{slug}/lessons/{lesson}/quizzes": {"get": {
        "summary": "The lesson's quizzes (questions and my attempts, no answers)", "security": SECURITY,
        "parameters": [path_param("slug"), path_param("lesson")],
        "responses": {"200": response("Quizzes", {"type": "object", "properties": {
            "quizzes": {"type": "array", "items": ref("Quiz")}}}), **errors(401, 403, 404)}}},
}
OPENAPI_SCHEMAS: dict = {
    "Quiz": {"type": "object", "required": ["id", "type", "question"], "properties": {
        "id": {"type": "string"}, "type": {"type": "string", "enum": ["choice", "short"]},
        "question": {"type": "string"}, "options": {"type": "array", "items": {"type": "string"}},
        "points": {"type": "number"}, "attempts_allowed": {"type": "integer"}, "attempts_used": {"type": "integer"},
        "attempts_left": {"type": "integer", "nullable": True}, "solved": {"type": "boolean"},
        "score": {"type": "number"}, "feedback": {"type": "string", "nullable": True},
        "finished": {"type": "boolean"}, "correct": {"type": "boolean"},
        "multiple": {"type": "boolean", "description": "several options are right (else pick exactly one)"},
        "your_answer": {"nullable": True, "description": "the last attempt, once the quiz is finished"},
        "correct_answer": {"nullable": True, "description": "option indexes or accepted texts, once the quiz is finished"}}},
}
