"""``/lms/api/*``: the JSON the Course sidebar of JupyterLab (``labextension/``) reads.

The sidebar names the notebook in focus by its path in the workspace; a lesson notebook
lives at ``courses/<course>/<lesson>.ipynb`` (or ``<lesson>.v<N>.ipynb``, a newer version
placed beside the student's edited copy; see ``workspace.place_lesson``). Everything else
comes from the LMS, asked with the student's own token through ``LMSClient``.
"""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlencode

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..kernel.client import LMSError
from .workspace import SAFE

LESSON_FILE = re.compile(r"^(?P<lesson>[a-z0-9][a-z0-9-]{0,99}?)(?:\.v(?P<version>[0-9]+))?\.ipynb$")
MAX_NOTEBOOK_BYTES = 5 * 1024 * 1024


class NotALesson(ValueError):
    """The path is fine, but the notebook there did not come from a course."""


def lesson_of(path: str) -> tuple[str, str]:
    """``courses/<course>/<lesson>[.v<N>].ipynb`` -> (course, lesson); ValueError for a bad path,
    NotALesson for a notebook outside a course."""
    if not isinstance(path, str) or not path or len(path) > 1000 or "\x00" in path or "\\" in path:
        raise ValueError("path must be a notebook's path in your workspace")
    parts = PurePosixPath(path.lstrip("/")).parts
    if any(part in ("..", ".") for part in parts):
        raise ValueError("path must stay inside your workspace (no '..')")
    if not parts or not parts[-1].endswith(".ipynb"):
        raise ValueError("path must name a notebook (.ipynb)")
    match = LESSON_FILE.match(parts[-1])
    if len(parts) != 3 or parts[0] != "courses" or not SAFE.match(parts[1]) or match is None:
        raise NotALesson(f"{path} is not a lesson notebook: lessons open from the LMS into courses/<course>/")
    return parts[1], match["lesson"]


class LabAPIHandler(APIHandler):
    auth_resource = "contents"

    @property
    def extension(self):
        return self.settings["lms_extension"]

    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser()

    def target(self, path: str) -> tuple[str, str]:
        try:
            return lesson_of(path)
        except NotALesson as exc:
            raise web.HTTPError(404, str(exc)) from None
        except ValueError as exc:
            raise web.HTTPError(400, str(exc)) from None

    def refusal(self, exc: LMSError) -> None:
        """The LMS said no: the same status with its message and, for a cooldown, the wait."""
        status, body = refusal(exc)
        if "retry_after_seconds" in body:
            self.set_header("Retry-After", str(body["retry_after_seconds"]))
        self.set_status(status)
        self.finish(json.dumps(body))


def refusal(exc: LMSError) -> tuple[int, dict]:
    """An LMS refusal as the sidebar gets it: 409 (no attempts left) and 429 (cooldown, with
    ``retry_after_seconds``) as they are, an LMS that cannot be reached or fails as a 502."""
    if exc.status is None:
        status, message = 502, f"the LMS cannot be reached right now ({exc.reason}); try again in a minute"
    elif exc.status in (400, 401, 402, 403, 404, 409, 413, 429):
        status, message = exc.status, exc.message
    else:
        status, message = 502, f"the LMS answered {exc.status}: {exc.message}"
    body: dict = {"message": message, "status": status}
    retry = _seconds(exc.retry_after)
    if status == 429 and retry is not None:
        body["retry_after_seconds"] = retry
    if status == 409 and isinstance(exc.body, dict):
        for key in ("attempts", "max_attempts"):
            if isinstance(exc.body.get(key), int):
                body[key] = exc.body[key]
    return status, body


def _seconds(value) -> int | None:
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return None


def _lesson_api(course: str, lesson: str, tail: str) -> str:
    return f"api/v1/courses/{quote(course, safe='')}/lessons/{quote(lesson, safe='')}/{tail}"


