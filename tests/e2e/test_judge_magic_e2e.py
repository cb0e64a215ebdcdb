"""``%%judge`` in a student's kernel on the real platform (sandbox spawner, SQLite).

The kernel loads the magic from the installed IPython config, submits C++ and Java to the
platform's Judge0 API (``/services/lms/api/judge0``) with the student's own Hub token from
the server's environment, and the program's output reaches the notebook while it runs.
"""
from __future__ import annotations

import asyncio
import json
import time

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.e2e.kernel import execute_request
from tests.kernel.test_judge import JAVA_CRASH, SLOW, SUM

USER = "judy"


class StudentKernel:
    """One kernel in the student's server, driven over its REST + WebSocket API as
    JupyterLab does; outputs are recorded with their arrival time."""

    def __init__(self, base_url: str, user: str, token: str):
        self.api = f"{base_url}/user/{user}/api/kernels"
        self.headers = {"Authorization": f"token {token}"}
        self.token = token
        r = requests.post(self.api, json={"name": "python3"}, headers=self.headers, timeout=60)
        r.raise_for_status()
        self.id = r.json()["id"]
        self.ws_url = self.api.replace("http://", "ws://") + f"/{self.id}/channels"

    def run(self, code: str, timeout: float = 120) -> list[tuple[float, str, dict]]:
        return asyncio.run(self._execute(code, timeout))

    async def _execute(self, code: str, timeout: float) -> list[tuple[float, str, dict]]:
        conn = await websocket_connect(HTTPRequest(self.ws_url, headers=self.headers))
        msg_id, message = execute_request(code, USER)
        conn.write_message(message)
        started = time.monotonic()
        outputs = []
        try:
            while True:
                raw = await asyncio.wait_for(conn.read_message(), timeout)
                if raw is None:
                    raise ConnectionError("kernel websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind in ("stream", "display_data", "error", "execute_result"):
                    outputs.append((time.monotonic() - started, kind, msg["content"]))
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    return outputs
        finally:
            conn.close()

    def stop(self) -> None:
        requests.delete(f"{self.api}/{self.id}", headers=self.headers, timeout=30)


def stdout_of(outputs) -> str:
    return "".join(c["text"] for _, kind, c in outputs if kind == "stream" and c["name"] == "stdout")


def errors_of(outputs) -> list[dict]:
    return [c for _, kind, c in outputs if kind == "error"]


@pytest.fixture(scope="module")
def kernel(sqlite_platform):
    p = sqlite_platform
    token = p.token(USER)
    p.start_server(USER)
    running = StudentKernel(p.url, USER, token)
    yield running
    running.stop()
    p.stop_server(USER)


def test_kernel_uses_the_platform_judge(kernel, sqlite_platform):
    out = kernel.run("from lms_extension.kernel.judge import backend_from_environment\n"
                     "b = backend_from_environment()\n"
                     "loaded = 'judge' in get_ipython().magics_manager.magics['cell']\n"
                     "print(type(b).__name__, b.base_url, loaded)")
    assert not errors_of(out), out
    assert stdout_of(out) == (f"HttpBackend http://127.0.0.1:{sqlite_platform.service_port}"
                              "/services/lms/api/judge0 True\n")


def test_cpp_cell_and_graded_test_cell(kernel):
    out = kernel.run("%%judge cpp --stdin '3 4' --save my_solution\n" + SUM["cpp"])
    assert stdout_of(out) == "7\n" and not errors_of(out), out
    status = [c["data"]["text/plain"] for _, kind, c in out if kind == "display_data"]
    assert status and status[0].startswith("✔ Accepted (C++)"), out
    # what an nbgrader test cell does with the saved source
    check = kernel.run("from lms_extension.kernel.judge import judge\n"
                       "r = judge(my_solution, 'cpp', stdin='1000000000 2000000000\\n')\n"
                       "assert r.status == 'Accepted', r\n"
                       "print(r.stdout.strip(), r.token is not None)")
    assert stdout_of(check) == "3000000000 True\n" and not errors_of(check), check


@pytest.mark.parametrize("language", ["cpp", "java"])
def test_output_is_streamed_into_the_cell(kernel, language):
    out = kernel.run(f"%%judge {language}\n" + SLOW[language])
    assert not errors_of(out), out
    lines = [(t, c["text"]) for t, kind, c in out if kind == "stream" and c["name"] == "stdout"]
    assert "".join(text for _, text in lines) == "first\nsecond\n"
    # "first" reached the notebook while the program was still sleeping
    assert len(lines) >= 2 and lines[-1][0] - lines[0][0] > 0.8, out


def test_java_runtime_and_compile_errors(kernel):
    crash = kernel.run("%%judge java\n" + JAVA_CRASH)
    assert stdout_of(crash) == "before\n"
    [error] = errors_of(crash)
    assert error["ename"] == "JudgeFailed" and "Runtime Error (NZEC)" in error["traceback"][0]
    stderr = "".join(c["text"] for _, kind, c in crash if kind == "stream" and c["name"] == "stderr")
    assert "ArrayIndexOutOfBoundsException" in stderr
    [compile_error] = errors_of(kernel.run("%%judge java\npublic class Main { void f() { int x = } }"))
    assert "Compilation Error" in compile_error["traceback"][0]
    assert any("error:" in line for line in compile_error["traceback"])
