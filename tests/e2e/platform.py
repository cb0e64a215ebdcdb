"""Start the real platform (JupyterHub + proxy + LMS service + spawner) for tests.

It is what ``make run`` starts — ``lms run`` — on free loopback ports and a temporary
data folder, driven over HTTP with an operator token (``LMS_ADMIN_TOKEN``).
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
LMS = Path(sys.executable).parent / "lms"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Platform:
    def __init__(self, data_dir: Path, *, db_url: str | None = None, spawner: str = "sandbox",
                 extra_env: dict | None = None):
        self.data_dir = data_dir
        self.admin_token = secrets.token_hex(16)
        self.demo_password = "demo-" + secrets.token_hex(6)
        self.port = free_port()
        self.service_port = free_port()
        self.env = {
            **os.environ,
            "LMS_PORT": str(self.port), "LMS_HUB_PORT": str(free_port()),
            "LMS_PROXY_API_PORT": str(free_port()), "LMS_SERVICE_PORT": str(self.service_port),
            # its own Stripe test server: platforms started together must not race for port 12111
            "LMS_STRIPE_TEST_PORT": str(free_port()),
            "LMS_DATA_DIR": str(data_dir), "LMS_SPAWNER": spawner, "LMS_DEMO": "1",
            "LMS_ADMIN_TOKEN": self.admin_token, "LMS_DEMO_PASSWORD": self.demo_password,
            # a secret the student environment must never see
            "LMS_TEST_SECRET": "platform-secret-" + secrets.token_hex(4),
            **(extra_env or {}),
        }
        if db_url:
            self.env["LMS_DB_URL"] = db_url
        self.url = f"http://127.0.0.1:{self.port}"
        self.lms = f"{self.url}/services/lms/"
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"platform-{self.port}.log"

    # lifecycle -------------------------------------------------------------------------
    def command(self) -> list[str]:
        """What starts the platform (a subclass may wrap it)."""
        return [str(LMS), "run"]

    def start(self, timeout: float = 300) -> "Platform":  # a cold start on a busy machine takes minutes
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), env=self.env, cwd=REPO, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lms run exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.lms + "api/v1/courses", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"platform did not come up in {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except FileNotFoundError:
            return ""

    # hub REST API ----------------------------------------------------------------------
    def hub(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.admin_token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/hub/api/{path}", headers=headers, timeout=30, **kwargs)

    def create_user(self, name: str) -> None:
        r = self.hub("POST", f"users/{name}")
        assert r.status_code in (201, 409), r.text

    def token(self, name: str) -> str:
        self.create_user(name)
        r = self.hub("POST", f"users/{name}/tokens", json={"note": "test"})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def start_server(self, name: str, timeout: float = 90) -> float:
        started = time.monotonic()
        r = self.hub("POST", f"users/{name}/server")
        assert r.status_code in (201, 202, 400), r.text  # 400: already running
        while time.monotonic() - started < timeout:
            server = self.hub("GET", f"users/{name}").json().get("servers", {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"server of {name} not ready after {timeout}s:\n{self.log()}")

    def stop_server(self, name: str) -> None:
        self.hub("DELETE", f"users/{name}/server")
        for _ in range(100):
            server = self.hub("GET", f"users/{name}").json().get("servers", {}).get("")
            if not server:
                return
            time.sleep(0.2)

    # as a user -------------------------------------------------------------------------
    def as_user(self, token: str) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"token {token}"
        return s

    def login(self, name: str, password: str) -> requests.Session:
        """A browser-like session: the hub's login form, cookies, xsrf."""
        s = requests.Session()
        page = s.get(f"{self.url}/hub/login")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        r = s.post(f"{self.url}/hub/login", data={"username": name, "password": password, "_xsrf": xsrf},
                   allow_redirects=False)
        assert r.status_code == 302, (r.status_code, r.text[:500])
        return s

    def signup(self, name: str, password: str, *, display_name: str | None = None,
               session: requests.Session | None = None, **fields) -> requests.Response:
        """The hub's sign-up form; with open sign-up the answer ends on the catalog, logged in."""
        s = session or requests.Session()
        page = s.get(f"{self.url}/hub/signup")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        return s.post(f"{self.url}/hub/signup", data={
            "username": name, "signup_password": password, "signup_password_confirmation": password,
            "email": f"{name}@example.org", "display_name": display_name or name.title(), "_xsrf": xsrf,
            **fields})
