"""Pages: the inbox, a conversation with its reply form, writing to a course's staff (the course
page's "Message the staff") or to a student (the roster's "Message"), the people one has blocked,
and a course's messaging settings (student-to-student messages on or off).

Forms post here and come back with a 303; a refused form comes back with what was typed and the
sentence saying why. The preview renders on the server through the same sanitiser as messages.
"""
from __future__ import annotations

import logging
from urllib.parse import quote

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import object_session
from tornado import web

from ...errors import InvalidInput, LMSError
from ...services import messages
from ..base import BaseHandler, int_arg, parse_id

log = logging.getLogger("lms.web.messages")
PAGE = 30
SHOWN = 100  # messages of a conversation on one page


def unread_messages(user) -> int:
    """For the header's Messages link: unread messages of the signed-in user. Never breaks a
    page: on a database error, no count."""
    session = object_session(user) if user is not None else None
    if session is None:
        return 0
    try:
        return messages.unread_total(session, user.id)
    except SQLAlchemyError:
        log.warning("could not count the unread messages of %s", user.hub_name, exc_info=True)
        return 0


class MessagesPage(BaseHandler):
    def conversation_url(self, conversation_id: int, anchor: str = "") -> str:
        return f"{self.config.service_prefix}messages/{conversation_id}" + (f"#{anchor}" if anchor else "")

    def check_message_rate(self, user) -> None:
        self.check_rate("messages", f"user:{user.hub_name}", self.config.rate_limit_messages,
                        "too many messages in a short time")

    def preview(self, body: str) -> str:
        return messages.render(messages.check_body(body))


class InboxPage(MessagesPage):
    @web.authenticated
    def get(self):
        user = self.require_user()
        offset = max(0, int_arg(self, "offset", 0))
        page = messages.inbox(self.db, user, limit=PAGE, offset=offset)
        self.render_page("messages/inbox.html", page=page, page_size=PAGE)


class ConversationPage(MessagesPage):
    def show(self, conversation_id: int, *, status: int = 200, body: str = "", error: str | None = None,
             preview_html: str | None = None) -> None:
        raw = self.get_query_argument("before", "") if self.request.method == "GET" else ""
        before = parse_id(raw, "message") if raw else None
        view = messages.view(self.db, self.lms_user, conversation_id, before=before, limit=SHOWN)
        self.db.commit()  # the read mark
        self.set_status(status)
        self.render_page("messages/conversation.html", c=view, body=body, error=error, preview_html=preview_html,
                         older=before is not None)

    @web.authenticated
    def get(self, conversation_id: str):
        self.require_user()
        self.show(parse_id(conversation_id, "conversation"))

    @web.authenticated
    def post(self, conversation_id: str):
        user = self.require_user()
        cid = parse_id(conversation_id, "conversation")
        body = self.get_body_argument("body", "")
        try:
            if self.get_body_argument("action", "") == "preview":
                return self.show(cid, body=body, preview_html=self.preview(body))
            self.check_message_rate(user)
            message = messages.post(self.db, user, cid, body)
        except LMSError as exc:
            if exc.status not in (400, 403, 429):
                raise
            self.db.rollback()
            if exc.status == 429 and "retry_after" in exc.details:
                self.set_header("Retry-After", str(exc.details["retry_after"]))
            return self.show(cid, status=exc.status, body=body, error=exc.message)
        self.db.commit()
        self.redirect(self.conversation_url(cid, f"message-{message.id}"), status=303)


class ComposePage(MessagesPage):
    """``courses/<slug>/message[?to=<username>]``: a new message to the course's staff, a student
    (staff) or a classmate (when allowed). A pair that has a conversation goes straight to it."""

    def form(self, slug: str, to: str, *, status: int = 200, body: str = "", error: str | None = None,
             preview_html: str | None = None, target=None):
        t = target or messages.target(self.db, self.require_user(), slug, to or None)
        self.set_status(status)
        self.render_page("messages/compose.html", t=t, to=to, body=body, error=error, preview_html=preview_html,
                         peers=messages.students_may_message(self.db, t.course.id))

    @web.authenticated
    def get(self, slug: str):
        user = self.require_user()
        to = self.get_query_argument("to", "").strip()
        t = messages.target(self.db, user, slug, to or None)
        found = messages.existing(self.db, t)
        if found is not None:
            return self.redirect(self.conversation_url(found.id), status=303)
        self.form(slug, to, target=t)

    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        to = self.get_body_argument("to", "").strip()
        body = self.get_body_argument("body", "")
        try:
            if self.get_body_argument("action", "") == "preview":
                return self.form(slug, to, body=body, preview_html=self.preview(body))
            self.check_message_rate(user)
            conversation, message = messages.start(self.db, user, slug, to=to or None, body=body)
        except LMSError as exc:
            if exc.status not in (400, 403, 404, 429):
                raise
            self.db.rollback()
            # the form again with what was typed, when the sender may write to someone here
            # (a student's fallback is the staff: the name they typed stays in the To field)
            for fallback in (to, None):
                try:
                    t = messages.target(self.db, user, slug, fallback)
                except LMSError:
                    continue
                return self.form(slug, to, status=exc.status, body=body, error=exc.message, target=t)
            raise exc
        self.db.commit()
        self.redirect(self.conversation_url(conversation.id, f"message-{message.id}"), status=303)


class BlockedPage(MessagesPage):
    @web.authenticated
    def get(self):
        user = self.require_user()
        self.render_page("messages/blocked.html", blocked=messages.blocked(self.db, user))


class BlockForm(MessagesPage):
    """Block or unblock a person (``username``), back to ``next`` (a conversation) or the list."""

    @web.authenticated
    def post(self, action: str):
        user = self.require_user()
        name = self.get_body_argument("username", "")
        if action == "block":
            other = messages.block(self.db, user, name)
            self.add_notice(f"You blocked {messages.name_of(other)}: they can no longer message you. "
                            "Course announcements still reach you.")
        else:
            other = messages.unblock(self.db, user, name)
            self.add_notice(f"You unblocked {messages.name_of(other)}.")
        self.db.commit()
        back = self.get_body_argument("next", "")
        target = (self.conversation_url(int(back)) if back.isdigit() and len(back) < 10
                  else self.config.service_prefix + "messages/blocked")
        self.redirect(target, status=303)


class MessagingSettingsPage(MessagesPage):
    @web.authenticated
    def get(self, slug: str):
        course, allowed = messages.course_settings(self.db, self.require_user(), slug)
        self.render_page("messages/settings.html", course=course, allowed=allowed)

    @web.authenticated
    def post(self, slug: str):
        raw = self.get_body_argument("students_may_message", "")
        if raw not in ("0", "1"):
            raise InvalidInput("choose whether students may message each other")
        course = messages.set_students_may_message(self.db, self.require_user(), slug, raw == "1")
        self.db.commit()
        self.add_notice("Students of this course can now message each other." if raw == "1"
                        else "Students of this course can no longer message each other.")
        self.redirect(f"{self.config.service_prefix}courses/{quote(course.slug)}/messages/settings", status=303)


default_handlers = [
    (r"messages", InboxPage),
    (r"messages/([0-9]{1,9})", ConversationPage),
    (r"messages/blocked", BlockedPage),
    (r"messages/(block|unblock)", BlockForm),
    (r"courses/([^/]+)/message", ComposePage),
    (r"courses/([^/]+)/messages/settings", MessagingSettingsPage),
]
