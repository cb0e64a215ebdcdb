"""A course's roster and gradebook for its instructor (JSON and CSV).

``GET /api/v1/teach/courses/{slug}/roster``: one page of students (search, filter, sort, page as
query parameters, as on the roster page), each with their lessons, quizzes and code challenges.
``GET /api/v1/teach/courses/{slug}/gradebook.csv``: a header row, then one row per student whose
first column is the username, with every exercise, quiz and code challenge of the course. Both need the hub token
of the course's instructor or an admin.
"""
from __future__ import annotations

from ... import permissions
from ...errors import InvalidInput
from ...services import extensions, gradebook, roster
from ..base import APIHandler, body_dict, requires
from .spec import SECURITY, errors, json_body, path_param, response

TEACHERS_ONLY = "only the course's instructor or an admin can see its students"
QUERY = ("q", "status", "sort", "order", "page", "per_page")


class RosterAPI(APIHandler):
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def get(self, slug: str):
        asked = {name: self.get_query_argument(name, "") for name in QUERY}
        page = roster.course_roster(self.db, self.require_user(), slug, **{k: v for k, v in asked.items() if v})
        certificates = self.public_url("certificates/")
        self.write_json({"course": page.course.slug, "title": page.course.title,
                         "lessons": [{"lesson": ls.key, "title": ls.title} for ls in page.course.lessons],
                         "quizzes": [{"quiz": q.key, "lesson": q.lesson.key, "title": roster.quiz_title(q),
                                      "points": q.points} for q in page.quizzes],
                         "challenges": [{"challenge": c.key, "lesson": c.lesson.key,
                                         "title": roster.challenge_title(c)} for c in page.challenges],
                         "total": page.total, "enrolled": page.enrolled, "page": page.page,
                         "per_page": page.per_page, "pages": page.pages, "q": page.q, "status": page.status,
                         "sort": page.sort, "order": page.order,
                         "students": [roster.row_view(r, certificates) for r in page.rows]})


class GradebookCSVAPI(APIHandler):
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def get(self, slug: str):
        course, text = gradebook.csv_text(self.db, self.require_user(), slug)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{course.slug}-gradebook.csv"')
        self.set_header("Cache-Control", "no-store")
        self.finish(text)


