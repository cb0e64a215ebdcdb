""""Ask about this cell": JupyterLab's dialog talks to these, they talk to the LMS with the user's
own token (``LMSClient``), and the LMS does all the cleaning (``services/forum_ask.py``).

- ``POST /lms/api/ask/draft`` {path, cell_id, code, output, traceback, exception}: the cleaned
  question to prefill the dialog with, and questions with the same error;
- ``GET /lms/api/ask/similar?path=&signature=&q=``: while the title is typed;
- ``POST /lms/api/ask`` {... title, body, kind, anonymous}: the question, 201 {id, url};
- ``GET /lms/ask/open?thread=``: for the course's staff, the question's attached cell written
  as ``questions/<course>/question-<id>.ipynb`` in their own server and opened in JupyterLab.

The lesson and its version come from the notebook's place in the workspace (``courses/<course>/
<lesson>[.v<N>].ipynb`` and the workspace's manifest), never from what the page says.
"""
from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from ..kernel.client import LMSError
from .api import LESSON_FILE, LabAPIHandler, refusal
from .workspace import SAFE, _load_manifest, _write_atomic

CELL_FIELDS = ("cell_id", "code", "context", "output", "traceback", "exception")
ASK_FIELDS = ("title", "body", "kind", "anonymous")
MAX_BODY = 400_000


def lesson_version(root: Path, rel: str) -> int | None:
    """The lesson version the notebook at ``rel`` was placed from (None: the LMS takes the latest)."""
    name = PurePosixPath(rel).name
    match = LESSON_FILE.match(name)
    if match and match["version"]:
        return int(match["version"])
    entry = _load_manifest((root / PurePosixPath(rel.lstrip("/"))).parent).get(name)
    version = entry.get("version") if isinstance(entry, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


class AskHandler(LabAPIHandler):
    def body(self) -> dict:
        if len(self.request.body or b"") > MAX_BODY:
            raise web.HTTPError(413, "the question is larger than 400 kB: leave out long outputs")
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise web.HTTPError(400, 'send {"path": "<the notebook\'s path>", "cell_id": ...}')
        return body

    def lesson_fields(self, path: str) -> tuple[str, dict]:
        course, lesson = self.target(path)
        return course, {"lesson": lesson, "version": lesson_version(self.root, path)}

    async def forward(self, method: str, course: str, tail: str, payload: dict | None = None, status: int = 200):
        try:
            answer = await self.extension.client.acall(
                method, f"api/v1/courses/{quote(course, safe='')}/threads/{tail}", payload, timeout=30)
        except LMSError as exc:
            self.refusal(exc)
            return
        self.set_status(status)
        self.finish(json.dumps(answer))


class AskDraftHandler(AskHandler):
    @web.authenticated
    @authorized
    async def post(self):
        body = self.body()
        course, fields = self.lesson_fields(body["path"])
        await self.forward("POST", course, "ask-draft", {**fields, **{k: body.get(k) for k in CELL_FIELDS}})


class AskQuestionHandler(AskHandler):
    @web.authenticated
    @authorized
    async def post(self):
        body = self.body()
        course, fields = self.lesson_fields(body["path"])
        payload = {**fields, **{k: body.get(k) for k in CELL_FIELDS + ASK_FIELDS if k in body}}
        await self.forward("POST", course, "ask", payload, status=201)


class AskSimilarHandler(AskHandler):
    @web.authenticated
    @authorized
    async def get(self):
        course, fields = self.lesson_fields(self.get_query_argument("path", ""))
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (
            ("signature", self.get_query_argument("signature", "")[:64]), ("lesson", fields["lesson"]),
            ("q", self.get_query_argument("q", "")[:200])) if v)
        await self.forward("GET", course, f"similar?{query}")


class OpenQuestionHandler(JupyterHandler):
    """Staff: the question's attached cell as a notebook in this server, opened in JupyterLab. A copy
    already there is opened as it is (the staff member may have worked in it)."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self):
        raw = self.get_query_argument("thread", "")
        if not re.fullmatch(r"[1-9][0-9]{0,9}", raw):
            raise web.HTTPError(400, "thread must be a question's number")
        extension = self.settings["lms_extension"]
        try:
            attached = await extension.client.acall("GET", f"api/v1/threads/{int(raw)}/attachment", timeout=30)
        except LMSError as exc:
            status, body = refusal(exc)
            raise web.HTTPError(status, body["message"]) from None
        course = attached.get("course") if isinstance(attached, dict) else None
        if not isinstance(course, str) or not SAFE.match(course) or not isinstance(attached.get("notebook"), str):
            raise web.HTTPError(502, "the LMS sent an attachment this server cannot use")
        root = Path(self.settings["server_root_dir"]).expanduser()
        folder = root / "questions" / course
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"question-{int(raw)}.ipynb"
        if target.is_symlink():
            raise web.HTTPError(409, f"{target.relative_to(root)} is a link: remove it and try again")
        if not target.exists():
            _write_atomic(target, attached["notebook"].encode("utf-8"))
        rel = target.relative_to(root).as_posix()
        self.redirect(f"{self.base_url}lab/tree/{quote(rel)}")


handlers = [
    (r"/lms/api/ask/draft", AskDraftHandler),
    (r"/lms/api/ask/similar", AskSimilarHandler),
    (r"/lms/api/ask", AskQuestionHandler),
    (r"/lms/ask/open", OpenQuestionHandler),
]
