"""``/api/v1`` lesson and course progress: activity heartbeats, per-lesson and per-course status."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import enrollments, progress
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, json_body, path_param, ref, response


def _string(body: dict, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"send a JSON object with a string {key!r}")
    return value


def _seconds(body: dict) -> float | None:
    value = body.get("seconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 86400:
        raise InvalidInput("'seconds' must be a number of seconds between 0 and 86400")
    return float(value)


class HeartbeatAPI(APIHandler):
    @requires_user
    def post(self):
        user = self.require_user()
        body = self.json_body()
        status = progress.heartbeat(self.db, user, _string(body, "course"), _string(body, "lesson"),
                                    seconds=_seconds(body), idle_seconds=self.config.idle_seconds)
        self.db.commit()
        self.write_json(status)


class MyProgressAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"courses": progress.my_progress(self.db, user)})


class CourseProgressAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        user = self.require_user()
        self.write_json(progress.course_progress(self.db, user, slug))


class LessonProgressAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        course, lesson, _ = enrollments.lesson_access(self.db, user, slug, lesson_key)
        self.write_json(progress.lesson_status(self.db, user.id, lesson, course))


default_handlers = [
    (r"api/v1/me/heartbeats", HeartbeatAPI),
    (r"api/v1/me/progress", MyProgressAPI),
    (r"api/v1/courses/([^/]+)/progress", CourseProgressAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/progress", LessonProgressAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/me/heartbeats": {"post": {
        "summary": "Report time spent on a lesson since the last report (the student's server measures it from "
                   "the browser's activity); each report counts at most LMS_IDLE_SECONDS and at most the time "
                   "since this lesson's previous report",
        "security": SECURITY, "requestBody": json_body({"type": "object", "required": ["course", "lesson"], "properties": {
            "course": {"type": "string"}, "lesson": {"type": "string"},
            "seconds": {"type": "number", "minimum": 0, "maximum": 86400,
                        "description": "active seconds on this lesson; without it nothing is added"}}}),
        "responses": {"200": response("The lesson's progress", ref("LessonProgress")), **errors(400, 401, 403, 404)}}},
    "/me/progress": {"get": {"summary": "Progress in every enrolled course", "security": SECURITY, "responses": {
        "200": response("Courses", {"type": "object", "properties": {"courses": {"type": "array", "items": ref("CourseProgress")}}}),
        **errors(401)}}},
    "/courses/{slug}/progress": {"get": {"summary": "My progress in a course: percent, next lesson, resume",
                                         "security": SECURITY, "parameters": [path_param("slug")], "responses": {
                                             "200": response("Progress", ref("CourseProgress")), **errors(401, 404)}}},
    "/courses/{slug}/lessons/{lesson}/progress": {"get": {
        "summary": "My progress in a lesson: time spent, graded parts, completion", "security": SECURITY,
        "parameters": [path_param("slug"), path_param("lesson")],
        "responses": {"200": response("Progress", ref("LessonProgress")), **errors(401, 403, 404)}}},
}
OPENAPI_SCHEMAS: dict = {
    "LessonProgress": {"type": "object", "required": ["course", "lesson", "started", "completed", "seconds_spent"],
                       "properties": {
                           "course": {"type": "string"}, "lesson": {"type": "string"}, "title": {"type": "string"},
                           "started": {"type": "boolean"}, "completed": {"type": "boolean"},
                           "completed_at": {"type": "string", "nullable": True},
                           "seconds_spent": {"type": "integer"}, "pass_threshold": {"type": "number"},
                           "counted_seconds": {"type": "integer"},
                           "parts": {"type": "array", "items": {"type": "object", "properties": {
                               "kind": {"type": "string", "enum": ["notebook", "challenge", "quizzes"]},
                               "ref": {"type": "string"}, "score": {"type": "number"}, "passed": {"type": "boolean"}}}}}},
    "CourseProgress": {"type": "object", "required": ["course", "percent", "completed_lessons", "total_lessons"],
                       "properties": {
                           "course": {"type": "string"}, "title": {"type": "string"}, "percent": {"type": "integer"},
                           "completed_lessons": {"type": "integer"}, "total_lessons": {"type": "integer"},
                           "seconds_spent": {"type": "integer"}, "resume": {"type": "string", "nullable": True},
                           "next": {"type": "string", "nullable": True}, "completed": {"type": "boolean"},
                           "certificate": {"type": "string", "nullable": True},
                           "lessons": {"type": "array", "items": {"type": "object"}}}},
}