class ExtensionAPI(APIHandler):
    """PUT ``{"deadline": ISO 8601, "reason": text}``: the student's own deadline for the lesson;
    DELETE: back to the lesson's."""

    @requires(permissions.TEACH, "only the course's instructor or an admin can change a student's deadline")
    def put(self, slug: str, username: str, lesson_key: str):
        body = body_dict(self)
        unknown = set(body) - {"deadline", "reason"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
        ext = extensions.grant(self.db, self.require_user(), slug, username, lesson_key, body.get("deadline"),
                               body.get("reason") or "")
        self.db.commit()
        self.write_json({"student": username, "lesson": lesson_key,
                         "deadline": roster.aware(ext.deadline).isoformat(), "reason": ext.reason})

    @requires(permissions.TEACH, "only the course's instructor or an admin can change a student's deadline")
    def delete(self, slug: str, username: str, lesson_key: str):
        removed = extensions.remove(self.db, self.require_user(), slug, username, lesson_key)
        self.db.commit()
        self.write_json({"student": username, "lesson": lesson_key, "removed": removed})


default_handlers = [
    (r"api/v1/teach/courses/([^/]+)/roster", RosterAPI),
    (r"api/v1/teach/courses/([^/]+)/students/([^/]+)/extensions/([^/]+)", ExtensionAPI),
    (r"api/v1/teach/courses/([^/]+)/gradebook\.csv", GradebookCSVAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_TEACHERS = {403: "Not the course's instructor nor an admin"}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_NULLABLE_NUMBER = {"type": "number", "nullable": True}
OPENAPI_PATHS: dict = {
    "/teach/courses/{slug}/roster": {"get": {
        "summary": "Instructors: the course's students with progress, last activity, time spent, per-lesson "
                   "scores and attempts, quiz and code challenge results, deadline extensions and certificate",
        "security": SECURITY,
        "parameters": [
            path_param("slug"),
            _query("q", "part of the username or display name", {"type": "string", "maxLength": roster.MAX_QUERY_CHARS}),
            _query("status", "which students", {"type": "string", "enum": list(roster.FILTERS), "default": "all"}),
            _query("sort", "sort key", {"type": "string", "enum": list(roster.SORTS), "default": "name"}),
            _query("order", "sort order", {"type": "string", "enum": ["asc", "desc"], "default": "asc"}),
            _query("page", "page number", {"type": "integer", "minimum": 1, "default": 1}),
            _query("per_page", "students per page", {"type": "integer", "minimum": 1,
                                                     "maximum": roster.MAX_PER_PAGE,
                                                     "default": roster.DEFAULT_PER_PAGE}),
        ],
        "responses": {"200": response("One page of the roster", {"$ref": "#/components/schemas/Roster"}),
                      **errors(400, 401, 403, 404, text=_TEACHERS)}}},
    "/teach/courses/{slug}/gradebook.csv": {"get": {
        "summary": "Instructors: the gradebook as CSV: a header row, then one row per student (username first) "
                   "with raw score, late penalty and final score per exercise, the best score per quiz (empty: "
                   "not attempted), passed / best tests passed / language per code challenge (empty: never "
                   "submitted), then the exercises' totals. Headers name quizzes and challenges by their titles",
        "security": SECURITY, "parameters": [path_param("slug")],
        "responses": {"200": response("The gradebook", {"type": "string"}, media="text/csv"),
                      **errors(401, 403, 404, text=_TEACHERS)}}},
    "/teach/courses/{slug}/students/{student}/extensions/{lesson}": {
        "put": {
            "summary": "Instructors: give a student their own, later deadline for a lesson (grading, the student's "
                       "views and nbgrader's Exchange use it; their graded submissions are re-scored)",
            "security": SECURITY, "parameters": [path_param("slug"), path_param("student"), path_param("lesson")],
            "requestBody": json_body({"type": "object", "required": ["deadline"], "properties": {
                "deadline": {"type": "string", "format": "date-time",
                             "description": "after the lesson's deadline, at most a year after; UTC without a zone"},
                "reason": {"type": "string", "maxLength": extensions.MAX_REASON_CHARS}}}),
            "responses": {"200": response("Saved", {"type": "object", "properties": {
                "student": {"type": "string"}, "lesson": {"type": "string"},
                "deadline": {"type": "string", "format": "date-time"}, "reason": {"type": "string"}}}),
                **errors(400, 401, 403, 404, text=_TEACHERS)}},
        "delete": {
            "summary": "Instructors: take a student's extension back (the lesson's deadline applies again)",
            "security": SECURITY, "parameters": [path_param("slug"), path_param("student"), path_param("lesson")],
            "responses": {"200": response("Removed (false: there was none)", {"type": "object", "properties": {
                "student": {"type": "string"}, "lesson": {"type": "string"}, "removed": {"type": "boolean"}}}),
                **errors(400, 401, 403, 404, text=_TEACHERS)}}},
}
OPENAPI_SCHEMAS: dict = {
    "RosterLesson": {"type": "object", "required": ["lesson", "completed", "attempts", "score"], "properties": {
        "lesson": {"type": "string"}, "title": {"type": "string"}, "started": {"type": "boolean"},
        "completed": {"type": "boolean"}, "time_spent_seconds": {"type": "integer"},
        "attempts": {"type": "integer"}, "pending": {"type": "integer"},
        "score": {**_NULLABLE_NUMBER, "description": "the best graded submission's final score"},
        "raw_score": {**_NULLABLE_NUMBER, "description": "its autograded + manual points, before the late penalty"},
        "max_score": _NULLABLE_NUMBER, "late_penalty_percent": {"type": "number"},
        "needs_manual_grade": {"type": "boolean"},
        "deadline": {"type": "string", "format": "date-time", "nullable": True,
                     "description": "the student's own deadline (the lesson's, or later with an extension)"},
        "deadline_extended": {"type": "boolean"}}},
    "RosterStudent": {"type": "object", "required": ["username", "progress_percent", "lessons"], "properties": {
        "username": {"type": "string"}, "display_name": {"type": "string"},
        "enrolled_at": {"type": "string", "format": "date-time", "nullable": True},
        "status": {"type": "string", "enum": ["completed", "in_progress", "not_started"]},
        "progress_percent": {"type": "integer"}, "completed_lessons": {"type": "integer"},
        "total_lessons": {"type": "integer"},
        "last_activity": {"type": "string", "format": "date-time", "nullable": True},
        "time_spent_seconds": {"type": "integer"}, "attempts": {"type": "integer"}, "score": {"type": "number"},
        "has_ungraded": {"type": "boolean"},
        "certificate": {"type": "object", "nullable": True, "properties": {
            "uid": {"type": "string"}, "url": {"type": "string"}}},
        "lessons": {"type": "array", "items": {"$ref": "#/components/schemas/RosterLesson"}},
        "quizzes_passed": {"type": "integer", "description": "quizzes answered right"},
        "quizzes_attempted": {"type": "integer"}, "quizzes_total": {"type": "integer"},
        "quiz_mean_percent": {**_NULLABLE_NUMBER,
                              "description": "mean result of the quizzes attempted (null: none attempted)"},
        "challenges_passed": {"type": "integer", "description": "code challenges with a submission passing every test"},
        "challenges_submitted": {"type": "integer"}, "challenges_total": {"type": "integer"},
        "quizzes": {"type": "array", "items": {"$ref": "#/components/schemas/RosterQuiz"}},
        "challenges": {"type": "array", "items": {"$ref": "#/components/schemas/RosterChallenge"}}}},
    "RosterQuiz": {"type": "object", "required": ["quiz", "lesson", "title", "attempts", "score", "passed"],
                   "properties": {
        "quiz": {"type": "string"}, "lesson": {"type": "string"},
        "title": {"type": "string", "description": "the question, on one line"},
        "points": {"type": "number"}, "attempts": {"type": "integer"},
        "score": {**_NULLABLE_NUMBER, "description": "the best attempt's score (null: not attempted)"},
        "percent": {**_NULLABLE_NUMBER, "description": "score / points in percent (null: not attempted)"},
        "passed": {"type": "boolean", "description": "answered right"}}},
    "RosterChallenge": {"type": "object", "required": ["challenge", "lesson", "title", "submissions", "passed"],
                        "properties": {
        "challenge": {"type": "string"}, "lesson": {"type": "string"}, "title": {"type": "string"},
        "submissions": {"type": "integer"},
        "passed": {"type": "boolean", "description": "a submission passed every test"},
        "tests_passed": {"type": "integer", "nullable": True, "description": "the best submission's"},
        "tests_total": {"type": "integer", "nullable": True},
        "language": {"type": "string", "nullable": True, "description": "the best submission's language"},
        "submitted_at": {"type": "string", "format": "date-time", "nullable": True}}},
    "Roster": {"type": "object", "required": ["course", "total", "students"], "properties": {
        "course": {"type": "string"}, "title": {"type": "string"},
        "lessons": {"type": "array", "items": {"type": "object", "properties": {
            "lesson": {"type": "string"}, "title": {"type": "string"}}}},
        "quizzes": {"type": "array", "items": {"type": "object", "properties": {
            "quiz": {"type": "string"}, "lesson": {"type": "string"}, "title": {"type": "string"},
            "points": {"type": "number"}}}},
        "challenges": {"type": "array", "items": {"type": "object", "properties": {
            "challenge": {"type": "string"}, "lesson": {"type": "string"}, "title": {"type": "string"}}}},
        "total": {"type": "integer", "description": "students matching the search and filter"},
        "enrolled": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
        "pages": {"type": "integer"}, "q": {"type": "string"}, "status": {"type": "string"},
        "sort": {"type": "string"}, "order": {"type": "string"},
        "students": {"type": "array", "items": {"$ref": "#/components/schemas/RosterStudent"}}}},
}
