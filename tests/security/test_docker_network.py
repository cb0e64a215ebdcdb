"""Docker spawner: from a kernel in a student's container, nothing on the host is reachable.

The whole platform (``lms run`` with ``LMS_SPAWNER=docker``) runs a student's server in a
container with a network namespace of its own; the hub API and the LMS are reached only
through the bridge's Unix sockets. From inside a real kernel: PostgreSQL, Redis, the proxy's
REST API, the public proxy port, the Stripe test server and every other host loopback
listener refuse; there is no interface but ``lo`` and no route. The server still works
(a lesson opens), and the home has the disk limit, like the sandbox's.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from hub_config import docker_spawner
from tests.docker.conftest import docker_engine, docker_images  # noqa: F401  (fixtures)
from tests.e2e.kernel import run_code
from tests.e2e.platform import Platform

FREE = "python-for-beginners"
MiB = 2**20
LIMIT = 64 * MiB

PROBE = r'''
import json, os, socket, urllib.request
def connect(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(3)
    try:
        s.connect((host, port))
        return "open"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()
def listening_here():
    ports = set()
    for name in ("tcp", "tcp6"):
        for line in open(f"/proc/net/{name}").read().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A":
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return sorted(ports)
def get_json(url):
    try:
        return json.loads(urllib.request.urlopen(url, timeout=10).read())
    except Exception as e:
        return repr(e)
targets = json.loads(%r)
print(json.dumps({
    "direct": {name: connect(host, port) for name, (host, port) in targets.items()},
    "listening_here": listening_here(),
    "interfaces": [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]],
    "routes": open("/proc/net/route").read().splitlines()[1:],
    "hub_api": get_json(os.environ["JUPYTERHUB_API_URL"] + "/"),
    "lms_api": get_json(os.environ["LMS_SERVICE_URL"] + "api/v1/courses"),
}))
'''


def host_loopback_listeners() -> dict[str, tuple[str, int]]:
    """TCP ports listening on the host's loopback or on every address, held by a process
    this machine shows (not the outer container runtime's)."""
    held = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    held.add(target[8:-1])
        except OSError:
            continue
    found = {}
    for name, loopback, anyaddr, host in (("tcp", "0100007F", "00000000", "127.0.0.1"),
                                          ("tcp6", "00000000000000000000000001000000", "0" * 32, "::1")):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            f = line.split()
            addr, port = f[1].rsplit(":", 1)
            if f[3] == "0A" and f[9] in held and addr in (loopback, anyaddr):
                found[f"{name}:{int(port, 16)}"] = (host, int(port, 16))
    return found


def stripe_test_port(p: Platform) -> int | None:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"stripe_test_server" in argv and b"--port" in argv and str(p.data_dir).encode() in b" ".join(argv):
            return int(argv[argv.index(b"--port") + 1])
    return None


@pytest.fixture(scope="module")
def docker_platform(docker_images, tmp_path_factory):  # noqa: F811
    p = Platform(tmp_path_factory.mktemp("docker-net") / "data", spawner="docker",
                 extra_env={"LMS_DOCKER_IMAGE": docker_images["student"], "LMS_MEM_LIMIT": "768M",
                            "LMS_CPU_LIMIT": "1.0", "LMS_DISK_LIMIT": "64M"}).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def student(docker_platform):
    p, user = docker_platform, "dockernet"
    token = p.token(user)
    p.start_server(user, timeout=180)
    yield user, token
    p.stop_server(user)


def kernel_json(p: Platform, user: str, token: str, code: str) -> dict:
    out = run_code(p.url, user, token, code, timeout=180)
    assert out["error"] is None, out
    return json.loads(out["stdout"].strip().splitlines()[-1])


def test_no_host_service_is_reachable_from_a_container_kernel(docker_platform, student):
    p, (user, token) = docker_platform, student
    env = p.env
    named = {"postgresql": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379),
             "proxy-rest-api": ("127.0.0.1", int(env["LMS_PROXY_API_PORT"])),
             "public-proxy": ("127.0.0.1", p.port)}
    if stripe_test_port(p):
        named["stripe-test-server"] = ("127.0.0.1", stripe_test_port(p))
    targets = {**host_loopback_listeners(), **named}
    facts = kernel_json(p, user, token, PROBE % json.dumps(targets))

    hub_port, service_port = int(env["LMS_HUB_PORT"]), int(env["LMS_SERVICE_PORT"])
    # the paths the spawner provides: the forwarder inside listens there and they answer
    assert {hub_port, service_port} <= set(facts["listening_here"]), facts["listening_here"]
    assert isinstance(facts["hub_api"], dict) and "version" in facts["hub_api"], facts["hub_api"]
    assert isinstance(facts["lms_api"], (list, dict)), facts["lms_api"]
    provided = {hub_port, service_port}
    reachable = sorted(name for name, state in facts["direct"].items()
                       if state == "open" and targets[name][1] not in provided)
    assert reachable == [], f"reachable from a container's kernel: {reachable}"
    for name in named:
        assert facts["direct"][name] != "open", (name, facts["direct"][name])
    assert facts["interfaces"] == ["lo"], facts["interfaces"]
    assert facts["routes"] == [], facts["routes"]


