"""``/lms/api/teach/*``: the instructor's Course panel in their own JupyterLab (``labextension/src/instructor.ts``).

A course's source lives in the instructor's home, ``~/teach/<course>/``: ``course.toml``, the
nbgrader source notebooks (solutions and hidden tests in them, cells marked with nbgrader's
Create Assignment tool) and the code challenges' files. The panel lists these folders and:

- **Validate** sends the source to the LMS (``POST api/v1/teach/validate``), which grades each
  notebook with its solutions through the real grader in the sandbox and runs each challenge's
  reference solution in every language it offers; the failing cells come back by exercise title.
- **Preview as student** asks the LMS for the student version (``POST api/v1/teach/preview``, the
  same nbgrader pipeline a publish runs) and writes it read-only to ``~/teach/_preview/<course>/``.
- **Publish** sends each lesson's source (``PUT api/v1/teach/courses/{slug}/lessons/{lesson}/source``)
  and publishes (``POST api/v1/teach/courses/{slug}/publish`` with each lesson's challenge files);
  the LMS makes the student version and creates or updates the challenges.
- **New lesson** / **New course** write a scaffold with nbgrader's cell metadata; **Get course
  source** unpacks the LMS's export of a course I teach (``teach/courses/{slug}/export.zip``).

Every call first asks the LMS whether this user may author (``GET api/v1/teach/author``, with
the server's own token): a student's server answers 403 and never sends or receives a source.
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import stat
import tomllib
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ..kernel.client import LMSError
from .api import LabAPIHandler, refusal
from .workspace import SAFE

TEACH_DIR = "teach"
PREVIEW_DIR = "_preview"  # not a slug, so never a course folder
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TITLE = 200
MAX_ZIP_BYTES = 50 * 1024 * 1024  # a course's source, unpacked
MAX_ZIP_FILES = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SourceError(ValueError):
    """The course folder cannot be read as a course (a clear message for the instructor)."""


def _title(value, what: str = "title") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TITLE or _CONTROL.search(value):
        raise web.HTTPError(400, f"{what} must be 1 to {MAX_TITLE} characters on one line")
    return value.strip()


def _slug(value, what: str) -> str:
    if not isinstance(value, str) or not SAFE.match(value):
        raise web.HTTPError(400, f"{what} must be an id of a-z, 0-9 and - (for example 01-intro)")
    return value


def _inside(folder: Path, rel: str, where: str) -> Path:
    """``rel`` of course.toml, resolved: a file inside the course folder (no '..', no symlink out)."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise SourceError(f"{where}: a file path is required")
    path = (folder / rel).resolve()
    if folder.resolve() not in path.parents:
        raise SourceError(f"{where}: {rel} leaves the course folder")
    if not path.is_file():
        raise SourceError(f"{where}: {rel} is not there")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise SourceError(f"{where}: {rel} is larger than 5 MB (clear its outputs)")
    return path


def _read(path: Path, rel: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{rel} is not UTF-8 text") from None


def read_course(folder: Path, *, allow_empty: bool = False) -> dict:
    """course.toml's lessons and the files they name: {"slug", "title", "lessons": [{"id", "title",
    "notebook" (rel), "text", "challenges" (rels)}], "challenges": {rel: text}}; SourceError with a
    clear message. A lesson's ``challenges`` are files in the format of ``lms course import``
    (``services/challenges.py``: id, title, statement, [starter], [solution], [[tests]], [limits])."""
    toml = folder / "course.toml"
    if not toml.is_file():
        raise SourceError(f"{folder.name}: no course.toml")
    try:
        data = tomllib.loads(_read(toml, "course.toml"))
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"course.toml is not valid TOML ({exc})") from None
    slug = data.get("slug")
    if not isinstance(slug, str) or not SAFE.match(slug):
        raise SourceError("course.toml: slug must be an id of a-z, 0-9 and -")
    lessons, challenges = [], {}
    raw_lessons = data.get("lessons", [] if allow_empty else None)
    if not isinstance(raw_lessons, list) or not (raw_lessons or allow_empty):
        raise SourceError("course.toml: a course needs at least one [[lessons]] entry")
    for index, raw in enumerate(raw_lessons, 1):
        where = f"course.toml, lesson {index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not SAFE.match(raw["id"]):
            raise SourceError(f"{where}: id must be an id of a-z, 0-9 and -")
        rel = raw.get("notebook")
        text = _read(_inside(folder, rel, where), rel)
        paths = raw.get("challenges", [])
        if not isinstance(paths, list) or not all(isinstance(crel, str) for crel in paths):
            raise SourceError(f"{where}: challenges must be a list of file paths")
        for crel in paths:
            challenges[crel] = _read(_inside(folder, crel, where), crel)
        lessons.append({"id": raw["id"], "title": str(raw.get("title") or raw["id"]), "notebook": rel, "text": text,
                        "challenges": list(dict.fromkeys(paths))})
    ids = [lesson["id"] for lesson in lessons]
    if len(set(ids)) != len(ids):
        raise SourceError("course.toml: two lessons have the same id")
    return {"slug": slug, "title": str(data.get("title") or slug), "lessons": lessons, "challenges": challenges}


