"""The instructor's course API: create, edit, lesson sources, publish (JSON, /api/v1/teach/).

The hub token of an instructor (``custom:lms:teach``); ``course_authoring`` lets each instructor
change only their own courses (admins any).
"""
from __future__ import annotations

import json

from ... import permissions
from ...errors import Conflict, InvalidInput
from ...services import authoring as checks, course_authoring as authoring, notebooks
from ..base import APIHandler, body_dict, requires
from .challenges import _in_pool, _pool_and_sandbox
from .spec import LESSON, SECURITY, SLUG, errors, json_body, ref, response

TEACHERS_ONLY = "only approved instructors can use the teaching API"


def course_json(session, course) -> dict:
    return {"slug": course.slug, "title": course.title, "subtitle": course.subtitle,
            "description": course.description, "category": course.category, "level": course.level,
            "language": course.language, "price_cents": course.price_cents, "currency": course.currency,
            "published": course.published,
            "lessons": [{"id": r.draft.key, "title": r.draft.title, "free_preview": r.draft.free_preview,
                         "state": r.state, "version": r.version}
                        for r in authoring.lesson_rows(session, course)]}


class CoursesAPI(APIHandler):
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def post(self):
        course = authoring.create_course(self.db, self.require_user(), body_dict(self))
        self.db.commit()
        self.set_header("Location", f"{self.config.service_prefix}api/v1/teach/courses/{course.slug}")
        self.write_json(course_json(self.db, course), 201)


class CourseAPI(APIHandler):
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def get(self, slug: str):
        self.write_json(course_json(self.db, authoring.course_for_teacher(self.db, self.require_user(), slug)))

    @requires(permissions.TEACH, TEACHERS_ONLY)
    def patch(self, slug: str):
        course = authoring.update_course(self.db, self.require_user(), slug, body_dict(self))
        self.db.commit()
        self.write_json(course_json(self.db, course))


class LessonSourceAPI(APIHandler):
    """The body is the nbgrader source notebook (.ipynb JSON), or ``{"notebook": {...}, "title": "..."}``."""

    @requires(permissions.TEACH, TEACHERS_ONLY)
    def put(self, slug: str, lesson_key: str):
        user = self.require_user()
        authoring.course_for_teacher(self.db, user, slug)  # 403/404 before reading what was sent
        try:
            body = json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the body is not JSON: send the notebook (.ipynb) itself") from None
        title = None
        if isinstance(body, dict) and "notebook" in body and "cells" not in body:
            unknown = set(body) - {"notebook", "title"}
            if unknown:
                raise InvalidInput(f"unknown field(s): {', '.join(sorted(k[:40] for k in unknown))}")
            title = body.get("title")
            body = body["notebook"]
        draft, created = authoring.put_lesson_source(self.db, user, slug, lesson_key, body, title=title)
        self.db.commit()
        self.write_json({"lesson": draft.key, "title": draft.title, "created": created, "state": "draft",
                         "sha256": notebooks.sha256(draft.source_notebook)}, 201 if created else 200)


class PublishAPI(APIHandler):
    """POST, optionally {"challenges": {"<lesson id>": {"<file>": "<challenge TOML>"}}} (the Teach panel
    in JupyterLab sends its course folder's challenge files): a new or changed challenge's reference
    solution runs against its tests in every language it offers first; one that fails is a 400
    naming its file, and nothing is published. ``"dry_run": true`` runs these checks and publishes nothing."""

    @requires(permissions.TEACH, TEACHERS_ONLY)
    async def post(self, slug: str):
        user = self.require_user()
        authoring.course_for_teacher(self.db, user, slug)  # 403/404 before reading what was sent
        body = self.json_body()
        if not isinstance(body, dict) or set(body) - {"challenges", "dry_run"} or \
                not isinstance(body.get("dry_run", False), bool):
            raise InvalidInput('send {} or {"challenges": {"<lesson id>": {"<file>": "<challenge TOML>"}}, '
                               '"dry_run": false}')
        dry_run = body.get("dry_run", False)
        sent = authoring.parse_publish_challenges(self.db, user, slug, body.get("challenges"), dry_run=dry_run)
        files = authoring.to_check(sent)
        if files:
            self.db.rollback()  # nothing changed yet; no transaction held open while the sandbox runs
            _, sandbox = _pool_and_sandbox(self.settings)

            async def run_tests(source, language_id, cases, limits):
                return await _in_pool(self.settings, user.hub_name,
                                      lambda: sandbox.run_tests(source, language_id, cases, limits=limits))

            authoring.refuse_failing(await checks.validate_challenges(files, run_tests))
            sent = authoring.parse_publish_challenges(self.db, user, slug, body.get("challenges"), dry_run=dry_run)
            if any(c.state != "unchanged" and c.file not in files for cs in sent.values() for c in cs):
                raise Conflict("the course's challenges changed while they were being checked: publish again")
        if dry_run:  # the checks only: the Teach panel asks before it sends the lessons' sources
            self.db.rollback()
            self.write_json({"slug": slug, "dry_run": True, "challenges": [
                {"lesson": c.lesson, "challenge": c.spec.key, "file": c.file, "state": c.state}
                for cs in sent.values() for c in cs]})
            return
        result = authoring.publish(self.db, user, slug, challenges=sent)
        self.db.commit()
        self.write_json(result)


default_handlers = [
    (r"api/v1/teach/courses", CoursesAPI),
    (r"api/v1/teach/courses/([^/]+)", CourseAPI),
    (r"api/v1/teach/courses/([^/]+)/lessons/([^/]+)/source", LessonSourceAPI),
    (r"api/v1/teach/courses/([^/]+)/publish", PublishAPI),
]

