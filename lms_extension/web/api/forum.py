"""``/api/v1`` course Q&A: threads, posts, votes, accepted and endorsed answers, moderation flags;
notification levels, duplicates, reports, hidden posts and suspensions."""
from __future__ import annotations

from ...errors import InvalidInput
from ...models.forum import LEVELS
from ...services import forum
from ..base import APIHandler, body_dict, int_arg, parse_id, requires_user
from .spec import SECURITY, SLUG, errors, json_body, path_param, ref, response


def _only(body: dict, allowed: set[str]) -> dict:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


class ForumMixin:
    @property
    def forum_limits(self) -> forum.Limits:
        return forum.Limits(self.config.forum_new_account_days, self.config.forum_new_account_posts_per_hour)


class CourseThreadsAPI(ForumMixin, APIHandler):
    @requires_user
    def get(self, slug: str):
        user = self.require_user()
        page = forum.list_threads(self.db, user, slug, q=self.get_query_argument("q", "")[:500],
                                  lesson=self.get_query_argument("lesson", ""), offset=int_arg(self, "offset", 0),
                                  limit=int_arg(self, "limit", forum.DEFAULT_LIMIT))
        self.db.commit()
        self.write_json({"total": page.total, "offset": page.offset, "limit": page.limit, "threads": page.threads})

    @requires_user
    def post(self, slug: str):
        body = _only(body_dict(self), {"title", "body", "kind", "lesson", "cell_id", "version", "anonymous",
                                       "private"})
        user = self.require_user()
        thread = forum.create_thread(self.db, user, slug, title=body.get("title"), body=body.get("body"),
                                     kind=body.get("kind", "question"), lesson=body.get("lesson"),
                                     cell_id=body.get("cell_id"), version=body.get("version"),
                                     anonymous=body.get("anonymous"), private=body.get("private"),
                                     limits=self.forum_limits)
        self.db.commit()
        self.write_json({"id": thread.id}, 201)


class ThreadAPI(APIHandler):
    @requires_user
    def get(self, thread_id: str):
        user = self.require_user()
        view = forum.thread_view(self.db, user, parse_id(thread_id, "thread"))
        self.db.commit()  # the read mark
        self.write_json(view)

    @requires_user
    def patch(self, thread_id: str):
        body = _only(body_dict(self), {"pinned", "locked", "closed"})
        user = self.require_user()
        forum.moderate(self.db, user, parse_id(thread_id, "thread"), **body)
        self.db.commit()
        self.write_json(forum.thread_view(self.db, user, parse_id(thread_id, "thread"), mark_read=False))


class ThreadPostsAPI(ForumMixin, APIHandler):
    @requires_user
    def post(self, thread_id: str):
        body = _only(body_dict(self), {"body", "parent", "anonymous"})
        user = self.require_user()
        post = forum.add_post(self.db, user, parse_id(thread_id, "thread"), body=body.get("body"),
                              parent=body.get("parent"), anonymous=body.get("anonymous"), limits=self.forum_limits)
        self.db.commit()
        self.write_json({"id": post.id, "thread": post.thread_id, "parent": post.parent_id}, 201)


class PostVoteAPI(APIHandler):
    @requires_user
    def post(self, post_id: str):
        body = _only(body_dict(self), {"value"})
        user = self.require_user()
        post = forum.vote(self.db, user, parse_id(post_id, "post"), body.get("value"))
        self.db.commit()
        self.write_json({"id": post.id, "score": post.score, "my_vote": body.get("value")})


class ThreadAcceptAPI(APIHandler):
    @requires_user
    def post(self, thread_id: str):
        body = _only(body_dict(self), {"post"})
        user = self.require_user()
        thread = forum.accept(self.db, user, parse_id(thread_id, "thread"), body.get("post"))
        self.db.commit()
        self.write_json({"id": thread.id, "accepted_post": thread.accepted_post_id})