def course_folders(root: Path) -> list[dict]:
    """The course folders under ~/teach, each with its lessons or the reason it cannot be read."""
    base = root / TEACH_DIR
    folders = []
    if not base.is_dir():
        return folders
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and SAFE.match(p.name) and not p.is_symlink()):
        if not (folder / "course.toml").is_file():
            continue
        entry = {"folder": folder.name, "path": f"{TEACH_DIR}/{folder.name}", "slug": None, "title": folder.name,
                 "lessons": [], "error": None}
        try:
            course = read_course(folder)
        except SourceError as exc:
            entry["error"] = str(exc)
        else:
            entry.update(slug=course["slug"], title=course["title"], lessons=[
                {"id": lesson["id"], "title": lesson["title"],
                 "path": f"{TEACH_DIR}/{folder.name}/{lesson['notebook']}"} for lesson in course["lessons"]])
        folders.append(entry)
    return folders


# --- scaffolds: what nbgrader's Create Assignment tool writes ---------------------------------

def nbgrader_cell(kind: str, grade_id: str | None = None, points: float = 0) -> dict:
    """The ``nbgrader`` metadata of one cell as JupyterLab's Create Assignment tool (nbgrader
    0.9's ``newNbgraderData``) writes it for a cell type of its drop-down: "solution" (Autograded
    answer), "tests" (Autograded tests), "manual" (Manually graded answer), "task", "readonly"."""
    grade = kind in ("manual", "tests")
    solution = kind in ("manual", "solution")
    meta = {"grade": grade, "grade_id": grade_id or "cell-" + secrets.token_hex(8),
            "locked": not solution and (grade or kind in ("task", "tests", "readonly")),
            "schema_version": 3, "solution": solution, "task": kind == "task"}
    if grade or kind == "task":
        meta["points"] = points
    return meta


def _cell(kind: str, source: str, nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": kind, "id": secrets.token_hex(4), "metadata": {}, "source": source}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = nbgrader
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def lesson_scaffold(title: str) -> dict:
    """A lesson notebook to start from: an exercise with a solution and visible and hidden tests."""
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": [
            _cell("markdown", f"# {title}\n\nExplain the idea here, with an example the student can run."),
            _cell("code", "# an example\nprint(2 + 3)"),
            _cell("markdown", "## Exercise 1 - Double a number (2 points)\n\n"
                              "Write `double(x)` that returns twice `x`."),
            _cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                  nbgrader_cell("solution", "ex1-double")),
            _cell("code", "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n"
                          "### END HIDDEN TESTS", nbgrader_cell("tests", "ex1-double-tests", 2)),
        ],
    }


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string without control characters is a TOML one


def _lesson_entry(lesson: str, title: str) -> str:
    return f'\n[[lessons]]\nid = "{lesson}"\ntitle = {_toml_string(title)}\nnotebook = "lessons/{lesson}.ipynb"\n'


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as fh:  # never over an instructor's file
        fh.write(text)


# --- handlers ---------------------------------------------------------------------------

class TeachHandler(LabAPIHandler):
    def body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "send a JSON object")
        return body

    def folder(self, name) -> Path:
        name = _slug(name, "course")
        folder = self.root / TEACH_DIR / name
        if folder.is_symlink() or not (folder / "course.toml").is_file():
            raise web.HTTPError(404, f"{TEACH_DIR}/{name} has no course.toml")
        return folder

    def course(self, folder: Path, *, allow_empty: bool = False) -> dict:
        try:
            return read_course(folder, allow_empty=allow_empty)
        except SourceError as exc:
            raise web.HTTPError(400, str(exc)) from None

    async def lms(self, method: str, path: str, body=None, **options):
        """Call the LMS as this user (the server's own token); its refusal becomes ours."""
        try:
            return await self.extension.client.acall(method, path, body, **options)
        except LMSError as exc:
            status, answer = refusal(exc)
            raise web.HTTPError(status, answer["message"]) from None

    async def author(self) -> dict:
        """Who I am as an author; a student's server stops here with the LMS's 403. Each handler
        asks this first, so a student's server reads no folder and sends no file."""
        return await self.lms("GET", "api/v1/teach/author")


