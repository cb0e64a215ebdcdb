"""``/lms/open``: fetch a lesson with the student's own token and open it in JupyterLab."""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.application import ExtensionApp
from tornado import web
from traitlets import Float, Unicode, default

from ..config import ENV, LMSConfig
from ..kernel.client import LMSClient, LMSError
from . import api, ask, pages, teach
from .progress import ActivityHandler, HeartbeatReporter, ProgressPageHandler, configure_kernel_culling
from .workspace import SAFE, place_lesson


def lesson_lab_url(base_url: str, course: str, lesson: str, rel: str) -> str:
    """JupyterLab with the lesson's notebook, in a workspace of the lesson's own: opening a lesson
    restores only what was open with it before, not every notebook (and kernel) the student ever
    opened in the default workspace, which made each open slower and piled up kernels."""
    return f"{base_url}lab/workspaces/{quote(f'lesson-{course}--{lesson}')}/tree/{quote(rel)}"


class OpenLessonHandler(JupyterHandler):
    auth_resource = "contents"

    @property
    def extension(self) -> "LMSLabExtension":
        return self.settings["lms_extension"]

    @web.authenticated
    @authorized
    async def get(self):
        course = self.get_query_argument("course", "")
        lesson = self.get_query_argument("lesson", "")
        if not course or not lesson:
            raise web.HTTPError(400, "course and lesson query arguments are required")
        payload = await self.extension.fetch_lesson(course, lesson)
        root = Path(self.settings["server_root_dir"]).expanduser()
        try:
            placed = place_lesson(root, course, lesson, int(payload["version"]), payload["notebook"])
        except ValueError as exc:
            raise web.HTTPError(400, str(exc)) from None
        rel = placed.path.relative_to(root).as_posix()
        lab_url = lesson_lab_url(self.base_url, course, lesson, rel)
        if self.get_query_argument("format", "") == "json":
            # the Course sidebar opens the lesson inside the running JupyterLab (no page load)
            beside = placed.newer_beside.relative_to(root).as_posix() if placed.newer_beside else None
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"path": rel, "newer_beside": beside, "version": placed.version}))
            return
        if placed.newer_beside is None:
            self.redirect(lab_url)
            return
        beside = placed.newer_beside.relative_to(root).as_posix()
        newer_url = lesson_lab_url(self.base_url, course, lesson, beside)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.render("newer_version.html", base_url=self.base_url, mine=rel, newer=beside,
                                 mine_url=lab_url, newer_url=newer_url, version=placed.version))


class SubmitLessonHandler(JupyterHandler):
    """GET: confirm which notebook will be submitted. POST: send it to the LMS for grading."""

    auth_resource = "contents"

    @property
    def extension(self) -> "LMSLabExtension":
        return self.settings["lms_extension"]

    def _target(self) -> tuple[str, str, Path, str]:
        course = self.get_argument("course", "")
        lesson = self.get_argument("lesson", "")
        if not SAFE.match(course) or not SAFE.match(lesson):
            raise web.HTTPError(400, "course and lesson must be ids (a-z, 0-9, -)")
        root = Path(self.settings["server_root_dir"]).expanduser()
        rel = f"courses/{course}/{lesson}.ipynb"
        return course, lesson, root / rel, rel

    @web.authenticated
    @authorized
    def get(self):
        course, lesson, path, rel = self._target()
        if not path.is_file():
            raise web.HTTPError(404, f"{rel} is not in your workspace: open the lesson first")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.render(
            "submit.html", base_url=self.base_url, rel=rel, xsrf=self.xsrf_form_html(), course=course, lesson=lesson,
            lab_url=lesson_lab_url(self.base_url, course, lesson, rel),
            lesson_url=f"{self.extension.public_lms_url}courses/{quote(course)}/lessons/{quote(lesson)}"))

    @web.authenticated
    @authorized
    async def post(self):
        course, lesson, path, rel = self._target()
        if not path.is_file():
            raise web.HTTPError(404, f"{rel} is not in your workspace: open the lesson first")
        if path.stat().st_size > 5 * 1024 * 1024:
            raise web.HTTPError(413, f"{rel} is larger than 5 MB: clear large outputs and save")
        await self.extension.submit_lesson(course, lesson, {path.name: path.read_text(encoding="utf-8")})
        self.redirect(f"{self.extension.public_lms_url}courses/{quote(course)}/lessons/{quote(lesson)}#submissions")


