"""Two `lms judge0` processes on one database answer for each other's tokens.

Each server is its own process with its own run pool, as replicas behind a load balancer
are; the only thing they share is LMS_DB_URL (SQLite file, PostgreSQL database).
"""
import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import tornado.websocket

from tests.conftest import _database
from tests.e2e.platform import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "replica-token"
HEADERS = {"X-Auth-Token": TOKEN}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    yield from _database(request.param, tmp_path_factory)


def _start(db_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "LMS_DB_URL": db_url, "JUDGE0_AUTH_TOKEN": TOKEN}
    server = subprocess.Popen(
        [sys.executable, "-m", "lms_extension.cli", "judge0", "--port", str(port), "--workers", "1",
         "--warm-spares", "0"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/about", headers=HEADERS, timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise AssertionError(f"lms judge0 exited: {server.stderr.read().decode()}")
        assert time.monotonic() < deadline, "lms judge0 did not answer"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def replicas(database):
    if os.geteuid() != 0:
        pytest.skip("the sandbox behind `lms judge0` needs root")
    started = []
    try:
        # one after the other: the first one creates the schema of the new database
        for _ in range(2):
            started.append(_start(database))
        yield [url for _, url in started]
    finally:
        for server, _ in started:
            server.terminate()
            server.wait(timeout=30)


def _finished(url: str, token: str, **params) -> dict:
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(f"{url}/submissions/{token}", headers=HEADERS, params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body["status"]["id"] not in (1, 2):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_submission_made_on_one_replica_is_read_on_the_other(replicas):
    first, second = replicas
    source = b"import sys\nsys.stdout.buffer.write(bytes([0xff, 0xfe]) + sys.stdin.buffer.read())\n"
    created = httpx.post(first + "/submissions", headers=HEADERS, timeout=30,
                         params={"base64_encoded": "true", "wait": "false"},
                         json={"source_code": b64(source), "language_id": 71, "stdin": b64(b"\x00bytes\n")})
    assert created.status_code == 201, created.text
    token = created.json()["token"]

    body = _finished(second, token, base64_encoded="true", fields="*")
    assert body["status"] == {"id": 3, "description": "Accepted"}
    assert base64.b64decode(body["stdout"]) == b"\xff\xfe\x00bytes\n"
    assert base64.b64decode(body["source_code"]) == source
    assert base64.b64decode(body["stdin"]) == b"\x00bytes\n"
    assert body["language"]["id"] == 71 and body["token"] == token
    assert body["created_at"] and body["finished_at"] and float(body["time"]) >= 0
    # the same answer from both, and Judge0's refusal of non-UTF-8 text without base64
    assert httpx.get(f"{first}/submissions/{token}", headers=HEADERS,
                     params={"base64_encoded": "true", "fields": "*"}).json() == body
    plain = httpx.get(f"{second}/submissions/{token}", headers=HEADERS)
    assert plain.status_code == 400 and "base64_encoded=true" in plain.json()["error"]


def test_batches_across_replicas(replicas):
    first, second = replicas
    created = httpx.post(second + "/submissions/batch", headers=HEADERS, timeout=30, json={"submissions": [
        {"source_code": "print(input())", "language_id": 71, "stdin": "one", "expected_output": "one"},
        {"source_code": "print(2)", "language_id": 71, "expected_output": "3"},
    ]})
    assert created.status_code == 201, created.text
    tokens = [entry["token"] for entry in created.json()]
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(first + "/submissions/batch", headers=HEADERS,
                           params={"tokens": ",".join([*tokens, "no-such-token"]), "fields": "token,status,stdout"})
        assert answer.status_code == 200, answer.text
        found = answer.json()["submissions"]
        if all(s and s["status"]["id"] not in (1, 2) for s in found[:2]):
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    assert [s["token"] for s in found[:2]] == tokens and found[2] is None
    assert [s["status"]["description"] for s in found[:2]] == ["Accepted", "Wrong Answer"]
    assert found[0]["stdout"] == "one\n"


def test_a_stream_opened_on_the_other_replica_ends_with_the_result(replicas):
    first, second = replicas
    created = httpx.post(first + "/submissions", headers=HEADERS, timeout=30, json={
        "source_code": "import time\ntime.sleep(1)\nprint('late')", "language_id": 71})
    token = created.json()["token"]

    async def follow() -> list[dict]:
        url = f"{second.replace('http', 'ws')}/submissions/{token}/stream?X-Auth-Token={TOKEN}"
        connection = await tornado.websocket.websocket_connect(url)
        events = []
        while (message := await asyncio.wait_for(connection.read_message(), 60)) is not None:
            events.append(json.loads(message))
        return events

    events = asyncio.run(follow())
    assert events[0]["event"] == "status"
    assert events[-1]["event"] == "done"
    assert events[-1]["submission"]["stdout"] == "late\n"
    assert events[-1]["submission"]["status"]["id"] == 3


def test_unknown_tokens_are_404_on_every_replica(replicas):
    for url in replicas:
        answer = httpx.get(f"{url}/submissions/6b8f2c1e-0000-4000-8000-000000000000", headers=HEADERS)
        assert answer.status_code == 404 and answer.json() == {"error": "submission not found"}


def test_submissions_of_a_replica_that_stops_get_a_final_status(replicas, database):
    """A replica that is stopped (rolling update) before it ran what it accepted says so,
    instead of leaving the others to answer "In Queue" until the row expires."""
    _, other = replicas
    leaving, url = _start(database)
    try:
        tokens = [httpx.post(url + "/submissions", headers=HEADERS, timeout=30, json={
            "source_code": "import time\ntime.sleep(30)", "language_id": 71}).json()["token"]
            for _ in range(2)]  # one runs, one waits for the only worker
    finally:
        leaving.terminate()
        leaving.wait(timeout=30)
    for token in tokens:
        body = _finished(other, token)
        assert body["status"]["id"] == 13, body
        assert body["message"] == "the server stopped before this submission finished"

