"""Code challenges through the real platform: submit against hidden tests, run with live output."""
import asyncio
import json

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

FREE = "python-for-beginners"


@pytest.fixture(scope="module")
def coder(platform):
    token = platform.token("chal-coder")
    s = platform.as_user(token)
    assert s.post(platform.lms + f"api/v1/courses/{FREE}/enroll").status_code == 201
    page = s.get(platform.lms + f"courses/{FREE}/lessons/03-lists-and-loops/challenges/sum-two")
    assert page.status_code == 200, page.text[:300]
    challenge_id = int(page.text.split("/api/v1/challenges/")[1].split("/")[0].split('"')[0])
    return token, s, challenge_id


def test_submit_passes_and_fails(platform, coder):
    token, s, cid = coder
    url = platform.lms + f"api/v1/challenges/{cid}/submissions"
    ok = s.post(url, json={"language_id": 71, "source": "a, b = map(int, input().split())\nprint(a + b)"})
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["status"] == "passed" and body["passed"] == body["total"] == 4
    wrong = s.post(url, json={"language_id": 52, "source":
                               "#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}"})
    body = wrong.json()
    assert body["status"] == "failed" and body["passed"] == 3  # int overflows on the hidden big numbers
    hidden = [t for t in body["tests"] if t["hidden"]]
    assert hidden and all(set(t) == {"index", "hidden", "status"} for t in hidden)  # no time or memory
    assert "123456789012345678" not in wrong.text
    broken = s.post(url, json={"language_id": 52, "source": "int main( {"})
    assert broken.json()["status"] == "compilation_error" and broken.json()["compile_output"]
    history = s.get(url).json()["submissions"]
    assert [h["status"] for h in history[:3]] == ["compilation_error", "failed", "passed"]


def test_submission_bad_input(platform, coder):
    _, s, cid = coder
    url = platform.lms + f"api/v1/challenges/{cid}/submissions"
    assert s.post(url, data=b"{nope").status_code == 400
    assert s.post(url, json=[1, 2]).status_code == 400
    assert s.post(url, json={"language_id": 1, "source": "x"}).status_code == 400
    assert s.post(platform.lms + "api/v1/challenges/999999/submissions",
                  json={"language_id": 71, "source": "print(1)"}).status_code == 404
    other = platform.as_user(platform.token("not-enrolled"))
    assert other.post(url, json={"language_id": 71, "source": "print(1)"}).status_code == 403
    assert requests.post(url, json={"language_id": 71, "source": "print(1)"}).status_code == 401


def run_over_websocket(platform, token, cid, message):
    async def go():
        ws_url = platform.lms.replace("http://", "ws://") + f"api/v1/challenges/{cid}/run"
        conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
        conn.write_message(json.dumps(message))
        received = []
        while True:
            raw = await asyncio.wait_for(conn.read_message(), 60)
            if raw is None:
                return received
            received.append(json.loads(raw))
            if received[-1]["type"] in ("done", "error"):  # the last message of a run
                conn.close()
                return received
    return asyncio.run(go())


def test_run_streams_output_live(platform, coder):
    token, _, cid = coder
    program = "import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\nimport sys; print('oops', file=sys.stderr)"
    messages = run_over_websocket(platform, token, cid, {"language_id": 71, "source": program, "stdin": ""})
    outputs = [m for m in messages if m["type"] == "output"]
    assert len([m for m in outputs if m["stream"] == "stdout"]) >= 2  # arrived in pieces, while running
    assert "".join(m["text"] for m in outputs if m["stream"] == "stdout") == "tick 0\ntick 1\ntick 2\n"
    assert any("oops" in m["text"] for m in outputs if m["stream"] == "stderr")
    assert messages[-1]["type"] == "done" and messages[-1]["status"]["description"] == "Accepted"


def test_run_rejects_bad_messages(platform, coder):
    token, _, cid = coder
    messages = run_over_websocket(platform, token, cid, {"language_id": 71})
    assert messages == [{"type": "error", "message": "source must be a non-empty string"}]


def sandboxed_processes() -> list[int]:
    """Processes running as a sandbox run's uid (graders.sandbox leases uids from 1,500,000)."""
    from pathlib import Path

    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if proc.stat().st_uid >= 1_500_000:
                    pids.append(int(proc.name))
            except FileNotFoundError:
                pass
    return pids


def cpu_ticks(pid: int) -> int:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return -1  # gone
    return int(fields[11]) + int(fields[12])


def test_closing_the_socket_stops_the_run(platform, coder):
    token, _, cid = coder

    async def go():
        ws_url = platform.lms.replace("http://", "ws://") + f"api/v1/challenges/{cid}/run"
        conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
        conn.write_message(json.dumps({"language_id": 71, "stdin": "",
                                       "source": "print('started', flush=True)\nwhile True:\n    pass"}))
        first = json.loads(await asyncio.wait_for(conn.read_message(), 30))
        assert first == {"type": "output", "stream": "stdout", "text": "started\n"}
        # The run is the sandboxed process burning CPU (warm spares wait without any).
        before = {pid: cpu_ticks(pid) for pid in sandboxed_processes()}
        await asyncio.sleep(0.5)
        busy = [pid for pid, ticks in before.items() if cpu_ticks(pid) > ticks >= 0]
        assert busy, "the run should be going"
        conn.close()
        for _ in range(40):  # well before the 5 s CPU limit would end it
            await asyncio.sleep(0.1)
            if all(cpu_ticks(pid) < 0 for pid in busy):
                return True, busy
        return False, busy

    stopped, busy = asyncio.run(go())
    assert stopped, f"still running after the client left: {[p for p in busy if cpu_ticks(p) >= 0]}"
