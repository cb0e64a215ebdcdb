"""Fixtures for tests that need a Docker engine and the Jupyter LMS images.

``docker_images`` builds the images once per session with docker/build-images.sh
(Docker's layer cache makes a rebuild of unchanged sources take seconds).
``docker_hub`` runs a real JupyterHub on loopback-only ports that spawns students
with ``hub_config.docker_spawner``, and drives it through its REST API.
Without a Docker engine every test using them is skipped, naming what is missing.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from hub_config import docker_spawner

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "docker" / "build-images.sh"


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def wait_for(predicate, timeout: float, step: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s")


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The engine's version; skips when there is no CLI or no engine answering."""
    # in CI (.ci/run starts the engine) a missing engine is a failure, not a skip
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if shutil.which("docker") is None:
        missing("the docker CLI is not installed (docker/start-engine.sh installs docker.io)")
    info = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
        missing(f"no Docker engine answers ({reason}); docker/start-engine.sh starts one")
    return info.stdout.strip()


@pytest.fixture(scope="session")
def docker_images(docker_engine) -> dict[str, str]:
    """Image names by role, built once per session (or reused from Docker's cache)."""
    images = {
        "base": os.environ.get("LMS_BASE_IMAGE", "jupyter-lms/base:bookworm"),
        "student": os.environ.get("LMS_DOCKER_IMAGE", "jupyter-lms/student:latest"),
    }
    build = subprocess.run([str(BUILD_SCRIPT), "student"], capture_output=True, text=True, timeout=1500)
    if build.returncode != 0:
        log = (build.stdout + build.stderr)[-4000:]
        pytest.fail(f"docker/build-images.sh student failed ({build.returncode}):\n{log}")
    return images


@dataclass
class DockerHub:
    """A running hub: its public URL and a service token with admin scopes."""

    url: str
    token: str
    proxy_api: str
    proxy_token: str
    log: Path
    data_dir: Path
    users: set[str] = field(default_factory=set)

    @staticmethod
    def container(user: str) -> str:
        """Docker name of ``user``'s container (test users need no escaping)."""
        return f"{docker_spawner.CONTAINER_PREFIX}-{user}"

    def home(self, user: str) -> Path:
        """The host folder the student's home image is mounted on while the server runs."""
        return self.data_dir / "homes" / user

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        """GET through the proxy, as the service (which may access every server)."""
        headers = {"Authorization": f"token {self.token}"}
        return requests.get(f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def server(self, user: str) -> dict | None:
        return self.api("GET", f"/users/{user}").json().get("servers", {}).get("")

    def spawn(self, user: str, timeout: float = 240) -> dict:
        """Create ``user`` if needed, start their server, return its model once ready."""
        created = self.api("POST", f"/users/{user}")
        assert created.status_code in (201, 409), created.text
        self.users.add(user)
        started = self.api("POST", f"/users/{user}/server")
        assert started.status_code in (201, 202), started.text
        try:
            return wait_for(lambda: (s := self.server(user)) and s.get("ready") and s,
                            timeout, what=f"{user}'s server ready")
        except TimeoutError as e:
            raise AssertionError(f"{e}; hub log:\n{self.log_tail()}") from None

    def stop(self, user: str, timeout: float = 120) -> None:
        stopped = self.api("DELETE", f"/users/{user}/server")
        assert stopped.status_code in (202, 204, 400), stopped.text  # 400: not running
        wait_for(lambda: self.server(user) is None, timeout, what=f"{user}'s server stopped")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _free_port() -> int:
    from jupyterhub.utils import random_port

    return random_port()


@pytest.fixture(scope="session")
def docker_hub(docker_images, tmp_path_factory):
    """A JupyterHub whose spawner is ``hub_config.docker_spawner.configure``: dummy
    authenticator, loopback-only ports, 512M / 0.5 CPU / a 128M home per student."""
    state = tmp_path_factory.mktemp("docker-hub")
    port, hub_port, proxy_port = _free_port(), _free_port(), _free_port()
    token, proxy_token = secrets.token_hex(16), secrets.token_hex(16)
    config = state / "jupyterhub_config.py"
    config.write_text(textwrap.dedent(f"""
        from hub_config import docker_spawner, settings
        c = get_config()  # noqa
        c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
        c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
        c.ConfigurableHTTPProxy.auth_token = "{proxy_token}"
        c.ConfigurableHTTPProxy.pid_file = "{state}/proxy.pid"
        c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
        c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
        c.JupyterHub.cleanup_servers = True
        c.JupyterHub.authenticator_class = "dummy"
        c.Authenticator.allow_all = True
        c.JupyterHub.services = [{{"name": "docker-tests", "api_token": "{token}"}}]
        c.JupyterHub.load_roles = [{{
            "name": "docker-tests",
            "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"],
            "services": ["docker-tests"],
        }}]
        docker_spawner.configure(c, settings.load())
    """))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "LMS_DATA_DIR": str(state),
        "LMS_DOCKER_IMAGE": docker_images["student"],
        "LMS_MEM_LIMIT": "512M",
        "LMS_CPU_LIMIT": "0.5",
        "LMS_DISK_LIMIT": "128M",
    }
    log = state / "jupyterhub.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)],
                                cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT)
    hub = DockerHub(url=f"http://127.0.0.1:{port}", token=token,
                    proxy_api=f"http://127.0.0.1:{proxy_port}", proxy_token=proxy_token, log=log, data_dir=state)

    def answers():
        if proc.poll() is not None:
            raise AssertionError(f"jupyterhub exited ({proc.returncode}):\n{hub.log_tail()}")
        try:
            return requests.get(f"{hub.url}/hub/api/", timeout=2).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, 60, what="the hub answering")
        yield hub
    finally:
        proc.terminate()  # cleanup_servers: the hub stops (and so removes) the containers
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for user in hub.users:
            docker("rm", "-f", hub.container(user), check=False)
            home = hub.home(user)
            if os.path.ismount(home):  # the hub died before stopping the server
                subprocess.run(["umount", "-l", str(home)], check=False)
