"""Learning API: heartbeats, progress, quizzes, certificates, gamification, lesson extras."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import certificates, enrollments, gamification, lesson_extras, progress, quizzes
from ...services.catalog import get_course
from ..base import APIHandler, requires_user
from .spec import errors, response


def public_base(handler) -> str:
    """The service's public URL (LMS_PUBLIC_URL): never the Host header, which the sender chooses."""
    return handler.public_url()


def verify_url(handler, uid: str) -> str:
    return f"{public_base(handler)}certificates/{uid}"


def _string(body: dict, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"send a JSON object with a string {key!r}")
    return value


class HeartbeatAPI(APIHandler):
    @requires_user
    def post(self):
        user = self.require_user()
        body = self.json_body()
        status = progress.heartbeat(self.db, user, _string(body, "course"), _string(body, "lesson"),
                                    idle_seconds=self.config.idle_seconds)
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


class MyCertificatesAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"certificates": [certificates.view(c, verify_url(self, c.uid))
                                          for c in certificates.certificates_of(self.db, user)]})


class CertificateAPI(APIHandler):
    """Public: anyone holding the id may verify a certificate."""

    def get(self, uid: str):
        cert = certificates.get(self.db, uid)
        self.write_json(certificates.view(cert, verify_url(self, cert.uid)))


class MyAchievementsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        base = public_base(self)
        out = []
        for a in gamification.achievements_of(self.db, user.id):
            view = gamification.achievement_view(a)
            view["credential_url"] = f"{base}api/v1/achievements/{a.uid}/credential"
            out.append(view)
        prof = gamification.profile(self.db, user.id)
        self.db.commit()
        self.write_json({"achievements": out, "xp": gamification.total_xp(self.db, user.id),
                         "streak": gamification.streak(self.db, user.id), "timezone": prof.timezone})


class CredentialAPI(APIHandler):
    """Public Open Badges 3.0 credential of one achievement (its id is unguessable)."""

    def get(self, uid: str):
        achievement = gamification.get_achievement(self.db, uid)
        self.set_header("Content-Disposition", f'attachment; filename="badge-{achievement.key}.json"')
        self.set_header("Content-Type", "application/ld+json")
        self.finish(__import__("json").dumps(gamification.open_badge(self.db, achievement, base_url=public_base(self)),
                                             indent=1))


class LeaderboardAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        slug = self.get_query_argument("course", "")
        period = self.get_query_argument("period", "all")
        course_id = get_course(self.db, slug, viewer=user).id if slug else None
        rows = gamification.leaderboard(self.db, course_id=course_id, period=period, viewer_id=user.id)
        self.write_json({"course": slug or None, "period": period,
                         "leaders": [{"rank": r.rank, "name": r.name, "xp": r.xp, "me": r.is_me} for r in rows]})


class LearningProfileAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        prof = gamification.profile(self.db, user.id)
        self.db.commit()
        self.write_json({"timezone": prof.timezone, "leaderboard_opt_out": prof.leaderboard_opt_out})

    @requires_user
    def patch(self):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or not set(body) <= {"timezone", "leaderboard_opt_out"}:
            raise InvalidInput('send {"timezone": "Europe/Berlin", "leaderboard_opt_out": false}')
        prof = gamification.update_profile(self.db, user, timezone_name=body.get("timezone"),
                                           leaderboard_opt_out=body.get("leaderboard_opt_out"))
        self.db.commit()
        self.write_json({"timezone": prof.timezone, "leaderboard_opt_out": prof.leaderboard_opt_out})


class NoteAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        self.write_json(lesson_extras.get_note(self.db, user, slug, lesson_key))

    @requires_user
    def put(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = self.json_body()
        note = lesson_extras.save_note(self.db, user, slug, lesson_key, body.get("body") if isinstance(body, dict) else None)
        self.db.commit()
        self.write_json(note)


class BookmarkAPI(APIHandler):
    @requires_user
    def put(self, slug: str, lesson_key: str):
        user = self.require_user()
        body = self.json_body()
        label = body.get("label", "") if isinstance(body, dict) else None
        result = lesson_extras.set_bookmark(self.db, user, slug, lesson_key, True, label)
        self.db.commit()
        self.write_json(result)

    @requires_user
    def delete(self, slug: str, lesson_key: str):
        user = self.require_user()
        result = lesson_extras.set_bookmark(self.db, user, slug, lesson_key, False)
        self.db.commit()
        self.write_json(result)


class MyBookmarksAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"bookmarks": lesson_extras.bookmarks_of(self.db, user)})


class ResourcesAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str):
        user = self.require_user()
        self.write_json({"resources": lesson_extras.list_resources(self.db, user, slug, lesson_key)})