class StatusHandler(TeachHandler):
    """GET: whether this user authors courses, the courses they teach and their source folders."""

    @web.authenticated
    @authorized
    async def get(self):
        try:
            me = await self.author()
        except web.HTTPError as exc:
            if exc.status_code != 403:
                raise
            # a student's server: the answer is "no" (asked on every JupyterLab start, so not an
            # error in the browser's console), and no folder is read
            self.finish(json.dumps({"instructor": False, "message": exc.log_message}))
            return
        self.finish(json.dumps({**me, "teach_dir": TEACH_DIR, "folders": course_folders(self.root)}))


class ValidateHandler(TeachHandler):
    """POST {"course"}: the LMS's validation report of ~/teach/<course>, by lesson title."""

    @web.authenticated
    @authorized
    async def post(self):
        await self.author()
        folder = self.folder(self.body().get("course"))
        course = self.course(folder)
        report = await self.lms("POST", "api/v1/teach/validate", {
            "notebooks": {f"{lesson['id']}.ipynb": lesson["text"] for lesson in course["lessons"]},
            "challenges": course["challenges"]}, timeout=600)
        by_name = {f"{lesson['id']}.ipynb": lesson for lesson in course["lessons"]}
        for row in report.get("notebooks", []):
            lesson = by_name.get(row.get("notebook"), {})
            row.update(lesson=lesson.get("id"), lesson_title=lesson.get("title"),
                       path=f"{TEACH_DIR}/{folder.name}/{lesson.get('notebook')}")
        self.finish(json.dumps({"course": course["slug"], "title": course["title"], **report}))


class PreviewHandler(TeachHandler):
    """POST {"course", "lesson"}: the student version, written read-only; answers its path."""

    @web.authenticated
    @authorized
    async def post(self):
        await self.author()
        body = self.body()
        folder = self.folder(body.get("course"))
        lesson_id = _slug(body.get("lesson"), "lesson")
        course = self.course(folder)
        lesson = next((row for row in course["lessons"] if row["id"] == lesson_id), None)
        if lesson is None:
            raise web.HTTPError(404, f"{lesson_id} is not a lesson of course.toml")
        answer = await self.lms("POST", "api/v1/teach/preview",
                                {"name": f"{lesson_id}.ipynb", "notebook": lesson["text"]}, timeout=60)
        rel = f"{TEACH_DIR}/{PREVIEW_DIR}/{folder.name}/{lesson_id}.ipynb"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.chmod(stat.S_IRUSR | stat.S_IWUSR)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(answer["notebook"], encoding="utf-8")
        tmp.chmod(stat.S_IRUSR | stat.S_IRGRP)  # read-only: JupyterLab opens it as such
        os.replace(tmp, path)
        self.finish(json.dumps({"path": rel, "lesson": lesson_id, "title": lesson["title"]}))


class PublishHandler(TeachHandler):
    """POST {"course"}: every lesson's source to the LMS, then publish; the LMS's answer."""

    @web.authenticated
    @authorized
    async def post(self):
        await self.author()
        folder = self.folder(self.body().get("course"))
        course = self.course(folder)
        base = f"api/v1/teach/courses/{quote(course['slug'], safe='')}"
        # every lesson's challenge files, so that the LMS creates or updates them in this publish
        # (after running each new or changed one's reference solution; a failing one is refused)
        challenges = {lesson["id"]: {rel: course["challenges"][rel] for rel in lesson["challenges"]}
                      for lesson in course["lessons"]}
        if course["challenges"]:  # checked before any source is sent: a refused one leaves the LMS as it was
            await self.lms("POST", f"{base}/publish", {"dry_run": True, "challenges": challenges}, timeout=600)
        sent = []
        for lesson in course["lessons"]:
            answer = await self.lms("PUT", f"{base}/lessons/{quote(lesson['id'], safe='')}/source",
                                    {"notebook": lesson["text"], "title": lesson["title"]}, timeout=120)
            sent.append({"lesson": lesson["id"], "title": lesson["title"], "answer": answer})
        published = await self.lms("POST", f"{base}/publish", {"challenges": challenges}, timeout=600)
        self.finish(json.dumps({"course": course["slug"], "title": course["title"], "lessons": sent,
                                "published": published}))


class NewLessonHandler(TeachHandler):
    """POST {"course", "lesson", "title"}: lessons/<lesson>.ipynb from the scaffold, added to course.toml."""

    @web.authenticated
    @authorized
    async def post(self):
        await self.author()
        body = self.body()
        folder = self.folder(body.get("course"))
        lesson_id, title = _slug(body.get("lesson"), "lesson"), _title(body.get("title"))
        course = self.course(folder, allow_empty=True)  # a course made on the web starts with none
        if any(row["id"] == lesson_id for row in course["lessons"]):
            raise web.HTTPError(409, f"course.toml already has a lesson {lesson_id}")
        rel = f"lessons/{lesson_id}.ipynb"
        try:
            _write_new(folder / rel, json.dumps(lesson_scaffold(title), indent=1) + "\n")
        except FileExistsError:
            raise web.HTTPError(409, f"{rel} already exists: add it to course.toml yourself") from None
        with open(folder / "course.toml", "a", encoding="utf-8") as fh:
            fh.write(_lesson_entry(lesson_id, title))
        self.set_status(201)
        self.finish(json.dumps({"path": f"{TEACH_DIR}/{folder.name}/{rel}", "lesson": lesson_id}))


