"""graders.judge0 over raw HTTP: Judge0's error shapes, auth, back-pressure, streaming."""

import asyncio
import base64
import json
import time

import httpx
import pytest
import tornado.httpclient
import tornado.websocket

from sandbox_helpers import ServerThread
from graders.judge0.app import Judge0Config, make_app

TOKEN = "raw-http-token"


@pytest.fixture(scope="module")
def server(sandbox):
    running = ServerThread(lambda: make_app(Judge0Config(auth_tokens=(TOKEN,)), sandbox=sandbox))
    yield running
    running.stop()


@pytest.fixture()
def http(server):
    with httpx.Client(base_url=server.url, headers={"X-Auth-Token": TOKEN}, timeout=60) as client:
        yield client


def submit(http, body, **params):
    return http.post("/submissions", json=body, params=params)


# --- authentication ---------------------------------------------------------------------
def test_token_required(server, http):
    for path in ("/about", "/languages", "/submissions/whatever"):
        response = httpx.get(server.url + path)
        assert response.status_code == 401, path
        assert "X-Auth-Token" in response.json()["error"]
    assert httpx.get(server.url + "/about", headers={"X-Auth-Token": "nope"}).status_code == 401
    assert httpx.get(server.url + "/about", params={"X-Auth-Token": TOKEN}).status_code == 200
    assert http.post("/authenticate").status_code == 200


def test_authenticate_hook_and_owner_isolation(sandbox):
    users = {"token alice": "alice", "token bob": "bob"}
    app = ServerThread(lambda: make_app(
        Judge0Config(), sandbox=sandbox,
        authenticate=lambda handler: users.get(handler.request.headers.get("Authorization"))))
    try:
        anonymous = httpx.get(app.url + "/languages")
        assert anonymous.status_code == 401
        created = httpx.post(app.url + "/submissions", params={"wait": "true"},
                             headers={"Authorization": "token alice"},
                             json={"source_code": "print(1)", "language_id": 71})
        assert created.status_code == 201
        token = created.json()["token"]
        own = httpx.get(f"{app.url}/submissions/{token}", headers={"Authorization": "token alice"})
        other = httpx.get(f"{app.url}/submissions/{token}", headers={"Authorization": "token bob"})
        assert own.status_code == 200 and other.status_code == 404
    finally:
        app.stop()


# --- 422: invalid submissions, Judge0's shapes --------------------------------------------
@pytest.mark.parametrize("body, errors", [
    ({}, {"source_code": ["can't be blank"], "language_id": ["can't be blank"]}),
    ({"source_code": "x", "language_id": 150000},
     {"language_id": ["language with id 150000 doesn't exist"]}),
    ({"source_code": "x", "language_id": "abc"}, {"language_id": ["is not a number"]}),
    ({"source_code": "x", "language_id": 71, "cpu_time_limit": 16, "wall_time_limit": 100000,
      "memory_limit": 512001, "max_processes_and_or_threads": 121, "max_file_size": 5000},
     {"cpu_time_limit": ["must be less than or equal to 15"],
      "wall_time_limit": ["must be less than or equal to 20"],
      "memory_limit": ["must be less than or equal to 512000"],
      "max_processes_and_or_threads": ["must be less than or equal to 120"],
      "max_file_size": ["must be less than or equal to 4096"]}),
    ({"source_code": "x", "language_id": 71, "cpu_time_limit": 0, "stack_limit": "lots"},
     {"cpu_time_limit": ["must be greater than 0"], "stack_limit": ["is not a number"]}),
    ({"source_code": "x", "language_id": 71, "number_of_runs": 21},
     {"number_of_runs": ["must be less than or equal to 20"]}),
    ({"source_code": "x", "language_id": 71, "enable_network": True},
     {"enable_network": ["this option cannot be enabled"]}),
    ({"source_code": "x", "language_id": 71, "compiler_options": "-O2"},
     {"compiler_options": ["setting compiler options is only allowed for compiled languages"]}),
    ({"source_code": "x", "language_id": 50, "command_line_arguments": "'unclosed"},
     {"command_line_arguments": ["cannot be parsed: No closing quotation"]}),
    ({"source_code": "x", "language_id": 71, "callback_url": "file:///etc/passwd"},
     {"callback_url": ["is not a valid URL"]}),
    ({"source_code": 12, "language_id": 71}, {"source_code": ["must be a string"]}),
])
def test_invalid_submissions_are_422(http, body, errors):
    response = submit(http, body)
    assert response.status_code == 422
    assert response.json() == errors


