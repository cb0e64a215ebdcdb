"""Pages: a course's Q&A (the list with search and lesson filter, a thread, the new-thread form).

Forms post here and come back to the thread; a refused form comes back with what was typed and
the sentence saying why. The Markdown preview renders on the server through the same sanitiser
as posts, so the page needs no script."""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput, LMSError
from ...services import forum, forum_ask
from ..base import BaseHandler, int_arg, parse_id

PAGE = 20


class ForumPage(BaseHandler):
    @property
    def forum_limits(self) -> forum.Limits:
        return forum.Limits(self.config.forum_new_account_days, self.config.forum_new_account_posts_per_hour)

    def thread_url(self, thread_id: int, anchor: str = "") -> str:
        return f"{self.config.service_prefix}forum/threads/{thread_id}" + (f"#{anchor}" if anchor else "")

    def show_thread(self, thread_id: int, *, status: int = 200, **ns) -> None:
        view = forum.thread_view(self.db, self.lms_user, thread_id)
        self.db.commit()
        self.set_status(status)
        ns.setdefault("reply_body", "")
        ns.setdefault("preview_html", None)
        ns.setdefault("error", None)
        ns.setdefault("attachment", forum_ask.attachment_summary(self.db, thread_id))  # asked from a cell
        ns.setdefault("reply_parent", None)
        raw = self.get_query_argument("comment", "") if self.request.method == "GET" else ""
        ns.setdefault("request_comment", int(raw) if raw.isdigit() and len(raw) < 10 else None)
        self.render_page("forum/thread.html", thread=view, **ns)


class CourseForumPage(ForumPage):
    @web.authenticated
    def get(self, slug: str):
        user = self.require_user()
        q = self.get_query_argument("q", "")[:200]
        lesson = self.get_query_argument("lesson", "")
        offset = max(0, int_arg(self, "offset", 0))
        m = forum.member(self.db, user, slug)
        error = None
        try:
            page = forum.list_threads(self.db, user, slug, q=q, lesson=lesson, offset=offset, limit=PAGE)
        except InvalidInput as exc:
            error, page = exc.message, forum.list_threads(self.db, user, slug, q=q, limit=PAGE)
            self.set_status(400)
        self.render_page("forum/list.html", course=m.course, staff=m.staff, page=page, q=q, lesson=lesson,
                         error=error, page_size=PAGE)


class NewThreadPage(ForumPage):
    def form(self, slug: str, *, status: int = 200, values: dict | None = None, error: str | None = None,
             preview_html: str | None = None):
        m = forum.member(self.db, self.require_user(), slug)
        values = values or {"lesson": self.get_query_argument("lesson", ""), "cell_id": "", "kind": "question"}
        self.set_status(status)
        self.render_page("forum/new.html", course=m.course, staff=m.staff, values=values, error=error,
                         preview_html=preview_html)

    @web.authenticated
    def get(self, slug: str):
        self.require_user()
        self.form(slug)

    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        arg = lambda name: self.get_body_argument(name, "")  # noqa: E731
        values = {name: arg(name) for name in ("title", "body", "kind", "lesson", "cell_id")}
        values.update(anonymous=arg("anonymous") == "1", private=arg("private") == "1")
        if arg("action") == "preview":
            try:
                html = forum.render(forum.check_body(values["body"]))
            except InvalidInput as exc:
                return self.form(slug, status=400, values=values, error=exc.message)
            return self.form(slug, values=values, preview_html=html)
        try:
            thread = forum.create_thread(self.db, user, slug, title=values["title"], body=values["body"],
                                         kind=values["kind"] or "question", lesson=values["lesson"] or None,
                                         cell_id=values["cell_id"] or None, anonymous=values["anonymous"],
                                         private=values["private"], limits=self.forum_limits)
        except LMSError as exc:
            if exc.status not in (400, 429):
                raise
            self.db.rollback()
            return self.form(slug, status=exc.status, values=values, error=exc.message)
        self.db.commit()
        self.redirect(self.thread_url(thread.id))


class ThreadPage(ForumPage):
    @web.authenticated
    def get(self, thread_id: str):
        self.require_user()
        self.show_thread(parse_id(thread_id, "thread"))


class ThreadReplyForm(ForumPage):
    @web.authenticated
    def post(self, thread_id: str):
        user = self.require_user()
        tid = parse_id(thread_id, "thread")
        body = self.get_body_argument("body", "")
        raw_parent = self.get_body_argument("parent", "")
        parent = int(raw_parent) if raw_parent.isdigit() and len(raw_parent) < 10 else None
        anonymous = self.get_body_argument("anonymous", "") == "1"
        if self.get_body_argument("action", "") == "preview":
            try:
                html = forum.render(forum.check_body(body))
            except InvalidInput as exc:
                return self.show_thread(tid, status=400, reply_body=body, error=exc.message, reply_parent=parent)
            return self.show_thread(tid, reply_body=body, preview_html=html, reply_parent=parent)
        try:
            post = forum.add_post(self.db, user, tid, body=body, parent=parent, anonymous=anonymous,
                                  limits=self.forum_limits)
        except LMSError as exc:
            if exc.status not in (400, 403, 429):
                raise
            self.db.rollback()
            return self.show_thread(tid, status=exc.status, reply_body=body, error=exc.message,
                                    reply_parent=parent)
        self.db.commit()
        self.redirect(self.thread_url(tid, f"post-{post.id}"))


class ThreadActionForm(ForumPage):
    """Accept an answer, pin, lock or close (the buttons of a thread page)."""

    @web.authenticated
    def post(self, thread_id: str, action: str):
        user = self.require_user()
        tid = parse_id(thread_id, "thread")
        if action == "accept":
            raw = self.get_body_argument("post", "")
            forum.accept(self.db, user, tid, parse_id(raw, "post") if raw else None)
        else:
            value = self.get_body_argument("value", "") == "1"
            forum.moderate(self.db, user, tid, **{action: value})
        self.db.commit()
        self.redirect(self.thread_url(tid))


class PostActionForm(ForumPage):
    """Vote, endorse, or (staff) see who wrote an anonymous post."""

    @web.authenticated
    def post(self, post_id: str, action: str):
        user = self.require_user()
        pid = parse_id(post_id, "post")
        if action == "vote":
            raw = self.get_body_argument("value", "")
            if raw not in ("1", "-1", "0"):
                raise InvalidInput("value must be 1 (up), -1 (down) or 0 (take the vote back)")
            post = forum.vote(self.db, user, pid, int(raw))
        elif action == "endorse":
            post = forum.endorse(self.db, user, pid, self.get_body_argument("value", "") == "1")
        else:
            author = forum.reveal(self.db, user, pid)
            post = None
            self.add_notice(f"Post {pid} was written by {author.display_name or author.hub_name} "
                            f"({author.hub_name}). This look is recorded in the audit log.")
        self.db.commit()
        thread_id = post.thread_id if post is not None else forum.thread_of_post(self.db, pid)
        self.redirect(self.thread_url(thread_id, f"post-{pid}"))


default_handlers = [
    (r"courses/([^/]+)/forum", CourseForumPage),
    (r"courses/([^/]+)/forum/new", NewThreadPage),
    (r"forum/threads/([^/]+)", ThreadPage),
    (r"forum/threads/([^/]+)/reply", ThreadReplyForm),
    (r"forum/threads/([^/]+)/(accept|pinned|locked|closed)", ThreadActionForm),
    (r"forum/posts/([^/]+)/(vote|endorse|reveal)", PostActionForm),
]
