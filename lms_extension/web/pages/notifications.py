"""Pages: my notifications, my notification preferences (with web push for this browser and
the service worker ``sw.js``), the live bell's event stream, and the one-click unsubscribe
link of notification emails (RFC 8058)."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tornado import web
from tornado.iostream import StreamClosedError

from ...errors import InvalidInput
from ...services import digests, notifications, push
from ..base import BaseHandler, requires_user

PAGE_SIZE = 30
# how often one open bell asks the database for its count (any process may have added a notice:
# the web replicas, the worker), and how long one stream lasts before the browser reconnects
POLL_SECONDS = 1.0
STREAM_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0


class NotificationsPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        raw = self.get_argument("before", "")
        if raw and not raw.isdigit():
            raise InvalidInput("before must be a notification number")
        page = notifications.list_for(self.db, user.id, limit=PAGE_SIZE, before=int(raw) if raw else None)
        self.render_page("notifications/list.html", page=page, first_page=not raw)

    @web.authenticated
    def post(self):
        """Mark one (``id``) or all (``all=1``) read, back to the list."""
        user = self.require_user()
        if self.get_body_argument("all", "") == "1":
            changed = notifications.mark_read(self.db, user.id, everything=True)
            self.add_notice("All notifications are marked read." if changed else "Nothing was unread.")
        else:
            raw = self.get_body_argument("id", "")
            if not raw.isdigit():
                raise InvalidInput("choose a notification to mark read")
            notifications.mark_read(self.db, user.id, ids=[int(raw)])
        self.db.commit()
        self.redirect(self.config.service_prefix + "notifications", status=303)


class OpenNotification(BaseHandler):
    """A notice's link: marks it read and goes where it points."""

    @web.authenticated
    def get(self, notification_id: str):
        user = self.require_user()
        target = notifications.open_one(self.db, user.id, int(notification_id))
        self.db.commit()
        # a stored path inside the service, never an outside address
        self.redirect(self.config.service_prefix + (target if not target.startswith("/") else "notifications"))


class PreferencesPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        self.render_page("notifications/preferences.html", kinds=notifications.KINDS,
                         channels=notifications.CHANNELS, prefs=notifications.preferences(self.db, user.id),
                         has_email=bool(user.email), vapid_public_key=push.application_server_key(self.config),
                         browsers=[(s, browser_label(s.user_agent)) for s in push.subscriptions_of(self.db, user.id)],
                         digest=digests.frequency(self.db, user.id), digest_labels=digests.LABELS)

    @web.authenticated
    def post(self):
        user = self.require_user()
        wanted = set()
        for value in self.get_body_arguments("on"):
            kind, _, channel = value.partition(":")
            wanted.add((kind, channel))
        notifications.save_preferences(self.db, user.id, wanted)
        self.db.commit()
        self.add_notice("Your notification preferences are saved.")
        self.redirect(self.config.service_prefix + "notifications/preferences", status=303)


def browser_label(user_agent: str) -> str:
    """"Firefox on Linux" from a User-Agent, or "A browser" when it says too little."""
    ua = user_agent or ""
    name = next((label for token, label in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                            ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))
                 if token in ua), "A browser")
    system = next((label for token, label in (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
                                              ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                                              ("Linux", "Linux")) if token in ua), "")
    return f"{name} on {system}" if system else name


class PushBrowserRemove(BaseHandler):
    """The preferences page's "Remove" beside one of my browsers (a form: works without script)."""

    @web.authenticated
    def post(self):
        user = self.require_user()
        raw = self.get_body_argument("id", "")
        if not raw.isdigit() or len(raw) > 10:
            raise InvalidInput("choose a browser to remove")
        push.unsubscribe(self.db, user.id, subscription_id=int(raw))
        self.db.commit()
        self.add_notice("That browser gets no more push notifications.")
        self.redirect(self.config.service_prefix + "notifications/preferences", status=303)


class ServiceWorkerScript(BaseHandler):
    """``static/sw.js`` at the top of the service, so that its scope is every LMS page."""

    def get(self):
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")  # browsers check for a new worker on each visit
        self.finish((Path(self.settings["static_path"]) / "sw.js").read_bytes())


class UnsubscribePage(BaseHandler):
    """GET shows what the link turns off and a button; POST (the button, or a mail client's
    one-click ``List-Unsubscribe=One-Click``) turns that kind's email off. The signed token is
    the authorisation: no login, no xsrf cookie (mail clients have none)."""

    def check_xsrf_cookie(self):
        return None

    def get(self, token: str):
        user, kind = notifications.describe_token(self.db, self.config.cookie_secret, token)
        off = not notifications.preferences(self.db, user.id)[kind][notifications.EMAIL]
        self.render_page("notifications/unsubscribe.html", token=token, kind=notifications.KINDS[kind],
                         done=False, already=off)

    def post(self, token: str):
        user, kind = notifications.unsubscribe(self.db, self.config.cookie_secret, token)
        self.db.commit()
        self.render_page("notifications/unsubscribe.html", token=token, kind=notifications.KINDS[kind],
                         done=True, already=False)


class NotificationStream(BaseHandler):
    """Server-Sent Events for the bell: an ``unread`` event at once and whenever the count or
    the newest notice changes. Each open stream polls the database (one indexed count per
    second), so a notice made by any replica or by the worker shows within about a second."""

    _closed = False

    def on_connection_close(self):
        self._closed = True

    # not @web.authenticated: a stream without a valid login (or without the page's xsrf token:
    # EventSource is a cross-mode fetch, which JupyterHub checks) ends with a 401; a redirect
    # would take the browser through a new OAuth login behind the page's back and change the
    # login the page's forms were made for
    @requires_user
    async def get(self):
        user_id = self.require_user().id
        if self._db is not None:  # hold no connection between polls
            self._db.close()
            self._db = None
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.write("retry: 2000\n\n")
        factory = self.settings["session_factory"]
        last, quiet_since = None, time.monotonic()
        ends = time.monotonic() + STREAM_SECONDS
        while not self._closed and time.monotonic() < ends:
            with factory() as db:
                state = notifications.latest_change(db, user_id)
            if state != last:
                self.write(f"event: unread\ndata: {json.dumps({'unread': state[0], 'newest': state[1]})}\n\n")
                last, quiet_since = state, time.monotonic()
            elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                self.write(": still here\n\n")  # keeps proxies from closing an idle stream
                quiet_since = time.monotonic()
            try:
                await self.flush()
            except StreamClosedError:
                return
            await asyncio.sleep(POLL_SECONDS)
        if not self._closed:
            self.finish()


default_handlers = [
    (r"notifications", NotificationsPage),
    (r"notifications/preferences", PreferencesPage),
    (r"notifications/([0-9]{1,10})", OpenNotification),
    (r"notifications/stream", NotificationStream),
    (r"notifications/unsubscribe/([^/]+)", UnsubscribePage),
    (r"notifications/push-browsers/remove", PushBrowserRemove),
    (r"sw\.js", ServiceWorkerScript),
]
