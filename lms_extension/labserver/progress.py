"""Learning time, lesson access and idle kernels in the student's server; its progress page.

Time spent comes from the browser, not from kernels (every open lesson's kernel looks
active, which counted each minute several times over). JupyterLab's Course extension
(``labextension/src/activity.ts``) POSTs ``/lms/activity`` with the path of the notebook in
the visible tab, every ``ping_seconds``, only while the page is visible and the student
touched it within ``LMS_IDLE_SECONDS``. ``HeartbeatReporter.ping`` gives the time since the
previous ping (at most ``ping_seconds``; none after a longer silence) to the notebook that
previous ping named, so one notebook at a time is counted and the total never exceeds the
wall-clock time, however many tabs or windows are open. Every ``LMS_HEARTBEAT_SECONDS`` the
reporter sends each lesson's seconds to the LMS (``POST api/v1/me/heartbeats``).

The same periodic callback asks the LMS every ``ACCESS_CHECK_SECONDS`` (and at start) which
of the lessons placed in the home the student may still open, and locks the others
(``workspace.lock_lesson``: a read-only notice in place of the notebook, e.g. after a refund).

``configure_kernel_culling`` shuts kernels down after ``LMS_KERNEL_CULL_SECONDS`` without
activity, connected or not, so lessons left open do not pile up kernels under the memory limit.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from html import escape
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web

from ..config import ENV
from .workspace import lock_lesson, placed_lessons

LESSON_PATH = re.compile(r"^courses/([a-z0-9][a-z0-9-]{0,99})/([a-z0-9][a-z0-9-]{0,99}?)(?:\.v\d+)?\.ipynb$")
log = logging.getLogger("lms.labserver.progress")
REFUSED_RETRY_SECONDS = 600
ACCESS_CHECK_SECONDS = 300
PING_SECONDS = 30.0
LATE_PING_FACTOR = 2.0  # a ping this many intervals after the previous one still follows it
CULL_ENV = ENV["kernel_cull_seconds"]  # LMS_KERNEL_CULL_SECONDS, as the hub passes it


def lesson_of(path: str) -> tuple[str, str] | None:
    match = LESSON_PATH.match(path.lstrip("/")) if isinstance(path, str) else None
    return (match.group(1), match.group(2)) if match else None


class HeartbeatReporter:
    """Turns the browser's activity pings into time-spent reports, one notebook at a time."""

    def __init__(self, extension, interval: float, window: float, *, clock=time.monotonic,
                 ping_seconds: float | None = None):
        self.extension, self.interval, self.window, self.clock = extension, interval, window, clock
        # the browser pings at least as often as the reports go out
        self.ping_seconds = float(ping_seconds or min(PING_SECONDS, interval or PING_SECONDS))
        self.sent = 0
        self.pending: dict[tuple[str, str], float] = {}  # seconds measured, not yet reported
        self._last: tuple[float, tuple[str, str] | None] | None = None  # (when, lesson) of the last ping
        self._callback = None
        self._refused: dict[tuple[str, str], float] = {}  # (course, lesson) -> clock time to retry
        self._next_access_check = 0.0  # at the first tick

    def start(self) -> None:
        from tornado.ioloop import IOLoop, PeriodicCallback

        self._callback = PeriodicCallback(self.tick, self.interval * 1000)
        self._callback.start()
        IOLoop.current().add_callback(self.tick)  # the access check right away: a refund while I was away

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()

    def ping(self, path: str) -> bool:
        """The student is active on ``path`` (the notebook in the visible tab; "" for none).
        The time since the previous ping goes to the notebook that ping named. True for a lesson."""
        now = self.clock()
        lesson = lesson_of(path)
        if self._last is not None:
            then, previous = self._last
            gap = now - then
            if previous is not None and 0 < gap <= self.ping_seconds * LATE_PING_FACTOR:
                # never more than one report can count, even while reports cannot go out
                total = self.pending.get(previous, 0.0) + min(gap, self.ping_seconds)
                self.pending[previous] = min(self.window, total)
        if self._last is None or now >= self._last[0]:
            self._last = (now, lesson)
        return lesson is not None

    async def tick(self) -> int:
        """Report each lesson's measured seconds; now and then, lock the lessons no longer open to me."""
        now = self.clock()
        if now >= self._next_access_check:
            self._next_access_check = now + ACCESS_CHECK_SECONDS
            await self.check_access()
        count = 0
        for key, seconds in list(self.pending.items()):
            whole = math.floor(seconds)
            if whole < 1:
                continue
            if self._refused.get(key, 0) > now:
                self.pending.pop(key, None)
                continue
            course, lesson = key
            try:
                await self.extension.send_heartbeat(course, lesson, whole)
            except web.HTTPError as exc:  # not enrolled (a free preview), LMS down: never crash the server
                log.info("time report for %s/%s refused: %s", course, lesson, exc.log_message)
                if exc.status_code in (403, 404):  # asking again every tick would only fill the logs
                    self._refused[key] = now + REFUSED_RETRY_SECONDS
                    self.pending.pop(key, None)
                    if exc.status_code == 403:  # access taken back? look now rather than later
                        self._next_access_check = now
                else:  # kept for the next tick, but never more than one report can count
                    self.pending[key] = min(seconds, self.window)
                continue
            self.pending[key] = seconds - whole
            count += 1
        self.sent += count
        return count

    async def check_access(self) -> list[tuple[str, str]]:
        """Lock the placed lessons the LMS says I may no longer open; returns those locked."""
        root = Path(self.extension.serverapp.root_dir).expanduser()
        placed = placed_lessons(root)
        if not placed:
            return []
        try:
            answer = await self.extension.lesson_access(placed)
        except web.HTTPError as exc:
            log.info("lesson access check failed: %s", exc.log_message)
            return []
        locked = []
        for item in answer.get("lessons", []) if isinstance(answer, dict) else []:
            key = (item.get("course"), item.get("lesson"))
            if item.get("access") is False and key in placed:
                message = item.get("message") or "You can no longer open this lesson."
                try:
                    lock_lesson(root, key[0], key[1], message)
                except (OSError, ValueError):
                    log.exception("could not lock %s/%s", *key)
                    continue
                log.info("locked %s/%s: %s", key[0], key[1], message)
                locked.append(key)
        return locked