class ResourceAPI(APIHandler):
    @requires_user
    def get(self, slug: str, lesson_key: str, name: str):
        user = self.require_user()
        row, data = lesson_extras.download_resource(self.db, self.settings["storage"], user, slug, lesson_key, name)
        self.set_header("Content-Type", row.content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{row.name}"')
        self.finish(data)

    @requires_user
    def put(self, slug: str, lesson_key: str, name: str):
        user = self.require_user()
        result = lesson_extras.upload_resource(self.db, self.settings["storage"], user, slug, lesson_key, name,
                                               self.request.body)
        self.db.commit()
        self.write_json(result, 201)


default_handlers = [
    (r"api/v1/me/heartbeats", HeartbeatAPI),
    (r"api/v1/me/progress", MyProgressAPI),
    (r"api/v1/me/certificates", MyCertificatesAPI),
    (r"api/v1/me/achievements", MyAchievementsAPI),
    (r"api/v1/me/learning-profile", LearningProfileAPI),
    (r"api/v1/me/bookmarks", MyBookmarksAPI),
    (r"api/v1/leaderboard", LeaderboardAPI),
    (r"api/v1/certificates/([^/]+)", CertificateAPI),
    (r"api/v1/achievements/([^/]+)/credential", CredentialAPI),
    (r"api/v1/courses/([^/]+)/progress", CourseProgressAPI),
    (r"api/v1/courses/([^/]+)/quizzes/([^/]+)/answers", QuizAnswerAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/progress", LessonProgressAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/quizzes", LessonQuizzesAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/note", NoteAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/bookmark", BookmarkAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/resources", ResourcesAPI),
    (r"api/v1/courses/([^/]+)/lessons/([^/]+)/resources/([^/]+)", ResourceAPI),
]

# OpenAPI ----------------------------------------------------------------------------------

def _errs(*codes: int) -> dict:
    return errors(*codes)


def _p(name: str, kind: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_SEC = [{"hubToken": []}]
_OBJ = {"type": "object"}
OPENAPI_PATHS: dict = {
    "/me/heartbeats": {"post": {
        "summary": "Report activity on a lesson; time between heartbeats at most LMS_IDLE_SECONDS apart counts",
        "security": _SEC, "requestBody": _body({"type": "object", "required": ["course", "lesson"], "properties": {
            "course": {"type": "string"}, "lesson": {"type": "string"}}}),
        "responses": {"200": response("The lesson's progress", _ref("LessonProgress")), **_errs(400, 401, 403, 404)}}},
    "/me/progress": {"get": {"summary": "Progress in every enrolled course", "security": _SEC, "responses": {
        "200": response("Courses", {"type": "object", "properties": {"courses": {"type": "array", "items": _ref("CourseProgress")}}}),
        **_errs(401)}}},
    "/me/certificates": {"get": {"summary": "My certificates", "security": _SEC, "responses": {
        "200": response("Certificates", {"type": "object", "properties": {
            "certificates": {"type": "array", "items": _ref("Certificate")}}}), **_errs(401)}}},
    "/me/achievements": {"get": {"summary": "My badges, XP and streak", "security": _SEC, "responses": {
        "200": response("Achievements", _OBJ), **_errs(401)}}},
    "/me/learning-profile": {
        "get": {"summary": "Time zone (for streaks) and leaderboard privacy", "security": _SEC,
                "responses": {"200": response("Profile", _ref("LearningProfile")), **_errs(401)}},
        "patch": {"summary": "Change time zone or leaderboard opt-out", "security": _SEC,
                  "requestBody": _body(_ref("LearningProfile")),
                  "responses": {"200": response("Profile", _ref("LearningProfile")), **_errs(400, 401)}}},
    "/me/bookmarks": {"get": {"summary": "My bookmarked lessons", "security": _SEC, "responses": {
        "200": response("Bookmarks", _OBJ), **_errs(401)}}},
    "/leaderboard": {"get": {"summary": "XP leaderboard (global or per course; weekly or all-time); opted-out learners never appear",
                             "security": _SEC, "parameters": [
                                 {"name": "course", "in": "query", "required": False, "schema": {"type": "string"}},
                                 {"name": "period", "in": "query", "required": False,
                                  "schema": {"type": "string", "enum": ["week", "all"]}}],
                             "responses": {"200": response("Leaders", _OBJ), **_errs(400, 401, 404)}}},
    "/certificates/{uid}": {"get": {"summary": "Verify a certificate (public)", "parameters": [_p("uid")],
                                    "responses": {"200": response("Valid or revoked", _ref("Certificate")), **_errs(404)}}},
    "/achievements/{uid}/credential": {"get": {
        "summary": "Open Badges 3.0 OpenBadgeCredential of an achievement (public)", "parameters": [_p("uid")],
        "responses": {"200": response("JSON-LD credential", _OBJ, "application/ld+json"), **_errs(404)}}},
    "/courses/{slug}/progress": {"get": {"summary": "My progress in a course: percent, next lesson, resume",
                                         "security": _SEC, "parameters": [_p("slug")], "responses": {
                                             "200": response("Progress", _ref("CourseProgress")), **_errs(401, 404)}}},
    "/courses/{slug}/quizzes/{quiz}/answers": {"post": {
        "summary": "Answer a quiz (graded on the server; the key is never sent)", "security": _SEC,
        "parameters": [_p("slug"), _p("quiz")],
        "requestBody": _body({"type": "object", "required": ["answer"], "properties": {"answer": {}}}),
        "responses": {"200": response("Graded attempt", _ref("Quiz")), **_errs(400, 401, 403, 404, 409)}}},
    "/courses/{slug}/lessons/{lesson}/progress": {"get": {
        "summary": "My progress in a lesson: time spent, graded parts, completion", "security": _SEC,
        "parameters": [_p("slug"), _p("lesson")],
        "responses": {"200": response("Progress", _ref("LessonProgress")), **_errs(401, 403, 404)}}},
    "/courses/{slug}/lessons/{lesson}/quizzes": {"get": {
        "summary": "The lesson's quizzes (questions and my attempts, no answers)", "security": _SEC,
        "parameters": [_p("slug"), _p("lesson")],
        "responses": {"200": response("Quizzes", {"type": "object", "properties": {
            "quizzes": {"type": "array", "items": _ref("Quiz")}}}), **_errs(401, 403, 404)}}},
    "/courses/{slug}/lessons/{lesson}/note": {
        "get": {"summary": "My note on a lesson", "security": _SEC, "parameters": [_p("slug"), _p("lesson")],
                "responses": {"200": response("Note", _OBJ), **_errs(401, 403, 404)}},
        "put": {"summary": "Save my note (at most 20,000 characters)", "security": _SEC,
                "parameters": [_p("slug"), _p("lesson")],
                "requestBody": _body({"type": "object", "properties": {"body": {"type": "string"}}}),
                "responses": {"200": response("Note", _OBJ), **_errs(400, 401, 403, 404, 413)}}},
    "/courses/{slug}/lessons/{lesson}/bookmark": {
        "put": {"summary": "Bookmark a lesson", "security": _SEC, "parameters": [_p("slug"), _p("lesson")],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"label": {"type": "string"}}}}}},
                "responses": {"200": response("Bookmark", _OBJ), **_errs(400, 401, 403, 404)}},
        "delete": {"summary": "Remove the bookmark", "security": _SEC, "parameters": [_p("slug"), _p("lesson")],
                   "responses": {"200": response("Bookmark", _OBJ), **_errs(401, 403, 404)}}},
    "/courses/{slug}/lessons/{lesson}/resources": {"get": {
        "summary": "Downloadable resources of a lesson", "security": _SEC, "parameters": [_p("slug"), _p("lesson")],
        "responses": {"200": response("Resources", _OBJ), **_errs(401, 403, 404)}}},
    "/courses/{slug}/lessons/{lesson}/resources/{name}": {
        "get": {"summary": "Download a resource", "security": _SEC,
                "parameters": [_p("slug"), _p("lesson"), _p("name")],
                "responses": {"200": {"description": "The file"}, **_errs(401, 403, 404)}},
        "put": {"summary": "Upload a resource (the course's instructor; raw body)", "security": _SEC,
                "parameters": [_p("slug"), _p("lesson"), _p("name")],
                "requestBody": {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "responses": {"201": response("Stored", _OBJ), **_errs(400, 401, 403, 404, 413)}}},
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
    "Quiz": {"type": "object", "required": ["id", "type", "question"], "properties": {
        "id": {"type": "string"}, "type": {"type": "string", "enum": ["choice", "short"]},
        "question": {"type": "string"}, "options": {"type": "array", "items": {"type": "string"}},
        "points": {"type": "number"}, "attempts_allowed": {"type": "integer"}, "attempts_used": {"type": "integer"},
        "attempts_left": {"type": "integer", "nullable": True}, "solved": {"type": "boolean"},
        "score": {"type": "number"}, "feedback": {"type": "string", "nullable": True},
        "finished": {"type": "boolean"}, "correct": {"type": "boolean"}}},
    "Certificate": {"type": "object", "required": ["id", "student", "course", "issued_at", "valid"], "properties": {
        "id": {"type": "string"}, "student": {"type": "string"}, "course": {"type": "string"},
        "instructor": {"type": "string"}, "issued_at": {"type": "string"}, "valid": {"type": "boolean"},
        "revoked_at": {"type": "string", "nullable": True}, "verify_url": {"type": "string"},
        "pdf_url": {"type": "string"}, "linkedin_url": {"type": "string"}}},
    "LearningProfile": {"type": "object", "properties": {
        "timezone": {"type": "string", "description": "IANA name, e.g. Europe/Berlin"},
        "leaderboard_opt_out": {"type": "boolean"}}},
}
