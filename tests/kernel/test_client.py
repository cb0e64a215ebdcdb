"""The student-side LMS client against a real HTTP server: the base URL and token from the
environment, JSON errors as one exception with the server's message, same-origin redirects."""
from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lms_extension.kernel.client import LMSClient, LMSError

ROUTES: dict[str, tuple[int, bytes, dict]] = {}


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization"), body))
        status, data, headers = ROUTES.get(self.path, (404, b'{"status": 404, "message": "no such thing"}', {}))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def lms():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ROUTES.clear()
    yield server
    server.shutdown()


def client_for(lms, **options) -> LMSClient:
    env = {"LMS_SERVICE_URL": f"http://127.0.0.1:{lms.server_port}/services/lms", "JUPYTERHUB_API_TOKEN": "tok-1"}
    return LMSClient.from_environment(env, **options)


def test_calls_the_service_as_the_student(lms):
    ROUTES["/services/lms/api/v1/me/progress?course=c1"] = (200, b'{"courses": []}', {})
    ROUTES["/services/lms/api/v1/me/heartbeats"] = (201, b"", {})
    client = client_for(lms)
    assert client.call("GET", "api/v1/me/progress", params={"course": "c1", "lesson": None}) == {"courses": []}
    assert client.call("POST", "api/v1/me/heartbeats", {"course": "c1"}) is None
    assert [s[2] for s in lms.seen] == ["token tok-1", "token tok-1"]
    assert json.loads(lms.seen[1][3]) == {"course": "c1"}
    assert "tok-1" not in repr(client)


def test_refusals_become_one_error_with_the_servers_message(lms):
    ROUTES["/services/lms/api/v1/busy"] = (429, b'{"status": 429, "message": "slow down"}', {"Retry-After": "7"})
    ROUTES["/services/lms/api/v1/judge"] = (422, b'{"language_id": ["is unknown"]}', {})
    ROUTES["/services/lms/api/v1/html"] = (502, b"<html>bad gateway</html>", {})
    ROUTES["/services/lms/api/v1/garbage"] = (200, b"<html>a login page</html>", {})
    client = client_for(lms)
    with pytest.raises(LMSError, match="slow down") as busy:
        client.call("POST", "api/v1/busy", {})
    assert (busy.value.status, busy.value.retry_after) == (429, "7")
    with pytest.raises(LMSError) as judged:
        client.call("POST", "api/v1/judge", {})
    assert judged.value.body == {"language_id": ["is unknown"]}
    with pytest.raises(LMSError, match="Bad Gateway") as html:
        client.call("GET", "api/v1/html")
    assert html.value.status == 502
    with pytest.raises(LMSError, match="something else than JSON"):
        client.call("GET", "api/v1/garbage")
    with pytest.raises(LMSError, match="no such thing"):
        asyncio.run(client.acall("GET", "api/v1/missing"))


def test_outside_a_student_server_and_unreachable():
    with pytest.raises(LMSError, match="LMS_SERVICE_URL and JUPYTERHUB_API_TOKEN are not set"):
        LMSClient.from_environment({"LMS_SERVICE_URL": "http://127.0.0.1:9/"})
    with pytest.raises(LMSError, match="cannot be reached") as unreachable:
        LMSClient("http://127.0.0.1:9/", "tok-1", timeout=5).call("GET", "api/v1/me/progress")
    assert unreachable.value.status is None and unreachable.value.reason
    assert "tok-1" not in str(unreachable.value)


def test_a_redirect_within_the_service_is_followed(lms):
    ROUTES["/services/lms/api/v1/old"] = (302, b"", {"Location": "/services/lms/api/v1/new"})
    ROUTES["/services/lms/api/v1/new"] = (200, b'{"moved": true}', {})
    assert client_for(lms).call("GET", "api/v1/old") == {"moved": True}
    assert [s[2] for s in lms.seen] == ["token tok-1", "token tok-1"]