def test_invalid_base64_is_422(http):
    response = submit(http, {"source_code": "%%%not base64", "language_id": 71},
                      base64_encoded="true")
    assert response.status_code == 422
    assert response.json() == {"source_code": ["is not valid Base64"]}


# --- 400: malformed requests --------------------------------------------------------------
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_malformed_bodies_are_400(http, content):
    response = http.post("/submissions", content=content,
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]


def test_invalid_fields_and_batch_sizes_are_400(http):
    response = http.get("/submissions/x", params={"fields": "stdout,nonsense,worse"})
    assert (response.status_code, response.json()) == (400, {"error": "invalid fields: [nonsense, worse]"})
    too_many = [{"source_code": "print(1)", "language_id": 71}] * 21
    response = http.post("/submissions/batch", json={"submissions": too_many})
    assert response.status_code == 400
    assert response.json() == {"error": "number of submissions in a batch should be less than or equal to 20"}
    response = http.post("/submissions/batch", json={"submissions": []})
    assert response.json() == {"error": "there should be at least one submission in a batch"}
    assert http.get("/submissions/batch", params={"tokens": ""}).status_code == 400
    assert http.delete("/submissions/x").json() == {"error": "delete not allowed"}


# --- 404 ------------------------------------------------------------------------------------
def test_unknown_things_are_404(http):
    assert http.get("/submissions/00000000-0000-4000-8000-000000000000").status_code == 404
    missing_language = http.get("/languages/999")
    assert missing_language.status_code == 404
    assert missing_language.json() == {"error": "language with id 999 doesn't exist"}
    assert http.get("/nothing/here").status_code == 404
    assert http.get("/nothing/here").json()["error"]
    assert http.put("/about").status_code == 405


# --- submissions over raw HTTP ---------------------------------------------------------------
def test_wait_plain_text_and_fields(http):
    response = submit(http, {"source_code": "print(input() * 2)", "language_id": 71,
                             "stdin": "ab", "expected_output": "abab"},
                      wait="true", fields="token,status,stdout,language,time,wall_time,created_at")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "status", "stdout", "language", "time", "wall_time", "created_at"}
    assert body["status"] == {"id": 3, "description": "Accepted"}
    assert body["stdout"] == "abab\n"
    assert body["language"]["id"] == 71 and body["language"]["name"].startswith("Python (3.")
    assert float(body["time"]) > 0 and body["created_at"].endswith("Z")
    default = http.get(f"/submissions/{body['token']}").json()
    assert set(default) == {"token", "time", "memory", "stdout", "stderr", "compile_output",
                            "message", "status"}


def test_base64_in_and_out(http):
    encode = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    response = submit(http, {"source_code": encode("import sys\nprint(sys.stdin.read().upper())"),
                             "language_id": 71, "stdin": encode("é and ü"),
                             "expected_output": encode("É AND Ü")},
                      wait="true", base64_encoded="true")
    body = response.json()
    assert body["status"]["id"] == 3
    assert base64.b64decode(body["stdout"]).decode() == "É AND Ü\n"


def test_output_that_is_not_utf8(http):
    body = {"source_code": "import sys\nsys.stdout.buffer.write(b'\\xfe\\xff')", "language_id": 71}
    waited = submit(http, body, wait="true")
    assert waited.status_code == 201
    assert set(waited.json()) == {"token", "error"}
    assert "base64_encoded=true" in waited.json()["error"]
    token = waited.json()["token"]
    assert http.get(f"/submissions/{token}").status_code == 400
    encoded = http.get(f"/submissions/{token}", params={"base64_encoded": "true"}).json()
    assert base64.b64decode(encoded["stdout"]) == b"\xfe\xff"


