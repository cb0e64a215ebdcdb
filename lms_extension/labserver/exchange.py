"""An nbgrader Exchange that talks HTTP to the LMS service instead of sharing a folder.

Configured for students by ``nbgrader_config.py`` (installed into the environment's
``etc/jupyter``), so ``nbgrader list``, ``fetch_assignment``, ``submit`` and
``fetch_feedback`` and JupyterLab's Assignments panel work for every course the student is
enrolled in, with the student's own JupyterHub token (``JUPYTERHUB_API_TOKEN``) against
``LMS_SERVICE_URL``. course_id is the course slug, assignment_id the lesson id.

A lesson has one place in the home, ``<assignment_dir>/courses/<course_id>/<assignment_id>.ipynb``
(``assignment_dir`` is the server's root folder): fetching writes it with
``workspace.place_lesson``, exactly as opening the lesson from the LMS (``/lms/open``) does,
so fetching after opening (or opening after fetching) finds the same file and never makes a
second copy, and the list shows a lesson opened from the LMS as fetched. Feedback lands in
``courses/<course_id>/feedback/<assignment_id>/<timestamp>/``.

Releasing, collecting and returning feedback are the LMS's job (publishing a course, the
grading workers), so those exchange steps refuse with an explanation.
"""
from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path

from dateutil.tz import gettz
from nbgrader.exchange.abc import (
    Exchange,
    ExchangeCollect,
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeList,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
    ExchangeSubmit,
)
from traitlets import Float, Integer, Unicode, default

from ..config import LMSConfig
from ..kernel.client import LMSClient, LMSError
from .workspace import lesson_path, place_lesson

ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
NOTEBOOK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.ipynb$")
FEEDBACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.html$")
DIGEST = re.compile(rb'<meta name="lms-feedback-digest" content="([0-9a-f]+)">')


class LMSExchange(Exchange):
    service_url = Unicode(help="Base URL of the LMS service, e.g. http://127.0.0.1:10101/services/lms/ "
                               "(LMS_SERVICE_URL).").tag(config=True)
    api_token = Unicode(help="The student's own JupyterHub token (JUPYTERHUB_API_TOKEN).").tag(config=True)
    student_name = Unicode(help="The student's hub name, shown as nbgrader's student_id (JUPYTERHUB_USER).").tag(config=True)
    timeout = Float(30.0, help="Seconds to wait for the LMS service.").tag(config=True)
    max_notebook_bytes = Integer(5 * 1024 * 1024, help="Largest notebook submitted.").tag(config=True)

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

    @default("student_name")
    def _student_name(self):
        return os.environ.get("JUPYTERHUB_USER", "") or os.environ.get("USER", "student")

    # plumbing ---------------------------------------------------------------------------
    def call(self, method: str, path: str, params: dict | None = None, body=None) -> dict:
        """One request to the LMS API as this student; its error message becomes an ExchangeError."""
        if not self.api_token:
            self.fail("no JupyterHub token (JUPYTERHUB_API_TOKEN): the LMS exchange works inside JupyterHub")
        client = LMSClient(self.service_url, self.api_token, timeout=self.timeout)
        try:
            return client.call(method, "api/v1/" + path, body, params=params)
        except LMSError as exc:
            if exc.status is None:
                self.fail(f"the LMS service cannot be reached at {self.service_url}: {exc.reason}")
            retry = f" (retry in {exc.retry_after} s)" if exc.retry_after else ""
            self.fail(f"the LMS refused ({exc.status}): {exc.message}{retry}")

    def checked_ids(self) -> tuple[str, str]:
        course, assignment = self.coursedir.course_id, self.coursedir.assignment_id
        if not course or not ID.match(course):
            self.fail(f"a course id is required (the course slug, a-z, 0-9, -), got {course!r}")
        if not assignment or not ID.match(assignment):
            self.fail(f"an assignment id is required (the lesson id, a-z, 0-9, -), got {assignment!r}")
        return course, assignment

    def lesson_file(self, course: str, assignment: str) -> Path:
        """The lesson's one notebook in the home, where ``/lms/open`` puts it too."""
        return lesson_path(Path(self.assignment_dir).absolute(), course, assignment)

    def feedback_dir(self, course: str, assignment: str, timestamp: str) -> Path:
        return self.lesson_file(course, assignment).parent / "feedback" / assignment / timestamp

    def format_timestamp(self, iso: str) -> str:
        moment = datetime.datetime.fromisoformat(iso)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.astimezone(gettz(self.timezone)).strftime(self.timestamp_format)

    def init_src(self):
        pass

    def init_dest(self):
        pass

    def copy_files(self):
        pass


