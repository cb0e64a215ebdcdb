"""The student-side exchange classes against a hostile or failing LMS (a real HTTP server):
they never write outside the assignment folder and turn every refusal into nbgrader's ExchangeError."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError

from lms_extension.labserver.exchange import (
    LMSExchangeCollect,
    LMSExchangeFetchAssignment,
    LMSExchangeFetchFeedback,
    LMSExchangeList,
    LMSExchangeSubmit,
)
from lms_extension.labserver.workspace import lesson_path, place_lesson

ROUTES: dict[str, tuple[int, dict, dict]] = {}


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        status, body, headers = ROUTES.get(self.path.split("?")[0], (404, {"message": "no such thing"}, {}))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def lms():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ROUTES.clear()
    yield server
    server.shutdown()


def make(cls, lms, tmp_path, course="c1", assignment="a1", **kw):
    coursedir = CourseDirectory(course_id=course, assignment_id=assignment)
    return cls(coursedir=coursedir, authenticator=None, assignment_dir=str(tmp_path / "work"),
               service_url=f"http://127.0.0.1:{lms.server_port}/", api_token="tok-123", **kw)


def test_fetch_refuses_notebook_names_that_leave_the_folder(lms, tmp_path):
    ROUTES["/api/v1/exchange/courses/c1/assignments/a1"] = (200, {"version": 1, "notebooks": {
        "../../evil.ipynb": "{}"}}, {})
    with pytest.raises(ExchangeError, match="refusing a notebook name"):
        make(LMSExchangeFetchAssignment, lms, tmp_path).start()
    assert not list(tmp_path.rglob("evil.ipynb"))
    assert lms.seen[0][2] == "token tok-123"  # the student's own token


def test_fetch_writes_the_release_and_never_overwrites(lms, tmp_path):
    ROUTES["/api/v1/exchange/courses/c1/assignments/a1"] = (200, {"version": 2, "notebooks": {"a1.ipynb": "{\"v\": 2}"}}, {})
    make(LMSExchangeFetchAssignment, lms, tmp_path).start()
    target = tmp_path / "work" / "courses" / "c1" / "a1.ipynb"
    assert target.read_text() == '{"v": 2}'
    target.write_text("my work")
    make(LMSExchangeFetchAssignment, lms, tmp_path).start()  # fetching again is harmless
    assert target.read_text() == "my work"
    ROUTES["/api/v1/exchange/courses/c1/assignments/a1"] = (200, {"version": 3, "notebooks": {"a1.ipynb": "{\"v\": 3}"}}, {})
    make(LMSExchangeFetchAssignment, lms, tmp_path).start()
    assert target.read_text() == "my work"  # a newer version lands beside the edited copy
    assert (target.parent / "a1.v3.ipynb").read_text() == '{"v": 3}'


def _released(lms, version=1):
    ROUTES["/api/v1/exchange/assignments"] = (200, {"assignments": [
        {"course_id": "c1", "assignment_id": "a1", "title": "A1", "notebooks": ["a1.ipynb"]}]}, {})
    ROUTES["/api/v1/exchange/courses/c1/assignments/a1"] = (
        200, {"version": version, "notebooks": {"a1.ipynb": f"{{\"v\": {version}}}"}}, {})


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.ipynb"))


def test_open_then_fetch_is_one_copy_listed_as_fetched(lms, tmp_path):
    _released(lms)
    root = tmp_path / "work"
    opened = place_lesson(root, "c1", "a1", 1, '{"v": 1}')  # what /lms/open does
    (listed,) = make(LMSExchangeList, lms, tmp_path, assignment="").start()
    assert listed["status"] == "fetched"
    assert [n["path"] for n in listed["notebooks"]] == [str(opened.path)]
    opened.path.write_text("my work")
    make(LMSExchangeFetchAssignment, lms, tmp_path).start()
    assert _files(root) == ["courses/c1/a1.ipynb"] and opened.path.read_text() == "my work"


def test_fetch_then_open_is_one_copy(lms, tmp_path):
    _released(lms)
    root = tmp_path / "work"
    (listed,) = make(LMSExchangeList, lms, tmp_path, assignment="").start()
    assert listed["status"] == "released"
    make(LMSExchangeFetchAssignment, lms, tmp_path).start()
    opened = place_lesson(root, "c1", "a1", 1, '{"v": 1}')
    assert opened.path == lesson_path(root, "c1", "a1") and opened.newer_beside is None
    assert _files(root) == ["courses/c1/a1.ipynb"]


@pytest.mark.parametrize("course, assignment", [("../c1", "a1"), ("c1", "../../etc"), ("", "a1"), ("C1", "a1")])
def test_ids_that_are_paths_are_refused_before_any_request(lms, tmp_path, course, assignment):
    with pytest.raises(ExchangeError, match="id"):
        make(LMSExchangeFetchAssignment, lms, tmp_path, course=course, assignment=assignment).start()
    assert lms.seen == []


def test_feedback_file_names_are_checked(lms, tmp_path):
    ROUTES["/api/v1/exchange/submissions"] = (200, {"submissions": [
        {"id": 7, "course_id": "c1", "assignment_id": "a1", "status": "graded", "has_feedback": True,
         "submitted_at": "2026-11-26T10:00:00+00:00", "notebooks": ["a1.ipynb"], "feedback_digest": "ab"}]}, {})
    ROUTES["/api/v1/exchange/submissions/7/feedback"] = (200, {"files": {"../../../pwned.html": "<p>"}}, {})
    with pytest.raises(ExchangeError, match="refusing a feedback file name"):
        make(LMSExchangeFetchFeedback, lms, tmp_path).start()
    assert not list(tmp_path.rglob("pwned.html"))


def test_refusals_carry_the_lms_message_and_retry_after(lms, tmp_path):
    folder = tmp_path / "work" / "courses" / "c1"
    folder.mkdir(parents=True)
    (folder / "a1.ipynb").write_text("{}")
    ROUTES["/api/v1/exchange/assignments"] = (200, {"assignments": [
        {"course_id": "c1", "assignment_id": "a1", "notebooks": ["a1.ipynb"]}]}, {})
    ROUTES["/api/v1/exchange/courses/c1/assignments/a1/submissions"] = (
        429, {"message": "wait 12 s before submitting this lesson again"}, {"Retry-After": "12"})
    with pytest.raises(ExchangeError, match=r"refused \(429\): wait 12 s.*retry in 12 s"):
        make(LMSExchangeSubmit, lms, tmp_path).start()
    (folder / "a1.ipynb").write_text("x" * 2000)
    with pytest.raises(ExchangeError, match="larger than"):
        make(LMSExchangeSubmit, lms, tmp_path, max_notebook_bytes=1000).start()


def test_unreachable_lms_and_missing_token(tmp_path):
    coursedir = CourseDirectory(course_id="c1", assignment_id="")
    lister = LMSExchangeList(coursedir=coursedir, authenticator=None, service_url="http://127.0.0.1:9/", api_token="t")
    with pytest.raises(ExchangeError, match="cannot be reached"):
        lister.start()
    tokenless = LMSExchangeList(coursedir=coursedir, authenticator=None, service_url="http://127.0.0.1:9/", api_token="")
    with pytest.raises(ExchangeError, match="no JupyterHub token"):
        tokenless.start()
    with pytest.raises(ExchangeError, match="done by the LMS"):
        LMSExchangeCollect(coursedir=coursedir, authenticator=None, api_token="t").start()