class PostEndorseAPI(APIHandler):
    @requires_user
    def post(self, post_id: str):
        body = _only(body_dict(self), {"endorsed"})
        user = self.require_user()
        post = forum.endorse(self.db, user, parse_id(post_id, "post"), body.get("endorsed", True))
        self.db.commit()
        self.write_json({"id": post.id, "endorsed": post.endorsed})


class PostRevealAPI(APIHandler):
    @requires_user
    def post(self, post_id: str):
        user = self.require_user()
        author = forum.reveal(self.db, user, parse_id(post_id, "post"))
        self.db.commit()
        self.write_json({"id": int(post_id), "author": author.display_name or author.hub_name,
                         "username": author.hub_name})


class ThreadLevelAPI(APIHandler):
    @requires_user
    def put(self, thread_id: str):
        body = _only(body_dict(self), {"level"})
        level = forum.set_thread_level(self.db, self.require_user(), parse_id(thread_id, "thread"), body.get("level"))
        self.db.commit()
        self.write_json({"level": level})


class CourseLevelAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        self.write_json({"level": forum.course_level(self.db, self.require_user(), slug)})

    @requires_user
    def put(self, slug: str):
        body = _only(body_dict(self), {"level"})
        level = forum.set_course_level(self.db, self.require_user(), slug, body.get("level"))
        self.db.commit()
        self.write_json({"level": level})


class ThreadDuplicateAPI(APIHandler):
    @requires_user
    def post(self, thread_id: str):
        body = _only(body_dict(self), {"of"})
        thread = forum.mark_duplicate(self.db, self.require_user(), parse_id(thread_id, "thread"), body.get("of"))
        self.db.commit()
        self.write_json({"id": thread.id, "duplicate_of": thread.duplicate_of_id})


class PostReportAPI(ForumMixin, APIHandler):
    @requires_user
    def post(self, post_id: str):
        body = _only(body_dict(self), {"reason"})
        report = forum.report_post(self.db, self.require_user(), parse_id(post_id, "post"), body.get("reason"),
                                   limits=self.forum_limits)
        self.db.commit()
        self.write_json({"id": report.id, "post": report.post_id}, 201)


class PostHideAPI(APIHandler):
    @requires_user
    def post(self, post_id: str):
        body = _only(body_dict(self), {"hidden", "reason"})
        user, pid = self.require_user(), parse_id(post_id, "post")
        hidden = body.get("hidden", True)
        if not isinstance(hidden, bool):
            raise InvalidInput("hidden must be true or false", field="hidden")
        post = forum.hide_post(self.db, user, pid, body.get("reason")) if hidden else \
            forum.unhide_post(self.db, user, pid)
        self.db.commit()
        self.write_json({"id": post.id, "hidden": post.hidden_at is not None, "reason": post.hidden_reason})


class PostDismissReportsAPI(APIHandler):
    @requires_user
    def post(self, post_id: str):
        _only(body_dict(self) if self.request.body else {}, set())
        dismissed = forum.dismiss_reports(self.db, self.require_user(), parse_id(post_id, "post"))
        self.db.commit()
        self.write_json({"id": int(post_id), "dismissed": dismissed})


class CourseReportsAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        self.write_json({"reports": forum.moderation_queue(self.db, self.require_user(), slug)})


class AllReportsAPI(APIHandler):
    @requires_user
    def get(self):
        self.write_json({"reports": forum.moderation_queue(self.db, self.require_user(), None)})


class SuspensionsAPI(APIHandler):
    @requires_user
    def get(self, slug: str):
        self.write_json({"suspensions": forum.suspensions(self.db, self.require_user(), slug)})

    @requires_user
    def post(self, slug: str):
        body = _only(body_dict(self), {"user", "post", "days", "reason"})
        if (body.get("user") is None) == (body.get("post") is None):
            raise InvalidInput("name the member to suspend: either user (their user name) or post (one of theirs)")
        suspension = forum.suspend(self.db, self.require_user(), slug, username=body.get("user"),
                                   post=body.get("post"), days=body.get("days"), reason=body.get("reason"))
        self.db.commit()
        self.write_json({"id": suspension.id, "until": suspension.ends_at.isoformat()}, 201)


