"""An nbgrader Exchange that talks HTTP to the LMS service instead of sharing a folder.

Configured for students by ``nbgrader_config.py`` (installed into the environment's
``etc/jupyter``), so ``nbgrader list``, ``fetch_assignment``, ``submit`` and
``fetch_feedback`` and JupyterLab's Assignments panel work for every course the student is
enrolled in, with the student's own JupyterHub token (``JUPYTERHUB_API_TOKEN``) against
``LMS_SERVICE_URL``. course_id is the course slug, assignment_id the lesson id; files live
in ``<assignment_dir>/<course_id>/<assignment_id>/`` (nbgrader's ``path_includes_course``).

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
from traitlets import Bool, Float, Integer, Unicode, default

from ..kernel.client import LMSClient, LMSError

ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
NOTEBOOK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.ipynb$")
FEEDBACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.html$")
DIGEST = re.compile(rb'<meta name="lms-feedback-digest" content="([0-9a-f]+)">')


class LMSExchange(Exchange):
    service_url = Unicode(help="Base URL of the LMS service, e.g. http://127.0.0.1:10101/services/lms/ "
                               "(LMS_SERVICE_URL).").tag(config=True)
    api_token = Unicode(help="The student's own JupyterHub token (JUPYTERHUB_API_TOKEN).").tag(config=True)
    student_name = Unicode(help="The student's hub name, shown as nbgrader's student_id (JUPYTERHUB_USER).").tag(config=True)
    path_includes_course = Bool(True, help="Put assignments under <assignment_dir>/<course_id>/ "
                                           "(students may have several courses).").tag(config=True)
    timeout = Float(30.0, help="Seconds to wait for the LMS service.").tag(config=True)
    max_notebook_bytes = Integer(5 * 1024 * 1024, help="Largest notebook submitted.").tag(config=True)

    @default("service_url")
    def _service_url(self):
        url = os.environ.get("LMS_SERVICE_URL", "")
        if url:
            return url if url.endswith("/") else url + "/"
        return f"http://127.0.0.1:8000{os.environ.get('JUPYTERHUB_BASE_URL', '/')}services/lms/"

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

    def local_dir(self, course: str, assignment: str) -> Path:
        root = Path(self.assignment_dir)
        return root / course / assignment if self.path_includes_course else root / assignment

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
            folder = self.local_dir(course, assignment)
            info = {"course_id": course, "assignment_id": assignment, "title": item.get("title"),
                    "policy": item.get("policy")}
            if folder.is_dir():
                info.update(status="fetched", path=str(folder.resolve()), notebooks=[
                    {"notebook_id": nb.stem, "path": str(nb.resolve())} for nb in sorted(folder.glob("*.ipynb"))])
            else:
                info.update(status="released", path=f"lms:{course}/{assignment}", notebooks=[
                    {"notebook_id": Path(name).stem, "path": f"lms:{course}/{assignment}/{name}"}
                    for name in item["notebooks"]])
            self.log.info("%s %s%s", course, assignment, " (already downloaded)" if folder.is_dir() else "")
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
            folder = self.local_dir(course, assignment)
            feedback_dir = folder / "feedback" / timestamp
            notebooks = []
            for name in sub["notebooks"]:
                local = feedback_dir / f"{Path(name).stem}.html"
                has_local = local.is_file()
                local_digest = None
                if has_local:
                    match = DIGEST.search(local.read_bytes()[:4096 * 64])
                    local_digest = match.group(1).decode() if match else None
                notebooks.append({
                    "notebook_id": Path(name).stem, "path": str(folder / name),
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
        folder = self.local_dir(course, assignment)
        if folder.exists() and not self.replace_missing_files:
            self.fail(f"You already have a copy of the assignment in {folder}; move it away (or use "
                      "--replace) to fetch it again")
        released = self.call("GET", f"exchange/courses/{course}/assignments/{assignment}")
        notebooks = released.get("notebooks")
        if not isinstance(notebooks, dict) or not notebooks:
            self.fail(f"{course}/{assignment} has no notebooks")
        for name in notebooks:
            if not isinstance(name, str) or not NOTEBOOK_NAME.match(name):
                self.fail(f"refusing a notebook name from the LMS: {name!r}")
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in notebooks.items():
            target = folder / name
            if target.exists() or target.is_symlink():
                continue  # never overwrite the student's work (replace_missing_files fills gaps only)
            target.write_text(text if isinstance(text, str) else json.dumps(text), encoding="utf-8")
            self.log.info("Fetched %s %s (version %s) into %s", course, assignment, released.get("version"), target)


class LMSExchangeSubmit(LMSExchange, ExchangeSubmit):
    def start(self):
        self.set_timestamp()
        course, assignment = self.checked_ids()
        folder = self.local_dir(course, assignment)
        if not folder.is_dir():
            self.fail(f"Assignment not found at {folder}: fetch it first")
        expected = next((a["notebooks"] for a in self.call("GET", "exchange/assignments", {"course_id": course})
                         ["assignments"] if a["assignment_id"] == assignment), None)
        if expected is None:
            self.fail(f"{course}/{assignment} is not one of your assignments")
        notebooks = {}
        for name in expected:
            if not NOTEBOOK_NAME.match(name):
                self.fail(f"refusing a notebook name from the LMS: {name!r}")
            path = folder / name
            if not path.is_file():
                if self.strict:
                    self.fail(f"Expected notebook {name} is missing from {folder}")
                self.log.warning("Possible missing notebook: %s", name)
                continue
            if path.stat().st_size > self.max_notebook_bytes:
                self.fail(f"{path} is larger than {self.max_notebook_bytes // (1024 * 1024)} MB: "
                          "clear large outputs and save")
            notebooks[name] = path.read_text(encoding="utf-8")
        if not notebooks:
            self.fail(f"no notebook of {course}/{assignment} found in {folder}")
        self.submission = self.call("POST", f"exchange/courses/{course}/assignments/{assignment}/submissions",
                                    body={"notebooks": notebooks})
        self.log.info("Submitted as: %s %s %s (submission %s, attempt %s)", course, assignment,
                      self.format_timestamp(self.submission["submitted_at"]), self.submission["id"],
                      self.submission.get("attempt"))


class LMSExchangeFetchFeedback(LMSExchange, ExchangeFetchFeedback):
    def start(self):
        self.set_timestamp()
        course, assignment = self.checked_ids()
        folder = self.local_dir(course, assignment)
        subs = self.call("GET", "exchange/submissions", {"course_id": course, "assignment_id": assignment})
        fetched = 0
        for sub in subs["submissions"]:
            if not sub.get("has_feedback"):
                continue
            files = self.call("GET", f"exchange/submissions/{int(sub['id'])}/feedback")["files"]
            target = folder / "feedback" / self.format_timestamp(sub["submitted_at"])
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
