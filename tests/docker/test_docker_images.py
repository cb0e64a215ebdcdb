"""The Docker deployment path end to end: images built without a registry, a
student's server spawned by the real DockerSpawner through JupyterHub's REST API,
its isolation and limits checked with `docker inspect` and by breaking them, then
stopped and removed. Tests run in file order against one spawned server.
"""
from __future__ import annotations

import html
import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from hub_config.homes import StudentHome

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
USER = f"dockertest{secrets.token_hex(3)}"
MiB = 2**20


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def exec_in(container: str, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return docker("exec", container, *cmd, check=False, timeout=timeout)


@pytest.fixture(scope="module")
def student(docker_hub):
    started = time.monotonic()
    model = docker_hub.spawn(USER)
    print(f"spawn to ready: {time.monotonic() - started:.1f} s")
    yield model
    if docker_hub.server(USER):
        docker_hub.stop(USER)


def test_student_image(docker_images):
    config = inspect(docker_images["student"])["Config"]
    assert config["User"] == "jovyan" and config["Cmd"] == ["jupyterhub-singleuser"]
    # the compiled .pyc files stay in the image: without them every spawn recompiles
    probe = docker("run", "--rm", "--network", "none", docker_images["student"], "sh", "-c",
                   "id -u; ls /opt/venv/lib/python3*/site-packages/jupyterlab/__pycache__ | grep -c pyc")
    uid, pyc_files = probe.stdout.split()
    assert uid == "1000" and int(pyc_files) > 0


def test_container_has_no_network_limits_and_a_sized_home(docker_hub, docker_images, student):
    container = inspect(docker_hub.container(USER))
    host = container["HostConfig"]
    assert container["Config"]["Image"] == docker_images["student"]
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == 512 * MiB and host["MemorySwap"] == 512 * MiB  # no swap on top
    assert host["CpuQuota"] / host["CpuPeriod"] == 0.5
    assert host["AutoRemove"] is True
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    mounts = {m["Destination"]: m for m in container["Mounts"]}
    home = docker_hub.home(USER)
    assert (mounts["/home/jovyan"]["Type"], mounts["/home/jovyan"]["Source"]) == ("bind", str(home))
    assert mounts["/run/lms"]["RW"] is False and mounts["/opt/lms/netns_forwarder.py"]["RW"] is False
    # the home is the 128M image, mounted on the host while the server runs
    size = exec_in(docker_hub.container(USER), "python3", "-c",
                   "import os; s = os.statvfs('/home/jovyan'); print(s.f_blocks * s.f_frsize)")
    assert 96 * MiB < int(size.stdout) <= 128 * MiB, size


def test_everything_is_reached_on_loopback(docker_hub, student):
    """Proxy -> host port of the bridge -> the server's own loopback; server -> hub through
    the forwarder on the container's loopback. Never a bridge (172.x) address."""
    routes = requests.get(f"{docker_hub.proxy_api}/api/routes",
                          headers={"Authorization": f"token {docker_hub.proxy_token}"}, timeout=10).json()
    target = next(r["target"] for path, r in routes.items() if path.rstrip("/") == f"/user/{USER}")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", target), target
    env = dict(e.split("=", 1) for e in inspect(docker_hub.container(USER))["Config"]["Env"])
    assert env["JUPYTERHUB_API_URL"].startswith("http://127.0.0.1:"), env["JUPYTERHUB_API_URL"]
    assert env["JUPYTERHUB_SERVICE_URL"].startswith("http://127.0.0.1:8888/"), env["JUPYTERHUB_SERVICE_URL"]
    hub = exec_in(docker_hub.container(USER), "python3", "-c",
                  f"import urllib.request; print(urllib.request.urlopen('{env['JUPYTERHUB_API_URL']}/').status)")
    assert hub.stdout.strip() == "200", hub


def test_memory_limit_is_enforced(docker_hub, student):
    name = docker_hub.container(USER)
    small = exec_in(name, "python3", "-c", "b = bytearray(100 * 2**20)")
    assert small.returncode == 0, small.stderr
    big = exec_in(name, "python3", "-c", "b = bytearray(800 * 2**20)")
    assert big.returncode == 137, (big.returncode, big.stderr)  # OOM-killed
    assert inspect(name)["State"]["Running"], "only the allocating process dies"


def test_cpu_limit_is_enforced(docker_hub, student):
    busy = ("import os, time\nt = time.time(); a = os.times()\nwhile time.time() - t < 3: pass\n"
            "b = os.times(); print(b.user - a.user + b.system - a.system)")
    used = float(exec_in(docker_hub.container(USER), "python3", "-c", busy).stdout)
    assert used < 0.75 * 3, f"{used:.2f} CPU seconds in 3 s under a 0.5 CPU limit"


def test_jupyterlab_answers_through_the_proxy(docker_hub, student):
    landing = docker_hub.get(f"/user/{USER}/", allow_redirects=False)
    assert landing.status_code == 302
    assert urlsplit(landing.headers["Location"]).path == f"/user/{USER}/lab"  # lessons open in JupyterLab
    lab = docker_hub.get(f"/user/{USER}/lab")
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    page_config = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                            lab.text, re.S)
    served = {e["name"] for e in json.loads(html.unescape(page_config.group(1)))["federated_extensions"]}
    assert "@jupyter/nbgrader" in served


def server_log(docker_hub) -> str:
    return docker("logs", docker_hub.container(USER)).stderr


def test_a_students_server_loads_the_student_side_of_nbgrader_only(docker_hub, student):
    log = server_log(docker_hub)
    for module in ("assignment_list", "validate_assignment"):  # the Assignments panel and Validate
        assert f"nbgrader.server_extensions.{module} | extension was successfully loaded." in log
    for module in ("formgrader", "course_list"):  # instructor tools (hub_config/student_server.py)
        assert f"nbgrader.server_extensions.{module}" not in log


def test_lms_extension_is_loaded(docker_hub, student):
    assert "lms_extension | extension was successfully loaded." in server_log(docker_hub)


def test_stop_removes_container_and_keeps_home(docker_hub, docker_images, student):
    name, home = docker_hub.container(USER), docker_hub.home(USER)
    assert exec_in(name, "sh", "-c", "echo kept > /home/jovyan/notes.txt").returncode == 0
    started = time.monotonic()
    docker_hub.stop(USER)
    deadline = time.monotonic() + 60
    while docker("inspect", name, check=False).returncode == 0:
        assert time.monotonic() < deadline, f"{name} still exists 60 s after the server stopped"
        time.sleep(0.25)
    print(f"stop and remove: {time.monotonic() - started:.1f} s")
    assert not os.path.ismount(home), "the home image is unmounted once the server stopped"
    kept = StudentHome(home, uid=1000, limit=128 * MiB)
    kept.prepare()
    try:
        assert (home / "notes.txt").read_text().strip() == "kept"
    finally:
        kept.release()
