"""Pages: a course's Q&A (the list with search and lesson filter, a thread, the new-thread form),
its moderation page (reports, suspensions) and the admins' list of every course's reports.

Forms post here and come back to the thread; a refused form comes back with what was typed and
the sentence saying why. The Markdown preview renders on the server through the same sanitiser
as posts, so the page needs no script."""
from __future__ import annotations

from tornado import web

from ... import permissions
from ...errors import InvalidInput, LMSError
from ...services import forum, forum_ask
from ..base import BaseHandler, int_arg, parse_id, requires

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
        ns.setdefault("action_error", None)
        ns.setdefault("duplicate_value", "")
        recent = forum.recent_threads(self.db, self.lms_user, view["course"]) if view["staff"] else []
        self.render_page("forum/thread.html", thread=view, recent_threads=recent, level_labels=forum.LEVEL_LABELS,
                         level_help=forum.LEVEL_HELP, **ns)

    def after_action(self, thread_id: int, anchor: str, act) -> None:
        """Run a button's action; a refusal comes back on the thread page with the sentence why."""
        try:
            act()
        except LMSError as exc:
            if exc.status not in (400, 403, 409, 429):
                raise
            self.db.rollback()
            return self.show_thread(thread_id, status=exc.status, action_error=exc.message,
                                    duplicate_value=self.get_body_argument("of", "")[:200])
        self.db.commit()
        self.redirect(self.thread_url(thread_id, anchor))


class CourseForumPage(ForumPage):
    @web.authenticated
    def get(self, slug: str):
        user = self.require_user()
        q = self.get_query_argument("q", "")[:200]
        lesson = self.get_query_argument("lesson", "")
        offset = max(0, int_arg(self, "offset", 0))
        muted = self.get_query_argument("muted", "") == "1"
        m = forum.member(self.db, user, slug)
        error = None
        try:
            page = forum.list_threads(self.db, user, slug, q=q, lesson=lesson, offset=offset, limit=PAGE, muted=muted)
        except InvalidInput as exc:
            error, page = exc.message, forum.list_threads(self.db, user, slug, q=q, limit=PAGE, muted=muted)
            self.set_status(400)
        suspension = None if m.staff else forum.active_suspension(self.db, user.id, m.course.id)
        self.render_page("forum/list.html", course=m.course, staff=m.staff, page=page, q=q, lesson=lesson,
                         error=error, page_size=PAGE, level_labels=forum.LEVEL_LABELS, level_help=forum.LEVEL_HELP,
                         open_reports=forum.open_reports(self.db, m.course.id) if m.staff else 0,
                         suspension_message=forum.suspension_message(m.course, suspension) if suspension else None)


class CourseLevelForm(ForumPage):
    @web.authenticated
    def post(self, slug: str):
        forum.set_course_level(self.db, self.require_user(), slug, self.get_body_argument("level", ""))
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}courses/{slug}/forum")


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
    """Accept an answer, pin, lock, close, mark as duplicate, set one's level (the buttons of a thread page)."""

    @web.authenticated
    def post(self, thread_id: str, action: str):
        user = self.require_user()
        tid = parse_id(thread_id, "thread")
        if action == "duplicate":
            of = self.get_body_argument("of", "").strip()
            return self.after_action(tid, "", lambda: forum.mark_duplicate(self.db, user, tid, of or None))
        if action == "level":
            level = self.get_body_argument("level", "")
            return self.after_action(tid, "", lambda: forum.set_thread_level(self.db, user, tid, level))
        if action == "accept":
            raw = self.get_body_argument("post", "")
            forum.accept(self.db, user, tid, parse_id(raw, "post") if raw else None)
        else:
            value = self.get_body_argument("value", "") == "1"
            forum.moderate(self.db, user, tid, **{action: value})
        self.db.commit()
        self.redirect(self.thread_url(tid))


class PostActionForm(ForumPage):
    """Vote, endorse, report, or (staff) hide a post or see who wrote an anonymous one."""

    @web.authenticated
    def post(self, post_id: str, action: str):
        user = self.require_user()
        pid = parse_id(post_id, "post")
        if action in ("report", "hide", "unhide"):
            tid = forum.thread_of_post(self.db, pid)
            reason = self.get_body_argument("reason", "")

            def act():
                if action == "report":
                    forum.report_post(self.db, user, pid, reason, limits=self.forum_limits)
                    self.add_notice("Thank you: the course staff will look at your report.")
                elif action == "hide":
                    forum.hide_post(self.db, user, pid, reason)
                else:
                    forum.unhide_post(self.db, user, pid)
            return self.after_action(tid, f"post-{pid}", act)
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