def test_batch_create_and_get(http):
    created = http.post("/submissions/batch", json={"submissions": [
        {"source_code": "print(1)", "language_id": 71, "expected_output": "1"},
        {"source_code": "print(1)", "language_id": 999},
        {"source_code": "print(2)", "language_id": 71, "expected_output": "1"},
    ]})
    assert created.status_code == 201
    first, invalid, third = created.json()
    assert invalid == {"language_id": ["language with id 999 doesn't exist"]}
    tokens = [first["token"], "00000000-0000-4000-8000-000000000000", third["token"]]
    deadline = time.monotonic() + 30
    while True:
        got = http.get("/submissions/batch", params={"tokens": ",".join(tokens),
                                                     "fields": "token,status"}).json()
        finished = [s for s in got["submissions"] if s and s["status"]["id"] > 2]
        if len(finished) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got["submissions"][1] is None
    assert [s["status"]["id"] for s in finished] == [3, 4]
    all_invalid = http.post("/submissions/batch", json={"submissions": [{"language_id": 71}]})
    assert all_invalid.status_code == 422


def test_queue_full_is_429_with_retry_after(sandbox):
    tiny = ServerThread(lambda: make_app(Judge0Config(max_workers=1, max_queue_size=1),
                                         sandbox=sandbox))
    sleeper = {"source_code": "import time\ntime.sleep(1)", "language_id": 71}
    try:
        with httpx.Client(base_url=tiny.url, timeout=30) as client:
            accepted = [client.post("/submissions", json=sleeper) for _ in range(2)]
            assert [r.status_code for r in accepted] == [201, 201]  # one runs, one waits
            refused = client.post("/submissions", json=sleeper)
            assert refused.status_code == 429
            assert refused.json() == {"error": "queue is full"}
            assert int(refused.headers["Retry-After"]) >= 1
            batch = client.post("/submissions/batch", json={"submissions": [sleeper] * 2})
            assert batch.status_code == 429
            for response in accepted:  # the queue drains and accepts again
                token = response.json()["token"]
                while client.get(f"/submissions/{token}").json()["status"]["id"] <= 2:
                    time.sleep(0.05)
            assert client.post("/submissions", json=sleeper).status_code == 201
    finally:
        tiny.stop()


def test_callback_url_host_allowlist(sandbox):
    restricted = ServerThread(lambda: make_app(
        Judge0Config(callback_hosts=frozenset({"127.0.0.1"})), sandbox=sandbox))
    try:
        response = httpx.post(restricted.url + "/submissions", json={
            "source_code": "print(1)", "language_id": 71,
            "callback_url": "http://169.254.169.254/latest"})
        assert response.status_code == 422
        assert response.json() == {"callback_url": ["host 169.254.169.254 is not allowed"]}
    finally:
        restricted.stop()


# --- live output ---------------------------------------------------------------------------
def test_websocket_streams_output_then_the_result(server, http):
    program = ("import sys, time\nfor i in range(3):\n    print('line', i, flush=True)\n"
               "    time.sleep(0.2)\nprint('oops', file=sys.stderr)\nraise SystemExit(2)")
    token = submit(http, {"source_code": program, "language_id": 71}).json()["token"]

    async def listen():
        url = f"ws://127.0.0.1:{server.port}/submissions/{token}/stream?X-Auth-Token={TOKEN}"
        connection = await tornado.websocket.websocket_connect(url)
        messages = []
        while (message := await connection.read_message()) is not None:
            messages.append((time.monotonic(), json.loads(message)))
        return messages

    messages = asyncio.run(listen())
    events = [m for _, m in messages]
    stdout = "".join(e["data"] for e in events if e["event"] == "output" and e["stream"] == "stdout")
    assert stdout == "line 0\nline 1\nline 2\n"
    assert any(e["event"] == "output" and e["stream"] == "stderr" for e in events)
    done = events[-1]
    assert done["event"] == "done"
    assert done["submission"]["status"] == {"id": 11, "description": "Runtime Error (NZEC)"}
    assert done["submission"]["stdout"] == stdout
    # Chunks arrived while the program ran, not all at the end.
    first_output = next(t for t, e in messages if e["event"] == "output")
    assert messages[-1][0] - first_output > 0.3


def test_websocket_needs_the_token_and_an_existing_submission(server):
    async def connect(path):
        try:
            await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{server.port}{path}")
        except tornado.httpclient.HTTPClientError as error:
            return error.code
        return 101

    assert asyncio.run(connect("/submissions/x/stream")) == 401
    assert asyncio.run(connect(f"/submissions/x/stream?X-Auth-Token={TOKEN}")) == 404