class SuspensionAPI(APIHandler):
    @requires_user
    def delete(self, slug: str, suspension_id: str):
        forum.lift_suspension(self.db, self.require_user(), slug, parse_id(suspension_id, "suspension"))
        self.db.commit()
        self.set_status(204)
        self.finish()


class PreviewAPI(APIHandler):
    @requires_user
    def post(self):
        body = _only(body_dict(self), {"body"})
        self.require_user()
        self.write_json({"html": forum.render(forum.check_body(body.get("body")))})


default_handlers = [
    (r"api/v1/courses/([^/]+)/threads", CourseThreadsAPI),
    (r"api/v1/threads/([^/]+)", ThreadAPI),
    (r"api/v1/threads/([^/]+)/posts", ThreadPostsAPI),
    (r"api/v1/threads/([^/]+)/accept", ThreadAcceptAPI),
    (r"api/v1/posts/([^/]+)/vote", PostVoteAPI),
    (r"api/v1/posts/([^/]+)/endorse", PostEndorseAPI),
    (r"api/v1/posts/([^/]+)/reveal", PostRevealAPI),
    (r"api/v1/forum/preview", PreviewAPI),
    (r"api/v1/threads/([^/]+)/level", ThreadLevelAPI),
    (r"api/v1/courses/([^/]+)/forum/level", CourseLevelAPI),
    (r"api/v1/threads/([^/]+)/duplicate", ThreadDuplicateAPI),
    (r"api/v1/posts/([^/]+)/report", PostReportAPI),
    (r"api/v1/posts/([^/]+)/hide", PostHideAPI),
    (r"api/v1/posts/([^/]+)/dismiss-reports", PostDismissReportsAPI),
    (r"api/v1/courses/([^/]+)/forum/reports", CourseReportsAPI),
    (r"api/v1/forum/reports", AllReportsAPI),
    (r"api/v1/courses/([^/]+)/forum/suspensions", SuspensionsAPI),
    (r"api/v1/courses/([^/]+)/forum/suspensions/([^/]+)", SuspensionAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_ID = path_param("id", "integer")
_FLAGS = {"type": "boolean"}
_LEVEL_BODY = {"type": "object", "required": ["level"],
               "properties": {"level": {"type": "string", "enum": list(LEVELS)}}}
_REPORTS = {"type": "object", "properties": {"reports": {"type": "array", "items": {"type": "object", "properties": {
    "post": {"type": "integer"}, "thread": {"type": "integer"}, "thread_title": {"type": "string"},
    "course": {"type": "string"}, "author": {"type": "string"}, "anonymous": _FLAGS, "excerpt": {"type": "string"},
    "reports": {"type": "array", "items": {"type": "object", "properties": {
        "reporter": {"type": "string"}, "reason": {"type": "string"}}}}}}}}}
OPENAPI_PATHS: dict = {
    "/courses/{slug}/threads": {
        "get": {"summary": "A page of the course's Q&A threads (members only), newest activity first, pinned on top; "
                           "q matches every word, the last as a prefix", "security": SECURITY,
                "parameters": [SLUG, {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "lesson", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer"}},
                               {"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": forum.MAX_LIMIT}}],
                "responses": {"200": response("Threads", {"type": "object", "properties": {
                    "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"},
                    "threads": {"type": "array", "items": ref("ForumThreadSummary")}}}),
                    **errors(400, 401, 403, 404)}},
        "post": {"summary": "Ask a question or start a discussion (members only; new accounts are rate-limited)",
                 "security": SECURITY, "parameters": [SLUG],
                 "requestBody": json_body({"type": "object", "required": ["title", "body"], "properties": {
                     "title": {"type": "string", "maxLength": forum.MAX_TITLE},
                     "body": {"type": "string", "description": "Markdown, at most 100 kB"},
                     "kind": {"type": "string", "enum": ["question", "discussion"]},
                     "lesson": {"type": "string", "description": "the lesson's id in course.toml"},
                     "cell_id": {"type": "string", "description": "a cell id of the lesson's notebook"},
                     "version": {"type": "integer", "description": "the lesson version (default: the latest)"},
                     "anonymous": {"type": "boolean", "description": "anonymous to classmates, not to staff"},
                     "private": {"type": "boolean", "description": "visible to the course's staff only"}}}),
                 "responses": {"201": response("Created", {"type": "object", "properties": {"id": {"type": "integer"}}}),
                               **errors(400, 401, 403, 404, 429)}}},
    "/threads/{id}": {
        "get": {"summary": "A thread with its posts (marks it read)", "security": SECURITY, "parameters": [_ID],
                "responses": {"200": response("The thread", ref("ForumThread")), **errors(401, 403, 404)}},
        "patch": {"summary": "Pin, lock or close a thread (the course's staff)", "security": SECURITY,
                  "parameters": [_ID], "requestBody": json_body({"type": "object", "properties": {
                      "pinned": _FLAGS, "locked": _FLAGS, "closed": _FLAGS}}),
                  "responses": {"200": response("The thread", ref("ForumThread")), **errors(400, 401, 403, 404)}}},
    "/threads/{id}/posts": {
        "post": {"summary": "Reply to a thread, or comment on one of its posts (parent)", "security": SECURITY,
                 "parameters": [_ID], "requestBody": json_body({"type": "object", "required": ["body"], "properties": {
                     "body": {"type": "string"}, "parent": {"type": "integer"}, "anonymous": {"type": "boolean"}}}),
                 "responses": {"201": response("Created", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "thread": {"type": "integer"}, "parent": {"type": "integer"}}}),
                     **errors(400, 401, 403, 404, 429)}}},
    "/threads/{id}/accept": {
        "post": {"summary": "Accept an answer (the asker or staff); post null takes it back", "security": SECURITY,
                 "parameters": [_ID], "requestBody": json_body({"type": "object", "required": ["post"], "properties": {
                     "post": {"type": "integer", "nullable": True}}}),
                 "responses": {"200": response("Accepted", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "accepted_post": {"type": "integer", "nullable": True}}}),
                     **errors(400, 401, 403, 404)}}},
    "/posts/{id}/vote": {
        "post": {"summary": "Vote a post up (1) or down (-1), or take the vote back (0); one vote per member",
                 "security": SECURITY, "parameters": [_ID],
                 "requestBody": json_body({"type": "object", "required": ["value"], "properties": {
                     "value": {"type": "integer", "enum": [1, -1, 0]}}}),
                 "responses": {"200": response("The post's score", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "score": {"type": "integer"}, "my_vote": {"type": "integer"}}}),
                     **errors(400, 401, 403, 404)}}},
    "/posts/{id}/endorse": {
        "post": {"summary": "Endorse a post, or take it back with endorsed false (the course's staff)",
                 "security": SECURITY, "parameters": [_ID],
                 "requestBody": json_body({"type": "object", "properties": {"endorsed": _FLAGS}}),
                 "responses": {"200": response("Endorsed", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "endorsed": {"type": "boolean"}}}), **errors(400, 401, 403, 404)}}},
    "/posts/{id}/reveal": {
        "post": {"summary": "Who wrote an anonymous post (the course's staff; written to the audit log)",
                 "security": SECURITY, "parameters": [_ID],
                 "responses": {"200": response("The author", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "author": {"type": "string"}, "username": {"type": "string"}}}),
                     **errors(401, 403, 404)}}},
    "/threads/{id}/level": {
        "put": {"summary": "Your notification level for a thread: watching (told of every post), tracking (unread "
                           "counts shown), normal, muted (told nothing, left out of lists)", "security": SECURITY,
                "parameters": [_ID], "requestBody": json_body(_LEVEL_BODY),
                "responses": {"200": response("The level", _LEVEL_BODY), **errors(400, 401, 403, 404)}}},
    "/courses/{slug}/forum/level": {
        "get": {"summary": "Your notification level for the course's whole Q&A (the default of its threads)",
                "security": SECURITY, "parameters": [SLUG],
                "responses": {"200": response("The level", _LEVEL_BODY), **errors(401, 403, 404)}},
        "put": {"summary": "Set your notification level for the course's whole Q&A", "security": SECURITY,
                "parameters": [SLUG], "requestBody": json_body(_LEVEL_BODY),
                "responses": {"200": response("The level", _LEVEL_BODY), **errors(400, 401, 403, 404)}}},
    "/threads/{id}/duplicate": {
        "post": {"summary": "Mark a thread as a duplicate of another thread of the course (the course's staff); "
                            "of null takes the mark back", "security": SECURITY, "parameters": [_ID],
                 "requestBody": json_body({"type": "object", "required": ["of"], "properties": {
                     "of": {"nullable": True, "oneOf": [{"type": "integer"}, {"type": "string"}],
                            "description": "the original thread: its id, \"#id\" or its link"}}}),
                 "responses": {"200": response("Marked", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "duplicate_of": {"type": "integer", "nullable": True}}}),
                     **errors(400, 401, 403, 404)}}},
    "/posts/{id}/report": {
        "post": {"summary": "Report someone else's post to the course's staff (once per post; new accounts are "
                            "rate-limited)", "security": SECURITY,
                 "parameters": [_ID], "requestBody": json_body({"type": "object", "required": ["reason"],
                                                                "properties": {
                     "reason": {"type": "string", "maxLength": forum.MAX_REASON}}}),
                 "responses": {"201": response("Reported", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "post": {"type": "integer"}}}),
                     **errors(400, 401, 403, 404, 409, 429)}}},
    "/posts/{id}/hide": {
        "post": {"summary": "Hide a post with a reason, or show it again with hidden false (the course's staff); "
                            "hiding resolves its open reports", "security": SECURITY, "parameters": [_ID],
                 "requestBody": json_body({"type": "object", "properties": {
                     "hidden": _FLAGS, "reason": {"type": "string", "maxLength": forum.MAX_REASON}}}),
                 "responses": {"200": response("The post", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "hidden": _FLAGS, "reason": {"type": "string"}}}),
                     **errors(400, 401, 403, 404)}}},
    "/posts/{id}/dismiss-reports": {
        "post": {"summary": "Keep a reported post: its open reports leave the moderation queue (the course's staff)",
                 "security": SECURITY, "parameters": [_ID],
                 "responses": {"200": response("Dismissed", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "dismissed": {"type": "integer"}}}), **errors(400, 401, 403, 404)}}},
    "/courses/{slug}/forum/reports": {
        "get": {"summary": "The course's moderation queue: reported posts waiting for a decision (the course's staff)",
                "security": SECURITY, "parameters": [SLUG],
                "responses": {"200": response("Reported posts", _REPORTS), **errors(401, 403, 404)}}},
    "/forum/reports": {
        "get": {"summary": "Reported posts of every course (LMS admins)", "security": SECURITY,
                "responses": {"200": response("Reported posts", _REPORTS), **errors(401, 403)}}},
    "/courses/{slug}/forum/suspensions": {
        "get": {"summary": "Suspensions in force in the course's Q&A (the course's staff)", "security": SECURITY,
                "parameters": [SLUG], "responses": {"200": response("Suspensions", {"type": "object", "properties": {
                    "suspensions": {"type": "array", "items": {"type": "object"}}}}), **errors(401, 403, 404)}},
        "post": {"summary": "Suspend a member from posting, voting and reporting in the course's Q&A for some days "
                            "(the course's staff); name them by user name or by one of their posts",
                 "security": SECURITY, "parameters": [SLUG],
                 "requestBody": json_body({"type": "object", "required": ["days", "reason"], "properties": {
                     "user": {"type": "string"}, "post": {"type": "integer"},
                     "days": {"type": "integer", "minimum": 1, "maximum": forum.MAX_SUSPENSION_DAYS},
                     "reason": {"type": "string", "maxLength": forum.MAX_REASON}}}),
                 "responses": {"201": response("Suspended", {"type": "object", "properties": {
                     "id": {"type": "integer"}, "until": {"type": "string", "format": "date-time"}}}),
                     **errors(400, 401, 403, 404)}}},
    "/courses/{slug}/forum/suspensions/{id}": {
        "delete": {"summary": "Lift a suspension early (the course's staff)", "security": SECURITY,
                   "parameters": [SLUG, _ID], "responses": {"204": {"description": "Lifted"},
                                                             **errors(401, 403, 404)}}},
    "/forum/preview": {
        "post": {"summary": "A post's Markdown rendered and sanitised as it would be shown", "security": SECURITY,
                 "requestBody": json_body({"type": "object", "required": ["body"], "properties": {
                     "body": {"type": "string"}}}),
                 "responses": {"200": response("HTML", {"type": "object", "properties": {"html": {"type": "string"}}}),
                               **errors(400, 401)}}},
}
_POST = {"type": "object", "properties": {
    "id": {"type": "integer"}, "parent": {"type": "integer", "nullable": True}, "opening": {"type": "boolean"},
    "html": {"type": "string"}, "body": {"type": "string"}, "score": {"type": "integer"},
    "my_vote": {"type": "integer"}, "endorsed": {"type": "boolean"}, "accepted": {"type": "boolean"},
    "author": {"type": "string", "description": "'Anonymous' for an anonymous post (but to its author)"},
    "anonymous": {"type": "boolean"}, "audience": {"type": "string", "description": "who can see the author"},
    "staff": {"type": "boolean"}, "hidden": {"type": "boolean"},
    "stub": {"type": "boolean", "description": "hidden by the staff: nothing of it is shown"},
    "hidden_reason": {"type": "string", "nullable": True},
    "comments": {"type": "array", "items": {"type": "object"}}}}