class LMSExchangeList(LMSExchange, ExchangeList):
    def released(self) -> list[dict]:
        found = self.call("GET", "exchange/assignments", {"course_id": self.coursedir.course_id})["assignments"]
        out = []
        for item in found:
            course, assignment = item["course_id"], item["assignment_id"]
            if self.coursedir.assignment_id and assignment != self.coursedir.assignment_id:
                continue
            if not (ID.match(course) and ID.match(assignment)):
                continue
            notebook = self.lesson_file(course, assignment)
            info = {"course_id": course, "assignment_id": assignment, "title": item.get("title"),
                    "policy": item.get("policy")}
            fetched = notebook.is_file() and not notebook.is_symlink()
            if fetched:  # fetched here or opened from the LMS: the same file either way
                beside = sorted(notebook.parent.glob(f"{assignment}.v*.ipynb"))
                info.update(status="fetched", path=str(notebook.parent), notebooks=[
                    {"notebook_id": nb.stem, "path": str(nb)} for nb in [notebook, *beside]])
            else:
                info.update(status="released", path=f"lms:{course}/{assignment}", notebooks=[
                    {"notebook_id": Path(name).stem, "path": f"lms:{course}/{assignment}/{name}"}
                    for name in item["notebooks"]])
            self.log.info("%s %s%s", course, assignment, f" (already in {notebook})" if fetched else "")
            out.append(info)
        return out

    def submitted(self) -> list[dict]:
        found = self.call("GET", "exchange/submissions", {"course_id": self.coursedir.course_id,
                                                          "assignment_id": self.coursedir.assignment_id})
        groups: dict[tuple[str, str], list[dict]] = {}
        for sub in found["submissions"]:
            course, assignment = sub["course_id"], sub["assignment_id"]
            if not (ID.match(course) and ID.match(assignment)):
                continue
            timestamp = self.format_timestamp(sub["submitted_at"])
            notebook = self.lesson_file(course, assignment)
            folder = notebook.parent
            feedback_dir = self.feedback_dir(course, assignment, timestamp)
            notebooks = []
            for name in sub["notebooks"]:
                local = feedback_dir / f"{Path(name).stem}.html"
                has_local = local.is_file()
                local_digest = None
                if has_local:
                    match = DIGEST.search(local.read_bytes()[:4096 * 64])
                    local_digest = match.group(1).decode() if match else None
                notebooks.append({
                    "notebook_id": Path(name).stem, "path": str(notebook),
                    "has_local_feedback": has_local, "has_exchange_feedback": bool(sub["has_feedback"]),
                    "local_feedback_path": str(local) if has_local else None,
                    "feedback_updated": has_local and bool(sub["has_feedback"]) and local_digest != sub["feedback_digest"],
                })
            info = {
                "course_id": course, "student_id": self.student_name, "assignment_id": assignment,
                "timestamp": timestamp, "status": "submitted", "path": str(folder), "notebooks": notebooks,
                "has_local_feedback": bool(notebooks) and all(n["has_local_feedback"] for n in notebooks),
                "has_exchange_feedback": bool(notebooks) and all(n["has_exchange_feedback"] for n in notebooks),
                "feedback_updated": any(n["feedback_updated"] for n in notebooks),
                # what the LMS knows beyond nbgrader's fields
                "submission_id": sub["id"], "lms_status": sub["status"], "attempt": sub.get("attempt"),
                "score": sub.get("score"), "max_score": sub.get("max_score"),
            }
            info["local_feedback_path"] = str(feedback_dir) if info["has_local_feedback"] else None
            state = ("feedback already fetched" if info["has_local_feedback"] and not info["feedback_updated"]
                     else "feedback ready to be fetched" if info["has_exchange_feedback"]
                     else f"{sub['status']}, no feedback available")
            self.log.info("%s %s %s %s (%s)", course, self.student_name, assignment, timestamp, state)
            groups.setdefault((course, assignment), []).append(info)
        return [{"course_id": course, "student_id": self.student_name, "assignment_id": assignment,
                 "status": "submitted", "submissions": sorted(subs, key=lambda s: s["timestamp"])}
                for (course, assignment), subs in sorted(groups.items())]

    def list_files(self):
        if self.inbound or self.cached:
            self.log.info("Submitted assignments:")
            return self.submitted()
        self.log.info("Released assignments:")
        return self.released()

    def remove_files(self):
        self.fail("the LMS keeps every submission and release; nothing can be removed from here")


