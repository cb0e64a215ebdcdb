"""A real student server process (``jupyter server`` with the lms_extension) against a stand-in
LMS over HTTP: the browser's activity pings become time reports, a lesson the LMS says is no
longer mine (a refund) is locked in the home, and an idle kernel is culled after
``LMS_KERNEL_CULL_SECONDS``. The LMS's side of each is tested on the real service in
test_activity_time.py and tests/exchange/test_exchange_service.py."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from lms_extension.labserver.workspace import placed_lessons, place_lesson

TOKEN = "lab-token"
REFUND_MESSAGE = "Your purchase of 'Paid' was refunded on 2026-12-01, so this lesson's notebook was replaced."


def notebook(text):
    return json.dumps({"cells": [{"cell_type": "markdown", "id": "c", "source": text, "metadata": {}}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


class LMS(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.server.seen.append((self.path, body, self.headers.get("Authorization")))
        if self.path.endswith("/api/v1/me/heartbeats"):
            answer = {"seconds_spent": 0}
        elif self.path.endswith("/api/v1/exchange/access"):
            answer = {"lessons": [{**item, "access": item["lesson"] != "paid-lesson",
                                   "message": REFUND_MESSAGE if item["lesson"] == "paid-lesson" else None}
                                  for item in body["lessons"]]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout} s for {what}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lms = ThreadingHTTPServer(("127.0.0.1", 0), LMS)
    lms.seen = []
    threading.Thread(target=lms.serve_forever, daemon=True).start()
    home = tmp_path_factory.mktemp("home")
    place_lesson(home, "paid", "free-preview", 1, notebook("FREE PREVIEW"))
    place_lesson(home, "paid", "paid-lesson", 1, notebook("PAID CONTENT"))
    port = free_port()
    env = {**os.environ, "LMS_SERVICE_URL": f"http://127.0.0.1:{lms.server_port}/services/lms/",
           "JUPYTERHUB_API_TOKEN": "student-token", "LMS_HEARTBEAT_SECONDS": "1", "LMS_IDLE_SECONDS": "30",
           "LMS_KERNEL_CULL_SECONDS": "3", "JUPYTER_CONFIG_DIR": str(home / ".jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(home / ".runtime")}
    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_BASE_URL", "JUPYTERHUB_USER", "JUPYTER_CONFIG_PATH"):
        env.pop(name, None)
    log = open(home.parent / "lab.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
                             "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={home}",
                             f"--IdentityProvider.token={TOKEN}", "--allow-root"],
                            cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    session = requests.Session()
    session.headers["Authorization"] = f"token {TOKEN}"

    def up():
        assert proc.poll() is None, (home.parent / "lab.log").read_text()
        try:
            return session.get(base + "api/status", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, 90, "the student server to start")
        yield base, session, home, lms
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        lms.shutdown()
        log.close()


def test_activity_pings_become_time_reports_for_one_lesson(lab):
    base, session, home, lms = lab
    settings = session.get(base + "lms/activity").json()
    assert settings == {"ping_seconds": 1.0, "idle_seconds": 30.0}
    for _ in range(8):  # what labextension/src/activity.ts sends while the student works in a lesson
        ping = session.post(base + "lms/activity", json={"path": "courses/paid/free-preview.ipynb"})
        assert ping.status_code == 200 and ping.json()["lesson"] is True
        time.sleep(0.5)
    assert session.post(base + "lms/activity", json={"path": "scratch.ipynb"}).json()["lesson"] is False

    def reports():
        return [body for path, body, _ in lms.seen if path.endswith("/me/heartbeats")]

    wait_for(lambda: sum(r["seconds"] for r in reports()) >= 3, 30, "the time reports")
    assert {(r["course"], r["lesson"]) for r in reports()} == {("paid", "free-preview")}
    assert sum(r["seconds"] for r in reports()) <= 8 * 0.5 + 1  # never more than the wall-clock time
    assert all(auth == "token student-token" for _, _, auth in lms.seen)  # the student's own token
    # hostile input: a clear 400, never a 500; and no token, no entry
    for bad in (b"{nope", b"[1]", json.dumps({"path": 5}).encode(), json.dumps({"path": "x" * 2000}).encode()):
        r = session.post(base + "lms/activity", data=bad)
        assert r.status_code == 400 and "path" in r.json()["message"], (bad, r.text)
    assert requests.post(base + "lms/activity", json={"path": "a.ipynb"}).status_code in (401, 403)


def test_a_refunded_lesson_is_locked_in_the_home(lab):
    base, session, home, lms = lab
    paid = home / "courses/paid/paid-lesson.ipynb"
    wait_for(lambda: "PAID CONTENT" not in paid.read_text(), 30, "the refunded lesson to be locked")
    shown = session.get(base + "api/contents/courses/paid/paid-lesson.ipynb").json()
    assert REFUND_MESSAGE in json.dumps(shown["content"]) and paid.stat().st_mode & 0o222 == 0  # read-only
    assert "FREE PREVIEW" in (home / "courses/paid/free-preview.ipynb").read_text()
    assert placed_lessons(home) == [("paid", "free-preview")]


def test_an_idle_kernel_is_culled(lab):
    base, session, home, lms = lab
    kernel = session.post(base + "api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    kid = kernel.json()["id"]
    assert session.get(base + f"api/kernels/{kid}").status_code == 200
    wait_for(lambda: session.get(base + f"api/kernels/{kid}").status_code == 404, 60,
             "the idle kernel to be culled (LMS_KERNEL_CULL_SECONDS=3)")