# OpenAPI ---------------------------------------------------------------------------------------
_FIELDS = {
    "title": {"type": "string", "maxLength": authoring.MAX_TITLE},
    "subtitle": {"type": "string", "maxLength": authoring.MAX_SUBTITLE},
    "description": {"type": "string", "maxLength": authoring.MAX_DESCRIPTION,
                    "description": "Markdown; rendered sanitised (no HTML, scripts or javascript: links)"},
    "category": {"type": "string", "maxLength": authoring.MAX_CATEGORY},
    "level": {"type": "string", "enum": ["beginner", "intermediate", "advanced"]},
    "language": {"type": "string", "example": "en"},
    "price_cents": {"type": "integer", "minimum": 0, "maximum": authoring.MAX_PRICE_CENTS},
    "currency": {"type": "string", "enum": sorted(authoring.CURRENCIES)},
}
_SLUG_FIELD = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,99}$"}
_ONLY_MINE = {403: "Not an instructor, or not this course's instructor (admins may edit any course)"}
OPENAPI_PATHS: dict = {
    "/teach/courses": {"post": {
        "summary": "Instructors: create a draft course (unpublished, without lessons)",
        "security": SECURITY,
        "requestBody": json_body({"type": "object", "additionalProperties": False,
                                  "required": ["slug", "title", "category", "level"],
                                  "properties": {"slug": _SLUG_FIELD, **_FIELDS}}),
        "responses": {"201": response("The draft course", ref("TeachCourse")),
                      **errors(400, 401, 403, 409, 413, text={**_ONLY_MINE, 409: "The slug is taken"})}}},
    "/teach/courses/{slug}": {
        "get": {"summary": "Instructors: a course they teach with its lesson drafts",
                "security": SECURITY, "parameters": [SLUG],
                "responses": {"200": response("The course", ref("TeachCourse")),
                              **errors(401, 403, 404, text=_ONLY_MINE)}},
        "patch": {"summary": "Instructors: edit a course's fields (any subset; the slug stays)",
                  "security": SECURITY, "parameters": [SLUG],
                  "requestBody": json_body({"type": "object", "additionalProperties": False,
                                            "minProperties": 1, "properties": _FIELDS}),
                  "responses": {"200": response("The course", ref("TeachCourse")),
                                **errors(400, 401, 403, 404, 413, text=_ONLY_MINE)}}},
    "/teach/courses/{slug}/lessons/{lesson}/source": {"put": {
        "summary": "Instructors: a lesson's nbgrader source notebook (a new lesson when the id is new), as a draft "
                   "until the course is published",
        "description": "The body is the .ipynb JSON, or {\"notebook\": <.ipynb JSON>, \"title\": \"...\"}. An invalid "
                       "notebook or broken nbgrader metadata is a 400 whose message (and `cell`, 1-based) names the cell.",
        "security": SECURITY, "parameters": [SLUG, LESSON],
        "requestBody": json_body({"type": "object", "description": "an nbformat 4 notebook with nbgrader metadata"}),
        "responses": {"200": response("The draft source was replaced", ref("LessonSource")),
                      "201": response("A new lesson (draft)", ref("LessonSource")),
                      **errors(400, 401, 403, 404, 413, text=_ONLY_MINE)}}},
    "/teach/courses/{slug}/publish": {"post": {
        "summary": "Instructors: publish the drafts; each changed source becomes a new lesson version",
        "description": "The body may carry code challenges by lesson id, as challenge files (TOML, the format of "
                       "`lms course import`): a lesson named gets these challenges (updated in place by id; its "
                       "other challenges are kept), in the same publish. A new or changed challenge's reference "
                       "solution (`[solution]`) runs against all its tests in every language it offers first; a "
                       "challenge that cannot be read, offers an unknown language or whose solution fails is a 400 "
                       "whose message and `challenge` name its file, and nothing is published. With `dry_run` true only the "
                       "challenges are checked (the answer is then {slug, dry_run, challenges}) and nothing is stored.",
        "security": SECURITY, "parameters": [SLUG],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {"dry_run": {"type": "boolean"}, "challenges": {
                "type": "object", "description": "lesson id -> {file path: challenge TOML}",
                "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}},
        "responses": {"200": response("Published", {"type": "object", "required": ["slug", "published"], "properties": {
            "slug": {"type": "string"}, "published": {"type": "boolean"}, "lessons": {"type": "integer"},
            "new_versions": {"type": "array", "items": {"type": "object", "properties": {
                "lesson": {"type": "string"}, "version": {"type": "integer"}}}},
            "challenges": {"type": "array", "items": {"type": "object", "properties": {
                "lesson": {"type": "string"}, "challenge": {"type": "string"}, "file": {"type": "string"},
                "state": {"type": "string", "enum": ["new", "changed", "unchanged"]}}}}}}),
            **errors(400, 401, 403, 404, 409, 413, 429, text=_ONLY_MINE)}}},
}
OPENAPI_SCHEMAS: dict = {
    "TeachCourse": {"type": "object", "required": ["slug", "title", "published", "lessons"], "properties": {
        "slug": {"type": "string"}, **_FIELDS, "published": {"type": "boolean"},
        "lessons": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "free_preview": {"type": "boolean"},
            "state": {"type": "string", "enum": ["new", "changed", "published"]},
            "version": {"type": "integer", "nullable": True}}}}}},
    "LessonSource": {"type": "object", "required": ["lesson", "created"], "properties": {
        "lesson": {"type": "string"}, "title": {"type": "string"}, "created": {"type": "boolean"},
        "state": {"type": "string"}, "sha256": {"type": "string"}}},
}