class LMSExchangeFetchAssignment(LMSExchange, ExchangeFetchAssignment):
    def start(self):
        self.set_timestamp()
        course, assignment = self.checked_ids()
        released = self.call("GET", f"exchange/courses/{course}/assignments/{assignment}")
        notebooks = released.get("notebooks")
        if not isinstance(notebooks, dict) or len(notebooks) != 1:
            self.fail(f"{course}/{assignment} should have one notebook, the LMS sent {len(notebooks or {})}")
        ((name, text),) = notebooks.items()
        if not isinstance(name, str) or not NOTEBOOK_NAME.match(name):
            self.fail(f"refusing a notebook name from the LMS: {name!r}")
        version = released.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            self.fail(f"{course}/{assignment}: the LMS sent no lesson version")
        # the same placement as opening the lesson from the LMS: never a second copy, never
        # overwriting the student's edits (a newer version lands beside an edited copy)
        try:
            placed = place_lesson(Path(self.assignment_dir).absolute(), course, assignment, version,
                                  text if isinstance(text, str) else json.dumps(text))
        except ValueError as exc:
            self.fail(str(exc))
        self.log.info("Fetched %s %s (version %s): %s", course, assignment, placed.version, placed.path)
        if placed.newer_beside is not None:
            self.log.info("You changed %s, so it was kept; version %s is beside it in %s",
                          placed.path.name, placed.version, placed.newer_beside)


class LMSExchangeSubmit(LMSExchange, ExchangeSubmit):
    def start(self):
        self.set_timestamp()
        course, assignment = self.checked_ids()
        path = self.lesson_file(course, assignment)
        if not path.is_file() or path.is_symlink():
            self.fail(f"Assignment not found at {path}: fetch it (or open the lesson) first")
        expected = next((a["notebooks"] for a in self.call("GET", "exchange/assignments", {"course_id": course})
                         ["assignments"] if a["assignment_id"] == assignment), None)
        if expected is None:
            self.fail(f"{course}/{assignment} is not one of your assignments")
        if len(expected) != 1 or not NOTEBOOK_NAME.match(expected[0]):
            self.fail(f"refusing the notebook names from the LMS: {expected!r}")
        if path.stat().st_size > self.max_notebook_bytes:
            self.fail(f"{path} is larger than {self.max_notebook_bytes // (1024 * 1024)} MB: "
                      "clear large outputs and save")
        # the file in the home is <lesson>.ipynb; the LMS knows it by the lesson's file name
        notebooks = {expected[0]: path.read_text(encoding="utf-8")}
        self.submission = self.call("POST", f"exchange/courses/{course}/assignments/{assignment}/submissions",
                                    body={"notebooks": notebooks})
        self.log.info("Submitted as: %s %s %s (submission %s, attempt %s)", course, assignment,
                      self.format_timestamp(self.submission["submitted_at"]), self.submission["id"],
                      self.submission.get("attempt"))


class LMSExchangeFetchFeedback(LMSExchange, ExchangeFetchFeedback):
    def start(self):
        self.set_timestamp()
        course, assignment = self.checked_ids()
        subs = self.call("GET", "exchange/submissions", {"course_id": course, "assignment_id": assignment})
        fetched = 0
        for sub in subs["submissions"]:
            if not sub.get("has_feedback"):
                continue
            files = self.call("GET", f"exchange/submissions/{int(sub['id'])}/feedback")["files"]
            target = self.feedback_dir(course, assignment, self.format_timestamp(sub["submitted_at"]))
            target.mkdir(parents=True, exist_ok=True)
            for name, html in files.items():
                if not FEEDBACK_NAME.match(name):
                    self.fail(f"refusing a feedback file name from the LMS: {name!r}")
                (target / name).write_text(html, encoding="utf-8")
                fetched += 1
            self.log.info("Fetched feedback of submission %s into %s", sub["id"], target)
        if not fetched:
            self.log.warning("No feedback available yet for %s %s", course, assignment)


class _ServerSide:
    step = ""

    def start(self):
        self.fail(f"{self.step} is done by the LMS, not from a student's server: instructors publish "
                  "lessons with `lms course publish`, grading workers collect and grade submissions, "
                  "and feedback is fetched by students")


class LMSExchangeReleaseAssignment(_ServerSide, LMSExchange, ExchangeReleaseAssignment):
    step = "Releasing an assignment"


class LMSExchangeCollect(_ServerSide, LMSExchange, ExchangeCollect):
    step = "Collecting submissions"


class LMSExchangeReleaseFeedback(_ServerSide, LMSExchange, ExchangeReleaseFeedback):
    step = "Releasing feedback"