class NewCourseHandler(TeachHandler):
    """POST {"course", "title"}: ~/teach/<course>/ with a course.toml and a first lesson."""

    @web.authenticated
    @authorized
    async def post(self):
        await self.author()
        body = self.body()
        slug, title = _slug(body.get("course"), "course"), _title(body.get("title"))
        folder = self.root / TEACH_DIR / slug
        if folder.exists():
            raise web.HTTPError(409, f"{TEACH_DIR}/{slug} already exists")
        user = os.environ.get("JUPYTERHUB_USER", "")
        toml = (f"slug = \"{slug}\"\ntitle = {_toml_string(title)}\nsubtitle = \"\"\ndescription = \"\"\n"
                f"category = \"Programming\"\nlevel = \"beginner\"\nlanguage = \"en\"\nprice_cents = 0\n"
                f"currency = \"usd\"\ninstructor = {_toml_string(user)}\ntags = []\n"
                + _lesson_entry("01-introduction", "Introduction"))
        _write_new(folder / "course.toml", toml)
        _write_new(folder / "lessons" / "01-introduction.ipynb",
                   json.dumps(lesson_scaffold("Introduction"), indent=1) + "\n")
        (folder / "challenges").mkdir(exist_ok=True)
        self.set_status(201)
        self.finish(json.dumps({"path": f"{TEACH_DIR}/{slug}", "course": slug}))


def unpack_source(data: bytes, slug: str, target: Path) -> list[str]:
    """The LMS's export (``<slug>/course.toml``, ``<slug>/lessons/...``) into ``target``: only plain
    files under ``<slug>/``, no '..', within the size and count limits; the paths written."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SourceError("the LMS did not send a zip archive") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
        raise SourceError("the course's source is larger than this panel unpacks; download the zip instead")
    plan = []
    for member in members:
        parts = PurePosixPath(member.filename.replace("\\", "/")).parts
        if len(parts) < 2 or parts[0] != slug or any(p in ("", ".", "..") for p in parts) or member.filename.startswith("/"):
            raise SourceError(f"the archive holds an unexpected path: {member.filename[:100]}")
        plan.append((member, target.joinpath(*parts[1:])))
    target.mkdir(parents=True)
    written = []
    for member, path in plan:
        path.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as src, open(path, "xb") as dst:
            dst.write(src.read(MAX_ZIP_BYTES + 1)[:MAX_ZIP_BYTES])
        written.append(path.relative_to(target).as_posix())
    return written


class GetSourceHandler(TeachHandler):
    """POST {"course"}: the source of a course I teach from the LMS (its export) into ~/teach/<course>/."""

    @web.authenticated
    @authorized
    async def post(self):
        me = await self.author()
        slug = _slug(self.body().get("course"), "course")
        if slug not in {course.get("slug") for course in me.get("courses", [])}:
            raise web.HTTPError(403, f"you do not teach a course {slug}")
        target = self.root / TEACH_DIR / slug
        if target.exists():
            raise web.HTTPError(409, f"{TEACH_DIR}/{slug} already exists: rename it to get a fresh copy")
        client = self.extension.client
        try:  # the export is a zip, not JSON: fetched directly, with the same token and no redirect or proxy
            response = await AsyncHTTPClient().fetch(
                client.url(f"teach/courses/{quote(slug, safe='')}/export.zip"), headers=client.headers,
                follow_redirects=False, request_timeout=120)
        except HTTPClientError as exc:
            raise web.HTTPError(404 if exc.code == 404 else 502,
                                f"the LMS did not send the course's source ({exc.code})") from None
        except OSError as exc:
            raise web.HTTPError(502, f"the LMS cannot be reached right now ({exc})") from None
        try:
            files = unpack_source(response.body, slug, target)
        except SourceError as exc:
            raise web.HTTPError(502, str(exc)) from None
        self.set_status(201)
        self.finish(json.dumps({"path": f"{TEACH_DIR}/{slug}", "course": slug, "files": files}))


handlers = [
    (r"/lms/api/teach/status", StatusHandler),
    (r"/lms/api/teach/validate", ValidateHandler),
    (r"/lms/api/teach/preview", PreviewHandler),
    (r"/lms/api/teach/publish", PublishHandler),
    (r"/lms/api/teach/new-lesson", NewLessonHandler),
    (r"/lms/api/teach/new-course", NewCourseHandler),
    (r"/lms/api/teach/get-source", GetSourceHandler),
]
