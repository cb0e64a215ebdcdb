"""The student's token goes to LMS_SERVICE_URL and nowhere else.

Every student-side caller of the LMS (the ``%lms_quiz``/``%lms_progress`` magics, the
``%%judge`` magic on the platform, the nbgrader exchange, the lab server extension) is
pointed at a real HTTP server that redirects every request to a second server on another
port, or at a real LMS with an HTTP proxy configured (as in a student server with internet
egress). The second server records what reaches it: the token never does, the caller fails
with a clear message, and that message does not hold the token either. The magics are also
run in a real IPython kernel loaded by the installed kernel config.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError
from tornado import web

from lms_extension.kernel.client import LMSError
from lms_extension.kernel.judge import JudgeError, backend_from_environment, judge
from lms_extension.kernel.learning import run_progress, run_quiz
from lms_extension.labserver.app import LMSLabExtension
from lms_extension.labserver.exchange import LMSExchangeList, LMSExchangeSubmit

TOKEN = "student-secret-5f3a9c"
PROGRESS = {"courses": [{"course": "c1", "title": "Course One", "percent": 50, "completed_lessons": 1,
                         "total_lessons": 2, "seconds_spent": 120, "next": "l2"}]}


def _serve(handler) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Recorder(BaseHTTPRequestHandler):
    """Another origin: it answers like the LMS would, and remembers everything it was sent."""

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(f"{self.command} {self.path}\n{self.headers}\n{body.decode(errors='replace')}")
        data = json.dumps({**PROGRESS, "assignments": [], "token": "t1", "status": {"id": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_CONNECT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def elsewhere():
    server = _serve(_Recorder)
    yield server
    server.shutdown()


def redirecting_lms(target: ThreadingHTTPServer, code: int) -> ThreadingHTTPServer:
    class Redirector(BaseHTTPRequestHandler):
        def _answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.server.seen.append(self.headers.get("Authorization"))
            if self.command == "POST" and self.path.startswith("/api/judge0/submissions"):
                # the submission is accepted: polling and the output stream are what redirect
                data = b'{"token": "t1"}'
                self.send_response(201)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(code)
            self.send_header("Location", f"http://127.0.0.1:{target.server_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    return _serve(Redirector)


def _learning_progress(url, work):
    run_progress("", Path("/tmp"), environ={"LMS_SERVICE_URL": url, "JUPYTERHUB_API_TOKEN": TOKEN})


def _learning_quiz_answer(url, work):
    run_quiz("q1 b --course c1", Path("/tmp"), environ={"LMS_SERVICE_URL": url, "JUPYTERHUB_API_TOKEN": TOKEN})


def _judge_on_the_platform(url, work):
    backend = backend_from_environment({"LMS_SERVICE_URL": url, "JUPYTERHUB_API_TOKEN": TOKEN})
    backend.timeout = 10
    judge("print(1)", "python", backend=backend)


def _exchange_list(url, work):
    LMSExchangeList(coursedir=CourseDirectory(course_id="c1"), authenticator=None, service_url=url,
                    api_token=TOKEN).start()


def _exchange_submit(url, work):
    LMSExchangeSubmit(coursedir=CourseDirectory(course_id="c1", assignment_id="a1"), authenticator=None,
                      service_url=url, api_token=TOKEN, assignment_dir=str(work)).start()


def _labserver_progress(url, work):
    asyncio.run(LMSLabExtension(service_url=url, api_token=TOKEN).fetch_progress())


def _labserver_submit(url, work):
    asyncio.run(LMSLabExtension(service_url=url, api_token=TOKEN).submit_lesson("c1", "l1", {"l1.ipynb": "{}"}))


CALLERS = {
    "learning-progress": (_learning_progress, LMSError),
    "learning-quiz-answer": (_learning_quiz_answer, LMSError),
    "judge": (_judge_on_the_platform, JudgeError),
    "exchange-list": (_exchange_list, ExchangeError),
    "exchange-submit": (_exchange_submit, ExchangeError),
    "labserver-progress": (_labserver_progress, web.HTTPError),
    "labserver-submit": (_labserver_submit, web.HTTPError),
}


def _message(exc: BaseException) -> str:
    return f"{exc} {getattr(exc, 'log_message', '')} {exc!r}"


@pytest.mark.parametrize("code", [302, 307])
@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_a_redirect_to_another_origin_never_gets_the_token(elsewhere, tmp_path, caller, code):
    folder = tmp_path / "work" / "courses" / "c1"  # where a fetched or opened lesson lives
    folder.mkdir(parents=True)
    (folder / "a1.ipynb").write_text("{}")
    lms = redirecting_lms(elsewhere, code)
    call, error = CALLERS[caller]
    try:
        with pytest.raises(error) as raised:
            call(f"http://127.0.0.1:{lms.server_port}/", tmp_path / "work")
    finally:
        lms.shutdown()
    assert f"token {TOKEN}" in lms.seen  # the LMS itself was asked with the token
    assert not any(TOKEN in request for request in elsewhere.seen), elsewhere.seen
    assert TOKEN not in _message(raised.value)


@pytest.mark.parametrize("caller", ["learning-progress", "exchange-list", "labserver-progress"])
def test_no_http_proxy_sees_the_token(elsewhere, monkeypatch, tmp_path, caller):
    class LMS(BaseHTTPRequestHandler):
        def do_GET(self):
            self.server.seen.append(self.headers.get("Authorization"))
            data = json.dumps({**PROGRESS, "assignments": []}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    lms = _serve(LMS)
    proxy = f"http://127.0.0.1:{elsewhere.server_port}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    try:
        CALLERS[caller][0](f"http://127.0.0.1:{lms.server_port}/", tmp_path)
    finally:
        lms.shutdown()
    assert lms.seen == [f"token {TOKEN}"]
    assert elsewhere.seen == []


def test_the_magics_in_a_real_kernel_keep_the_token(elsewhere):
    from tests.kernel.test_judge import Kernel, errors_of, text_of

    lms = redirecting_lms(elsewhere, 302)
    env = {**os.environ, "LMS_SERVICE_URL": f"http://127.0.0.1:{lms.server_port}/", "JUPYTERHUB_API_TOKEN": TOKEN,
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    env.pop("LMS_JUDGE_LOCAL", None)
    env.pop("LMS_JUDGE0_URL", None)
    kernel = Kernel(env)
    try:
        progress = kernel.run("%lms_progress")
        quiz = kernel.run("%lms_quiz q1 b --course c1")
        judged = kernel.run("%%judge python\nprint(1)")
    finally:
        kernel.stop()
        lms.shutdown()
    assert "redirected to another address" in text_of(progress), progress
    assert "redirected to another address" in text_of(quiz), quiz
    assert errors_of(judged), judged  # the judge's result never came
    assert f"token {TOKEN}" in lms.seen
    assert not any(TOKEN in request for request in elsewhere.seen), elsewhere.seen
    assert TOKEN not in json.dumps([progress, quiz, judged])
