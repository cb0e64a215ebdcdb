"""``/api/v1/teach``: instructor grading as JSON: the course's grading queue, the feedback release
policy and releasing a lesson's held feedback, submissions and scores per lesson, one
submission with its autograded notebook, manual grades, re-grading one submission or a lesson.

Only the course's instructors and admins get past ``grading_admin`` (it checks before anything else).
"""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import grading_admin
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, response


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


class GradingQueueAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        attempts = self.get_query_argument("attempts", "latest")
        view = grading_admin.queue(self.db, self.require_user(), slug,
                                   lesson_key=self.get_query_argument("lesson", "") or None, attempts=attempts)
        self.write_json({"feedback_release": view["feedback_release"], "lessons": view["lessons"],
                         "submissions": view["submissions"]})


class GradingSettingsAPI(APIHandler):
    @requires_user
    def put(self, slug: str):
        body = self.json_body()
        if not isinstance(body, dict) or set(body) != {"feedback_release"}:
            raise InvalidInput('send {"feedback_release": "on_grading" | "held"}')
        value = grading_admin.set_release_policy(self.db, self.require_user(), slug, body["feedback_release"])
        self.db.commit()
        self.write_json({"feedback_release": value})


class LessonReleaseAPI(APIHandler):
    @requires_user
    def post(self, slug: str, lesson_key: str):
        result = grading_admin.release_lesson(self.db, self.require_user(), slug, lesson_key)
        self.db.commit()
        self.write_json(result)