class ContextHandler(LabAPIHandler):
    """GET ?path=: the course and lesson of a notebook, its syllabus with progress, the lesson's
    policy and my standing, my latest submission's feedback and my quiz results."""

    @web.authenticated
    @authorized
    async def get(self):
        course, lesson = self.target(self.get_query_argument("path", ""))
        client = self.extension.client
        try:
            info, standing, quizzes = await asyncio.gather(
                client.acall("GET", f"api/v1/courses/{quote(course, safe='')}"),
                client.acall("GET", _lesson_api(course, lesson, "submissions")),
                client.acall("GET", _lesson_api(course, lesson, "quizzes")))
            try:
                progress = await client.acall("GET", f"api/v1/courses/{quote(course, safe='')}/progress")
            except LMSError as exc:
                if exc.status != 404:  # 404: not enrolled (a free preview): no progress to show
                    raise
                progress = None
        except LMSError as exc:
            if exc.status in (402, 403) and await self.locked_now(course, lesson):
                self.set_status(403)
                self.finish(json.dumps({"status": 403, "locked": True, "message": (
                    "You can no longer open this lesson (a refund or an ended subscription), so its "
                    "notebook in your home was replaced by a notice. Your course page says more.")}))
                return
            self.refusal(exc)
            return
        self.finish(json.dumps(self.context(course, lesson, info, standing, quizzes, progress)))

    async def locked_now(self, course: str, lesson: str) -> bool:
        """The LMS refused this lesson: if its access was taken back, lock it in the home now
        rather than at the next periodic check."""
        reporter = getattr(self.extension, "heartbeats", None)
        if reporter is None:
            return False
        return (course, lesson) in await reporter.check_access()

    def context(self, course: str, lesson: str, info: dict, standing: dict, quizzes: dict,
                progress: dict | None) -> dict:
        status = {row["lesson"]: row for row in (progress or {}).get("lessons", [])}
        syllabus = []
        for row in info.get("lessons", []):
            mine = status.get(row["id"], {})
            syllabus.append({"lesson": row["id"], "title": row["title"], "current": row["id"] == lesson,
                             "started": bool(mine.get("started")), "completed": bool(mine.get("completed")),
                             "open_url": self.open_url(course, row["id"])})
        keys = [row["lesson"] for row in syllabus]
        here = keys.index(lesson) if lesson in keys else None
        if here is None:
            raise web.HTTPError(404, f"{lesson} is not a lesson of {course} any more")
        lms = self.extension.public_lms_url
        return {
            "course": {"slug": course, "title": info.get("title", course),
                       "url": f"{lms}courses/{quote(course)}",
                       # the course's Q&A at this lesson's threads (members only: enrolled here)
                       "qa_url": f"{lms}courses/{quote(course)}/forum?lesson={quote(lesson)}"
                       if progress is not None else None},
            "lesson": {"id": lesson, "title": syllabus[here]["title"], "number": here + 1,
                       "url": f"{lms}courses/{quote(course)}/lessons/{quote(lesson)}"},
            "progress": None if progress is None else {
                k: progress.get(k) for k in ("percent", "completed_lessons", "total_lessons")},
            "enrolled": progress is not None,
            "syllabus": syllabus,
            # the course's latest announcements (id, title, body_html sanitised by the LMS, created_at)
            "announcements": [a for a in info.get("announcements", []) if isinstance(a, dict)][:3],
            "previous": syllabus[here - 1] if here > 0 else None,
            "next": syllabus[here + 1] if here + 1 < len(syllabus) else None,
            "policy": standing.get("policy"),
            "attempts_used": standing.get("attempts_used", 0),
            "attempts_left": standing.get("attempts_left"),
            "cooldown_remaining_seconds": standing.get("cooldown_remaining_seconds", 0),
            "past_deadline": standing.get("past_deadline", False),
            "late_penalty_percent_now": standing.get("late_penalty_percent_now", 0),
            "submissions": [_submission(s) for s in standing.get("submissions", [])[:5]],
            "quizzes": [{"id": q.get("id"), "question": q.get("question"), "solved": q.get("solved"),
                         "score": q.get("score"), "points": q.get("points"),
                         "attempts_used": q.get("attempts_used"), "attempts_left": q.get("attempts_left")}
                        for q in quizzes.get("quizzes", [])],
        }

    def open_url(self, course: str, lesson: str) -> str:
        return f"{self.base_url}lms/open?{urlencode({'course': course, 'lesson': lesson})}"


def _submission(view: dict) -> dict:
    """A submission as the sidebar shows it: scores and one row per exercise, named by its title."""
    parts = []
    for book in (view.get("feedback") or {}).get("notebooks", []):
        for cell in book.get("cells", []):
            manual = cell.get("manual_points")
            points = manual if manual is not None else cell.get("points")
            parts.append({"title": cell.get("title") or f"Part {len(parts) + 1}", "points": points,
                          "max_points": cell.get("max_points"), "passed": bool(cell.get("passed")),
                          "needs_manual_grade": bool(cell.get("needs_manual_grade")) and manual is None,
                          "error": " ".join(filter(None, (cell.get("error_name"), cell.get("error_message")))) or None,
                          "comment": cell.get("comment")})
    return {k: view.get(k) for k in ("id", "status", "attempt", "submitted_at", "score", "max_score",
                                     "late_penalty_percent", "error", "feedback_released")} | {"parts": parts}


class SubmitHandler(LabAPIHandler):
    """POST {"path"}: send the notebook, as saved, for grading; 202 with the queued submission,
    or the LMS's refusal (409 no attempts left, 429 cooldown with retry_after_seconds)."""

    @web.authenticated
    @authorized
    async def post(self):
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise web.HTTPError(400, 'send {"path": "<the notebook\'s path>"}')
        rel = body["path"]
        course, lesson = self.target(rel)
        path = self.root / PurePosixPath(rel.lstrip("/"))
        if path.is_symlink() or not path.is_file():
            raise web.HTTPError(404, f"{rel} is not in your workspace: open the lesson first")
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise web.HTTPError(413, f"{rel} is larger than 5 MB: clear large outputs and save")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise web.HTTPError(400, f"{rel} is not a notebook (not UTF-8 text)") from None
        try:
            # a newer version beside an edited copy is still graded as the lesson's notebook
            view = await self.extension.client.acall(
                "POST", _lesson_api(course, lesson, "submissions"),
                {"notebooks": {f"{lesson}.ipynb": text}}, timeout=30)
        except LMSError as exc:
            self.refusal(exc)
            return
        self.set_status(202)
        self.finish(json.dumps(_submission(view)))


class SubmissionHandler(LabAPIHandler):
    """GET /lms/api/submissions/<id>: one of my submissions, for the sidebar to poll until graded."""

    @web.authenticated
    @authorized
    async def get(self, submission_id: str):
        try:
            view = await self.extension.client.acall("GET", f"api/v1/submissions/{int(submission_id)}")
        except LMSError as exc:
            self.refusal(exc)
            return
        self.finish(json.dumps(_submission(view)))


handlers = [
    (r"/lms/api/context", ContextHandler),
    (r"/lms/api/submit", SubmitHandler),
    (r"/lms/api/submissions/([0-9]{1,12})", SubmissionHandler),
]
