"""Run code in a user's kernel through their server's REST + websocket API, as JupyterLab does."""
from __future__ import annotations

import asyncio
import json
import uuid

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def execute_request(code: str, username: str = "test") -> tuple[str, str]:
    """A Jupyter messaging execute_request on the shell channel: (msg_id, JSON text)."""
    msg_id = uuid.uuid4().hex
    return msg_id, json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": username,
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    })


async def _execute(ws_url: str, token: str, code: str, timeout: float) -> dict:
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    msg_id, message = execute_request(code)
    conn.write_message(message)
    out = {"stdout": "", "stderr": "", "error": None}
    try:
        while True:
            raw = await asyncio.wait_for(conn.read_message(), timeout)
            if raw is None:
                raise ConnectionError("kernel websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out[msg["content"]["name"]] += msg["content"]["text"]
            elif kind == "error":
                out["error"] = f"{msg['content']['ename']}: {msg['content']['evalue']}"
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return out
    finally:
        conn.close()


def run_code(base_url: str, user: str, token: str, code: str, timeout: float = 60) -> dict:
    """Start a kernel in ``user``'s server, run ``code``, shut the kernel down."""
    api = f"{base_url}/user/{user}/api/kernels"
    headers = {"Authorization": f"token {token}"}
    r = requests.post(api, json={"name": "python3"}, headers=headers, timeout=60)
    r.raise_for_status()
    kernel = r.json()["id"]
    try:
        ws = api.replace("http://", "ws://") + f"/{kernel}/channels"
        return asyncio.run(_execute(ws, token, code, timeout))
    finally:
        requests.delete(f"{api}/{kernel}", headers=headers, timeout=30)