default_handlers = [
    (r"api/v1/teach/courses/([^/]+)/grading/queue", GradingQueueAPI),
    (r"api/v1/teach/courses/([^/]+)/grading/settings", GradingSettingsAPI),
    (r"api/v1/teach/courses/([^/]+)/lessons/([^/]+)/release-feedback", LessonReleaseAPI),
    (r"api/v1/teach/courses/([^/]+)/lessons/([^/]+)/submissions", LessonSubmissionsAPI),
    (r"api/v1/teach/courses/([^/]+)/lessons/([^/]+)/regrade", LessonRegradeAPI),
    (r"api/v1/teach/submissions/([0-9]{1,9})", SubmissionAPI),
    (r"api/v1/teach/submissions/([0-9]{1,9})/regrade", SubmissionRegradeAPI),
    (r"api/v1/teach/submissions/([0-9]{1,9})/grades", ManualGradesAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_LESSON = {"name": "lesson", "in": "path", "required": True, "schema": {"type": "string"}}
_SUB = {"name": "submission", "in": "path", "required": True, "schema": {"type": "integer"}}
_INSTRUCTORS_ONLY = {403: "Not an instructor of this course"}
_DETAIL = {"$ref": "#/components/schemas/GradedSubmission"}
_ROW_PROPS = {
    "id": {"type": "integer"}, "student": {"type": "string"}, "attempt": {"type": "integer"},
    "status": {"type": "string", "enum": ["queued", "grading", "graded", "failed"]},
    "lesson_version": {"type": "integer"}, "submitted_at": {"type": "string"},
    "auto_score": {"type": "number", "nullable": True}, "manual_score": {"type": "number", "nullable": True},
    "late_penalty_percent": {"type": "number"}, "score": {"type": "number", "nullable": True},
    "max_score": {"type": "number", "nullable": True}, "needs_manual_grade": {"type": "boolean"},
    "regrades": {"type": "integer"}}
_QUEUE_ITEM = {"type": "object", "properties": {
    "id": {"type": "integer"}, "lesson": {"type": "string"}, "lesson_title": {"type": "string"},
    "student": {"type": "string"}, "attempt": {"type": "integer"}, "submitted_at": {"type": "string"},
    "auto_score": {"type": "number", "nullable": True}, "max_score": {"type": "number", "nullable": True}}}
_RELEASE = {"type": "string", "enum": ["on_grading", "held"]}
OPENAPI_PATHS: dict = {
    "/teach/courses/{slug}/grading/queue": {"get": {
        "summary": "Instructors: submissions needing a manual grade (oldest first) and counts per lesson",
        "security": SECURITY, "parameters": [
            _SLUG, {"name": "lesson", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "attempts", "in": "query", "required": False,
             "schema": {"type": "string", "enum": ["latest", "all"], "default": "latest"}}],
        "responses": {"200": response("The queue", {
            "type": "object", "required": ["feedback_release", "lessons", "submissions"], "properties": {
                "feedback_release": _RELEASE,
                "lessons": {"type": "array", "items": {"type": "object", "properties": {
                    "lesson": {"type": "string"}, "title": {"type": "string"},
                    "needs_grading": {"type": "integer"}, "graded": {"type": "integer"},
                    "held": {"type": "integer"}}}},
                "submissions": {"type": "array", "items": _QUEUE_ITEM}}}),
            **errors(400, 401, 403, 404, text=_INSTRUCTORS_ONLY)}}},
    "/teach/courses/{slug}/grading/settings": {"put": {
        "summary": "Instructors: release feedback on grading, or hold it until released per lesson",
        "security": SECURITY, "parameters": [_SLUG],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["feedback_release"], "properties": {"feedback_release": _RELEASE}}}}},
        "responses": {"200": response("Saved", {"type": "object", "properties": {"feedback_release": _RELEASE}}),
                      **errors(400, 401, 403, 404, text=_INSTRUCTORS_ONLY)}}},
    "/teach/courses/{slug}/lessons/{lesson}/release-feedback": {"post": {
        "summary": "Instructors: show students the held feedback of the lesson's graded submissions "
                   "(those still needing a manual grade stay held)",
        "security": SECURITY, "parameters": [_SLUG, _LESSON],
        "responses": {"200": response("Released", {"type": "object", "properties": {
            "released": {"type": "integer"}, "still_ungraded": {"type": "integer"}}}),
            **errors(401, 403, 404, text=_INSTRUCTORS_ONLY)}}},
    "/teach/courses/{slug}/lessons/{lesson}/submissions": {"get": {
        "summary": "Instructors: every submission of a lesson with raw, manual, penalty and final scores",
        "security": SECURITY, "parameters": [_SLUG, _LESSON],
        "responses": {"200": response("Submissions by student, newest first", {
            "type": "object", "required": ["submissions"], "properties": {"submissions": {
                "type": "array", "items": {"$ref": "#/components/schemas/SubmissionRow"}}}}),
            **errors(401, 403, 404, text=_INSTRUCTORS_ONLY)}}},
    "/teach/courses/{slug}/lessons/{lesson}/regrade": {"post": {
        "summary": "Instructors: queue every submission of the lesson again, against its newest published version",
        "security": SECURITY, "parameters": [_SLUG, _LESSON],
        "responses": {"202": response("Queued again", {"type": "object", "required": ["requeued"],
                                                 "properties": {"requeued": {"type": "integer"}}}),
                      **errors(401, 403, 404, text=_INSTRUCTORS_ONLY)}}},
    "/teach/submissions/{submission}": {"get": {
        "summary": "Instructors: one submission with per-cell results, manual grades and the autograded notebook",
        "security": SECURITY, "parameters": [_SUB],
        "responses": {"200": response("The submission", _DETAIL), **errors(401, 403, 404, text=_INSTRUCTORS_ONLY)}}},
    "/teach/submissions/{submission}/regrade": {"post": {
        "summary": "Instructors: queue one submission again, against the lesson's newest published version",
        "security": SECURITY, "parameters": [_SUB],
        "responses": {"202": response("Queued again", _DETAIL), **errors(401, 403, 404, text=_INSTRUCTORS_ONLY)}}},
    "/teach/submissions/{submission}/grades": {"put": {
        "summary": "Instructors: points and comments per cell; the final score is auto + manual less the late penalty",
        "security": SECURITY, "parameters": [_SUB],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["grades"], "properties": {"grades": {"type": "array", "items": {
                "type": "object", "required": ["notebook", "grade_id"], "properties": {
                    "notebook": {"type": "string"}, "grade_id": {"type": "string"},
                    "points": {"type": "number", "nullable": True,
                               "description": "replaces the cell's automatic points; null: comment only"},
                    "comment": {"type": "string", "maxLength": 10000}}}}}}}}},
        "responses": {"200": response("Saved", _DETAIL), **errors(400, 401, 403, 404, 413, text=_INSTRUCTORS_ONLY)}}},
}
OPENAPI_SCHEMAS: dict = {
    "SubmissionRow": {"type": "object", "required": ["id", "student", "status"], "properties": _ROW_PROPS},
    "GradedSubmission": {"type": "object", "required": ["id", "student", "status", "cells"], "properties": {
        **_ROW_PROPS, "course": {"type": "string"}, "lesson": {"type": "string"},
        "course_title": {"type": "string"}, "lesson_title": {"type": "string"}, "student_name": {"type": "string"},
        "feedback_released": {"type": "boolean", "description": "whether the student sees this grade yet"},
        "error": {"type": "string", "nullable": True},
        "cells": {"type": "array", "items": {"type": "object"}},
        "autograded": {"type": "object", "description": "notebook name -> autograded notebook (hidden tests included)"}}},
}