OPENAPI_SCHEMAS: dict = {
    "ForumThreadSummary": {"type": "object", "required": ["id", "title", "kind"], "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"}, "kind": {"type": "string"},
        "lesson": {"type": "string", "nullable": True}, "cell_id": {"type": "string", "nullable": True},
        "private": _FLAGS, "pinned": _FLAGS, "locked": _FLAGS, "closed": _FLAGS, "accepted": _FLAGS,
        "staff_answered": _FLAGS, "unread": _FLAGS, "replies": {"type": "integer"}, "author": {"type": "string"},
        "new": {"type": "boolean", "description": "never opened"},
        "unread_count": {"type": "integer", "nullable": True,
                         "description": "new posts; for threads you track or watch only"},
        "level": {"type": "string", "enum": list(LEVELS)},
        "duplicate_of": {"type": "integer", "nullable": True}}},
    "ForumThread": {"type": "object", "required": ["id", "title", "question", "answers"], "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"}, "kind": {"type": "string"},
        "lesson": {"type": "string", "nullable": True}, "lesson_version": {"type": "integer", "nullable": True},
        "cell_id": {"type": "string", "nullable": True}, "private": _FLAGS, "pinned": _FLAGS, "locked": _FLAGS,
        "closed": _FLAGS, "accepted_post": {"type": "integer", "nullable": True}, "staff_answered": _FLAGS,
        "level": {"type": "string", "enum": list(LEVELS)},
        "duplicate_of": {"type": "object", "nullable": True, "properties": {
            "id": {"type": "integer", "nullable": True}, "title": {"type": "string", "nullable": True}}},
        "duplicates": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "title": {"type": "string"}}}},
        "suspended": {"type": "object", "nullable": True, "description": "your suspension from this Q&A, if any"},
        "question": _POST, "answers": {"type": "array", "items": _POST}}},
}
