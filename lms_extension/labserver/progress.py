"""Learning-time heartbeats and the in-JupyterLab progress page of the student's server.

No frontend build: a periodic callback looks at the server's own sessions. A session whose
notebook is a lesson (``courses/<slug>/<lesson>.ipynb`` as ``workspace.place_lesson`` writes
it, or a ``<lesson>.v<N>.ipynb`` beside it) and whose kernel was active within the idle
window sends a heartbeat for that lesson with the student's own token. The LMS counts the
time between heartbeats only when they are close enough, so idle time is never counted.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from html import escape

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

LESSON_PATH = re.compile(r"^courses/([a-z0-9][a-z0-9-]{0,99})/([a-z0-9][a-z0-9-]{0,99}?)(?:\.v\d+)?\.ipynb$")
log = logging.getLogger("lms.labserver.progress")
REFUSED_RETRY_SECONDS = 600


def _parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def active_lessons(sessions: list[dict], now: datetime, window_seconds: float) -> list[tuple[str, str]]:
    """(course, lesson) of every lesson notebook whose kernel was active within the window."""
    found: list[tuple[str, str]] = []
    for session in sessions:
        match = LESSON_PATH.match((session.get("path") or "").lstrip("/"))
        kernel = session.get("kernel") or {}
        if not match:
            continue
        last = _parse_time(kernel.get("last_activity"))
        busy = kernel.get("execution_state") == "busy"
        if busy or (last is not None and 0 <= (now - last).total_seconds() <= window_seconds):
            pair = (match.group(1), match.group(2))
            if pair not in found:
                found.append(pair)
    return found


class HeartbeatReporter:
    """Runs in the student's server: every ``interval`` seconds, one heartbeat per active lesson."""

    def __init__(self, extension, interval: float, window: float):
        self.extension, self.interval, self.window = extension, interval, window
        self.sent = 0
        self._callback = None
        self._refused: dict[tuple[str, str], float] = {}  # (course, lesson) -> monotonic time to retry

    def start(self) -> None:
        from tornado.ioloop import PeriodicCallback

        self._callback = PeriodicCallback(self.tick, self.interval * 1000)
        self._callback.start()

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()

    async def tick(self) -> int:
        manager = self.extension.serverapp.session_manager
        try:
            sessions = await manager.list_sessions()
        except Exception:  # a culled kernel mid-listing; the next tick sees a consistent state
            log.debug("listing sessions failed", exc_info=True)
            return 0
        count = 0
        now = time.monotonic()
        for course, lesson in active_lessons(sessions, datetime.now(timezone.utc), self.window):
            if self._refused.get((course, lesson), 0) > now:
                continue
            try:
                await self.extension.send_heartbeat(course, lesson)
                count += 1
            except web.HTTPError as exc:  # not enrolled (a free preview), LMS down: never crash the server
                log.info("heartbeat for %s/%s refused: %s", course, lesson, exc.log_message)
                if exc.status_code in (403, 404):  # asking again every tick would only fill the logs
                    self._refused[(course, lesson)] = now + REFUSED_RETRY_SECONDS
        self.sent += count
        return count


class ProgressPageHandler(JupyterHandler):
    """``/user/<name>/lms/progress``: my progress, fetched from the LMS with my own token."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self):
        extension = self.settings["lms_extension"]
        data = await extension.fetch_progress()
        lms = extension.public_lms_url
        rows = []
        for course in data.get("courses", []):
            lessons = "".join(
                f"<li class=\"{'done' if ls['completed'] else ''}\">{'✓' if ls['completed'] else '○'} "
                f"{escape(ls['title'])} <small>{ls['seconds_spent'] // 60} min</small></li>"
                for ls in course.get("lessons", []))
            nxt = course.get("next")
            cert = course.get("certificate")
            rows.append(
                f"<section class=\"course\" data-course=\"{escape(course['course'])}\"><h2>{escape(course['title'])}</h2>"
                f"<div class=\"bar\"><span style=\"width:{int(course['percent'])}%\"></span></div>"
                f"<p class=\"pct\">{int(course['percent'])}% · {course['completed_lessons']} of "
                f"{course['total_lessons']} lessons · {course['seconds_spent'] // 60} min</p>"
                + (f"<p><a class=\"btn\" href=\"{escape(self.base_url)}lms/open?course={escape(course['course'])}"
                   f"&amp;lesson={escape(nxt)}\">Next lesson</a></p>" if nxt else "")
                + (f"<p><a href=\"{escape(lms)}certificates/{escape(cert)}\">Your certificate</a></p>" if cert else "")
                + f"<ol>{lessons}</ol></section>")
        body = "".join(rows) or "<p>You are not enrolled in a course yet.</p>"
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PROGRESS_PAGE.format(body=body, lms=escape(lms)))


PROGRESS_PAGE = """<!doctype html><meta charset="utf-8"><title>My progress</title>
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;line-height:1.5}}
.bar{{background:#eee;border-radius:6px;height:10px}}.bar span{{display:block;height:10px;background:#f37726;border-radius:6px}}
li.done{{color:#2b7a3d}}a.btn{{background:#f37726;color:#fff;padding:.3rem .8rem;border-radius:8px;text-decoration:none}}</style>
<h1>My progress</h1>{body}<p><a href="{lms}my-learning">My learning in the catalog</a></p>"""