class LMSLabExtension(ExtensionApp):
    name = "lms_extension"
    extension_url = "/lms/open"
    load_other_extensions = True

    service_url = Unicode(help="Base URL of the LMS service, e.g. http://127.0.0.1:10101/services/lms/ "
                               "(LMS_SERVICE_URL).").tag(config=True)
    api_token = Unicode(help="The student's own JupyterHub token (JUPYTERHUB_API_TOKEN).").tag(config=True)
    # the hub passes the LMS's settings in these variables; the defaults are the LMS's own
    heartbeat_seconds = Float(help="Seconds between learning-time heartbeats for active lesson notebooks; "
                                   f"0 turns them off (LMS_HEARTBEAT_SECONDS, default "
                                   f"{LMSConfig.heartbeat_seconds.default_value:g}).").tag(config=True)
    idle_seconds = Float(help="A lesson's kernel idle longer than this sends no heartbeat (LMS_IDLE_SECONDS, "
                              f"default {LMSConfig.idle_seconds.default_value:g}).").tag(config=True)

    @default("heartbeat_seconds")
    def _heartbeat_seconds(self):
        return float(os.environ.get(ENV["heartbeat_seconds"]) or LMSConfig.heartbeat_seconds.default_value)

    @default("idle_seconds")
    def _idle_seconds(self):
        return float(os.environ.get(ENV["idle_seconds"]) or LMSConfig.idle_seconds.default_value)

    @default("service_url")
    def _service_url(self):
        url = os.environ.get("LMS_SERVICE_URL", "")
        if url:
            return url if url.endswith("/") else url + "/"
        hub = os.environ.get("JUPYTERHUB_BASE_URL", "/")
        return f"http://127.0.0.1:{LMSConfig.port.default_value}{hub}services/lms/"

    @default("api_token")
    def _api_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    def initialize_settings(self):
        self.settings["lms_extension"] = self
        self.heartbeats = HeartbeatReporter(self, self.heartbeat_seconds, self.idle_seconds)
        configure_kernel_culling(self.serverapp)
        if self.heartbeat_seconds > 0 and self.api_token:
            self.heartbeats.start()

    def initialize_handlers(self):
        self.handlers.append((r"/lms/open", OpenLessonHandler))
        self.handlers.append((r"/lms/submit", SubmitLessonHandler))
        self.handlers.append((r"/lms/progress", ProgressPageHandler))
        self.handlers.append((r"/lms/activity", ActivityHandler))
        self.handlers.extend(api.handlers)  # the Course sidebar's JSON
        self.handlers.extend(ask.handlers)  # Ask about this cell; staff open a question's cell
        self.handlers.extend(teach.handlers)  # the instructor's Course panel (Validate, Preview, Publish)

    @property
    def public_lms_url(self) -> str:
        """The LMS as the browser reaches it (through the proxy)."""
        return os.environ.get("JUPYTERHUB_BASE_URL", "/") + "services/lms/"

    @property
    def client(self) -> LMSClient:
        return LMSClient(self.service_url, self.api_token)

    async def fetch_lesson(self, course: str, lesson: str) -> dict:
        path = f"api/v1/courses/{quote(course, safe='')}/lessons/{quote(lesson, safe='')}/notebook"
        return await self._call("GET", path)

    async def submit_lesson(self, course: str, lesson: str, notebooks: dict[str, str]) -> dict:
        path = f"api/v1/courses/{quote(course, safe='')}/lessons/{quote(lesson, safe='')}/submissions"
        return await self._call("POST", path, {"notebooks": notebooks}, timeout=30)

    async def send_heartbeat(self, course: str, lesson: str, seconds: int) -> dict:
        body = {"course": course, "lesson": lesson, "seconds": seconds}
        return await self._call("POST", "api/v1/me/heartbeats", body, timeout=10)

    async def lesson_access(self, lessons: list[tuple[str, str]]) -> dict:
        body = {"lessons": [{"course": course, "lesson": lesson} for course, lesson in lessons]}
        return await self._call("POST", "api/v1/exchange/access", body, timeout=30)

    async def fetch_progress(self) -> dict:
        return await self._call("GET", "api/v1/me/progress")

    async def _call(self, method: str, path: str, body: dict | None = None, **options) -> dict:
        """Call the LMS service as this student (their own token); its errors become ours."""
        try:
            return await self.client.acall(method, path, body, **options)
        except LMSError as exc:
            if exc.status is None:
                raise web.HTTPError(502, f"the LMS service cannot be reached: {exc.reason}") from None
            message = exc.message
            if exc.status == 429 and exc.retry_after:
                message += f" (retry in {exc.retry_after} s)"
            raise web.HTTPError(exc.status if exc.status in (400, 401, 402, 403, 404, 409, 413, 429) else 502,
                                message) from None