def test_lesson_opens_in_the_isolated_container(docker_platform, student):
    p, (user, token) = docker_platform, student
    container = f"{docker_spawner.CONTAINER_PREFIX}-{user}"
    host = json.loads(subprocess.check_output(["docker", "inspect", container]))[0]["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").status_code in (201, 409)
    lesson = requests.get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"][0]["id"]
    r = requests.get(f"{p.url}/user/{user}/lms/open", params={"course": FREE, "lesson": lesson},
                     headers={"Authorization": f"token {token}"}, allow_redirects=False, timeout=60)
    assert r.status_code == 302, r.text
    assert r.headers["Location"].endswith(f"/tree/courses/{FREE}/{lesson}.ipynb")
    nb = requests.get(f"{p.url}/user/{user}/api/contents/courses/{FREE}/{lesson}.ipynb",
                      headers={"Authorization": f"token {token}"}, timeout=60).json()
    assert nb["content"]["nbformat"] == 4 and "BEGIN SOLUTION" not in json.dumps(nb)


FILL = """
import json, os
def fill(path, cap):
    written, error = 0, None
    try:
        with open(path, "wb", buffering=0) as f:
            while written < cap:
                written += f.write(b"x" * (1 << 20))
                os.fsync(f.fileno())
    except OSError as e:
        error = e.errno
    return {"written": written, "errno": error}
out = {"home": fill(os.path.expanduser("~/fill.bin"), %d), "root": fill("/fill.bin", 1 << 20)}
os.remove(os.path.expanduser("~/fill.bin"))
print(json.dumps(out))
"""


def test_container_home_has_the_disk_limit(docker_platform, student):
    p, (user, token) = docker_platform, student
    facts = kernel_json(p, user, token, FILL % (2 * LIMIT))
    print(f"docker: limit {LIMIT} bytes, wrote {facts['home']['written']} bytes before errno {facts['home']['errno']}")
    assert facts["home"]["errno"] == errno.ENOSPC, facts
    assert LIMIT * 3 // 4 <= facts["home"]["written"] <= LIMIT, facts
    # and nothing else in the container is disk: the image's layer is read-only
    assert facts["root"]["errno"] in (errno.EROFS, errno.EACCES), facts


CONNECT = r'''
import json, os, socket, urllib.parse
proxy = urllib.parse.urlsplit(os.environ.get("HTTPS_PROXY", ""))
out = {"proxy": os.environ.get("HTTPS_PROXY")}
for target in %r:
    s = socket.create_connection((proxy.hostname, proxy.port), timeout=10)
    try:
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        out[target] = s.recv(200).decode(errors="replace").split("\r\n")[0]
    finally:
        s.close()
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def egress_platform(docker_images, tmp_path_factory):  # noqa: F811
    p = Platform(tmp_path_factory.mktemp("docker-egress") / "data", spawner="docker",
                 extra_env={"LMS_DOCKER_IMAGE": docker_images["student"], "LMS_STUDENT_EGRESS": "internet"}).start()
    yield p
    p.stop()


def test_internet_egress_from_a_container_refuses_the_host(egress_platform):
    """LMS_STUDENT_EGRESS=internet: the container gets the hub's egress proxy, which refuses
    every loopback target (only targets that cannot leave this machine are tried)."""
    p, user = egress_platform, "dockeregress"
    token = p.token(user)
    p.start_server(user, timeout=180)
    try:
        targets = ["127.0.0.1:5432", "127.0.0.1:6379", f"127.0.0.1:{p.env['LMS_PROXY_API_PORT']}",
                   "localhost:5432", "[::1]:5432", "[::ffff:127.0.0.1]:5432"]
        facts = kernel_json(p, user, token, CONNECT % targets)
        assert facts["proxy"] and facts["proxy"].startswith("http://127.0.0.1:"), facts
        for target in targets:
            assert facts[target].startswith("HTTP/1.1 403"), (target, facts[target])
    finally:
        p.stop_server(user)
