"""``/lms/open``: fetch a lesson with the student's own token and open it in JupyterLab."""
from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.application import ExtensionApp
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Unicode, default

from .workspace import place_lesson


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
        lab_url = f"{self.base_url}lab/tree/{quote(rel)}"
        if placed.newer_beside is None:
            self.redirect(lab_url)
            return
        beside = placed.newer_beside.relative_to(root).as_posix()
        newer_url = f"{self.base_url}lab/tree/{quote(beside)}"
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(NEWER_VERSION_PAGE.format(
            mine=escape(rel), newer=escape(beside), mine_url=escape(lab_url), newer_url=escape(newer_url),
            version=placed.version))


NEWER_VERSION_PAGE = """<!doctype html><meta charset="utf-8"><title>Lesson updated</title>
<meta http-equiv="refresh" content="8; url={mine_url}">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5}}
a.btn{{display:inline-block;background:#f37726;color:#fff;padding:.5rem 1rem;border-radius:8px;text-decoration:none;margin-right:.5rem}}</style>
<h1>A newer version of this lesson is available</h1>
<p id="notice">You changed <code>{mine}</code>, so it was kept exactly as it is.
Version {version} of the lesson was saved beside it as <code>{newer}</code>.</p>
<p><a class="btn" id="open-mine" href="{mine_url}">Open my notebook</a>
<a class="btn" id="open-newer" href="{newer_url}">Open the new version</a></p>
<p>Opening your notebook in a few seconds…</p>"""


class LMSLabExtension(ExtensionApp):
    name = "lms_extension"
    extension_url = "/lms/open"
    load_other_extensions = True

    service_url = Unicode(help="Base URL of the LMS service, e.g. http://127.0.0.1:10101/services/lms/ "
                               "(LMS_SERVICE_URL).").tag(config=True)
    api_token = Unicode(help="The student's own JupyterHub token (JUPYTERHUB_API_TOKEN).").tag(config=True)

    @default("service_url")
    def _service_url(self):
        url = os.environ.get("LMS_SERVICE_URL", "")
        if url:
            return url if url.endswith("/") else url + "/"
        hub = os.environ.get("JUPYTERHUB_BASE_URL", "/")
        return f"http://127.0.0.1:8000{hub}services/lms/"

    @default("api_token")
    def _api_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    def initialize_settings(self):
        self.settings["lms_extension"] = self

    def initialize_handlers(self):
        self.handlers.append((r"/lms/open", OpenLessonHandler))

    async def fetch_lesson(self, course: str, lesson: str) -> dict:
        url = f"{self.service_url}api/v1/courses/{quote(course, safe='')}/lessons/{quote(lesson, safe='')}/notebook"
        request = HTTPRequest(url, headers={"Authorization": f"token {self.api_token}"}, request_timeout=20)
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as exc:
            message = "the LMS service refused"
            if exc.response is not None and exc.response.body:
                try:
                    message = json.loads(exc.response.body).get("message", message)
                except ValueError:
                    pass
            raise web.HTTPError(exc.code if exc.code in (400, 401, 402, 403, 404) else 502, message) from None
        except OSError as exc:
            raise web.HTTPError(502, f"the LMS service cannot be reached: {exc}") from None
        return json.loads(response.body)