class ActivityHandler(APIHandler):
    """``/user/<name>/lms/activity``: GET the ping settings; POST ``{"path": <notebook in focus>}``."""

    auth_resource = "contents"

    @property
    def reporter(self) -> HeartbeatReporter:
        return self.settings["lms_extension"].heartbeats

    def _settings(self) -> dict:
        return {"ping_seconds": self.reporter.ping_seconds, "idle_seconds": self.reporter.window}

    @web.authenticated
    @authorized
    def get(self):
        self.finish(json.dumps(self._settings()))

    @web.authenticated
    @authorized
    def post(self):
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, 'send {"path": "<the notebook in the visible tab>"}') from None
        path = body.get("path", "") if isinstance(body, dict) else None
        if not isinstance(path, str) or len(path) > 1000:
            raise web.HTTPError(400, 'send {"path": "<the notebook in the visible tab>"} ("" for none)')
        lesson = self.reporter.ping(path)
        self.finish(json.dumps({"lesson": lesson, **self._settings()}))


def configure_kernel_culling(serverapp, environ=os.environ) -> int:
    """Cull kernels idle for ``LMS_KERNEL_CULL_SECONDS`` (the hub passes LMSConfig's
    kernel_cull_seconds), even with a tab connected; a busy kernel is never culled. 0: off."""
    try:
        seconds = int(float(environ.get(CULL_ENV) or 0))
    except ValueError:
        log.warning("%s=%r is not a number of seconds: kernels are not culled", CULL_ENV, environ.get(CULL_ENV))
        return 0
    if seconds <= 0:
        return 0
    manager = serverapp.kernel_manager
    manager.cull_idle_timeout = seconds
    manager.cull_interval = max(1, min(60, seconds // 4))
    manager.cull_connected = True
    manager.cull_busy = False
    return seconds


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