class ModerationPage(ForumPage):
    """A course's moderation queue and suspensions (its staff); the forms post here."""

    def show(self, slug: str, *, status: int = 200, error: str | None = None, values: dict | None = None,
             post_id: int | None = None):
        user = self.require_user()
        reports = forum.moderation_queue(self.db, user, slug)
        m = forum.member(self.db, user, slug)
        suspend_post = forum.post_summary(self.db, user, post_id) if post_id else None
        self.set_status(status)
        self.render_page("forum/moderation.html", course=m.course, reports=reports, error=error,
                         suspensions=forum.suspensions(self.db, user, slug), values=values or {},
                         suspend_post=suspend_post, max_days=forum.MAX_SUSPENSION_DAYS)

    @web.authenticated
    def get(self, slug: str):
        raw = self.get_query_argument("post", "")
        self.show(slug, post_id=parse_id(raw, "post") if raw else None)

    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        arg = lambda name: self.get_body_argument(name, "")  # noqa: E731
        action, raw_post = arg("action"), arg("post")
        values = {"user": arg("user"), "days": arg("days"), "reason": arg("reason")}
        post_id = parse_id(raw_post, "post") if raw_post else None
        forum.require_staff(self.db, user, slug)  # anyone else gets the plain 403
        try:
            if action == "hide":
                forum.hide_post(self.db, user, post_id or 0, arg("reason"))
                self.add_notice("The post is hidden from students.")
            elif action == "dismiss":
                forum.dismiss_reports(self.db, user, post_id or 0)
                self.add_notice("The post stays; its reports are closed.")
            elif action == "lift":
                forum.lift_suspension(self.db, user, slug, parse_id(arg("suspension"), "suspension"))
                self.add_notice("The suspension is lifted.")
            elif action == "suspend":
                days = arg("days").strip()
                if not days.isdigit() or len(days) > 4:
                    raise InvalidInput(f"days must be a whole number from 1 to {forum.MAX_SUSPENSION_DAYS}")
                s = forum.suspend(self.db, user, slug, username=None if post_id else arg("user"), post=post_id,
                                  days=int(days), reason=arg("reason"))
                self.add_notice(f"Suspended from this Q&A until {s.ends_at:%Y-%m-%d %H:%M} UTC.")
            else:
                raise InvalidInput("unknown moderation action")
        except LMSError as exc:
            if exc.status not in (400, 404, 409):
                raise
            self.db.rollback()
            return self.show(slug, status=exc.status, error=exc.message, values=values,
                             post_id=post_id if action == "suspend" else None)
        self.db.commit()
        if arg("back") == "all":
            return self.redirect(f"{self.config.service_prefix}forum/moderation")
        self.redirect(f"{self.config.service_prefix}courses/{slug}/forum/moderation")


class AllReportsPage(ForumPage):
    """Every course's reported posts, for the LMS admins (beside the review moderation)."""

    @web.authenticated
    @requires(permissions.ADMIN, "the Q&A reports of every course are for LMS admins")
    def get(self):
        reports = forum.moderation_queue(self.db, self.require_user(), None)
        self.render_page("forum/moderation_all.html", reports=reports)


default_handlers = [
    (r"courses/([^/]+)/forum", CourseForumPage),
    (r"courses/([^/]+)/forum/new", NewThreadPage),
    (r"courses/([^/]+)/forum/level", CourseLevelForm),
    (r"courses/([^/]+)/forum/moderation", ModerationPage),
    (r"forum/moderation", AllReportsPage),
    (r"forum/threads/([^/]+)", ThreadPage),
    (r"forum/threads/([^/]+)/reply", ThreadReplyForm),
    (r"forum/threads/([^/]+)/(accept|pinned|locked|closed|duplicate|level)", ThreadActionForm),
    (r"forum/posts/([^/]+)/(vote|endorse|reveal|report|hide|unhide)", PostActionForm),
]
