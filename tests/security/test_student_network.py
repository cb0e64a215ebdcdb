"""From inside a real student kernel, nothing on the host's network is reachable.

The student's server has its own network namespace: only loopback, no route out. The hub API
and the LMS are reached through the forwarders the spawner provides (same URLs as before), and
with ``LMS_STUDENT_EGRESS=internet`` an HTTP(S) CONNECT proxy that refuses loopback and private
addresses. Everything else listening on the host's loopback — PostgreSQL, Redis, MariaDB, the
Stripe test server, the proxy's REST API, other users' servers and kernels — is refused.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.platform import Platform
from tests.security.conftest import kernel_json, pids_of_uid, socket_inodes_of_uid

LOOPBACK_V4 = "0100007F"  # 127.0.0.1 in /proc/net/tcp's byte order
LISTEN = "0A"

# the kernel's probe: plain connects, then the same targets through the egress proxy (if any)
PROBE = r'''
import errno, json, os, socket, urllib.request, urllib.parse
targets = json.loads({targets!r})
proxy_only = json.loads({proxy_only!r})
def connect(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
        return "open"
    except OSError as e:
        return errno.errorcode.get(e.errno or 0, type(e).__name__)
    finally:
        s.close()
def via_proxy(host, port):
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if not proxy:
        return "no-proxy"
    u = urllib.parse.urlsplit(proxy)
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    try:
        target = f"[{{host}}]:{{port}}" if ":" in host else f"{{host}}:{{port}}"
        s.sendall(f"CONNECT {{target}} HTTP/1.1\r\nHost: {{target}}\r\n\r\n".encode())
        return s.recv(200).decode(errors="replace").split("\r\n")[0]
    finally:
        s.close()
def own_listening_ports():
    """Ports listening in this namespace on sockets that processes visible here hold."""
    mine = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{{pid}}/fd"):
                t = os.readlink(f"/proc/{{pid}}/fd/{{fd}}")
                if t.startswith("socket:["):
                    mine.add(t[8:-1])
        except OSError:
            pass
    ports = set()
    for name in ("tcp", "tcp6"):
        for line in open(f"/proc/net/{{name}}").read().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in mine:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports
nohttp = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
def http_json(url):
    try:
        return json.loads(nohttp.open(url, timeout=10).read())
    except Exception as e:
        return repr(e)
own = own_listening_ports()
result = {{
    "direct": {{k: connect(h, p) for k, (h, p) in targets.items()}},
    "proxied": {{k: via_proxy(h, p) for k, (h, p) in {{**targets, **proxy_only}}.items()}},
    "own_ports": sorted(own),
    "proxy_env": {{k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")}},
    "interfaces": [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]],
    "routes": open("/proc/net/route").read().splitlines()[1:],
    "hub_api": http_json(os.environ["JUPYTERHUB_API_URL"] + "/"),
    "lms_api": http_json(os.environ["LMS_SERVICE_URL"] + "api/v1/courses"),
    "service_url": os.environ["JUPYTERHUB_SERVICE_URL"],
}}
print(json.dumps(result))
'''


def _listening(path: str) -> dict[int, tuple[str, int]]:
    """inode -> (address, port) of listening TCP sockets in a /proc/net/tcp{,6} file."""
    found = {}
    try:
        lines = Path(path).read_text().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        f = line.split()
        if f[3] != LISTEN:
            continue
        addr, port = f[1].rsplit(":", 1)
        found[int(f[9])] = (addr, int(port, 16))
    return found


def host_loopback_targets() -> dict[str, tuple[str, int]]:
    """Every TCP port listening on the host's loopback (or on all addresses), from /proc/net.

    Only sockets held by processes visible here: the container runtime's own listeners, whose
    processes this machine does not show, are not ours to poke at."""
    held: set[int] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                t = os.readlink(f"/proc/{pid}/fd/{fd}")
                if t.startswith("socket:["):
                    held.add(int(t[8:-1]))
        except OSError:
            continue
    targets = {}
    for inode, (addr, port) in _listening("/proc/net/tcp").items():
        if inode in held and addr in (LOOPBACK_V4, "00000000"):
            targets[f"tcp4:{port}"] = ("127.0.0.1", port)
    for inode, (addr, port) in _listening("/proc/net/tcp6").items():
        loop6 = addr == "00000000000000000000000001000000"
        any6 = addr == "0" * 32
        if inode in held and (loop6 or any6):
            targets[f"tcp6:{port}"] = ("::1", port)
    return targets


def ports_of_uid(uid: int) -> set[int]:
    """Ports listening on sockets held by ``uid``'s processes, in whatever namespace they are."""
    inodes = socket_inodes_of_uid(uid)
    ports = set()
    for pid in pids_of_uid(uid):
        for name in ("tcp", "tcp6"):
            for inode, (_addr, port) in _listening(f"/proc/{pid}/net/{name}").items():
                if inode in inodes:
                    ports.add(port)
    return ports


def stripe_test_port(p: Platform) -> int:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"stripe_test_server" in argv and str(p.data_dir).encode() in b" ".join(argv):
            return int(argv[argv.index(b"--port") + 1])
    raise AssertionError("the platform's Stripe test server is not running")


@pytest.fixture(scope="module")
def sandbox_platform(tmp_path_factory):
    """Outbound internet allowed: even then nothing on the host may be reached."""
    p = Platform(tmp_path_factory.mktemp("net-platform") / "data",
                 extra_env={"LMS_STUDENT_EGRESS": "internet"}).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def noah_kernel(sandbox_platform, two_students):
    """A kernel of the other student, alive while maria's kernel probes; its connection file."""
    p, token = sandbox_platform, two_students["noah"]
    api = f"{p.url}/user/noah/api/kernels"
    headers = {"Authorization": f"token {token}"}
    kernel = requests.post(api, json={"name": "python3"}, headers=headers, timeout=60).json()["id"]
    runtime = p.data_dir / "homes" / "noah" / ".local" / "share" / "jupyter" / "runtime"
    path = runtime / f"kernel-{kernel}.json"
    for _ in range(100):
        if path.exists() and path.stat().st_size:
            break
        time.sleep(0.2)
    yield json.loads(path.read_text())
    requests.delete(f"{api}/{kernel}", headers=headers, timeout=30)


def uid_of(p: Platform, user: str) -> int:
    return (p.data_dir / "homes" / user).stat().st_uid


def test_no_host_service_is_reachable_from_a_kernel(sandbox_platform, two_students, noah_kernel):
    p = sandbox_platform
    env = p.env
    named = {
        "postgresql": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379), "mariadb": ("127.0.0.1", 3306),
        "stripe-test-server": ("127.0.0.1", stripe_test_port(p)),
        "proxy-rest-api": ("127.0.0.1", int(env["LMS_PROXY_API_PORT"])),
        "public-proxy": ("127.0.0.1", p.port),
    }
    for port in ports_of_uid(uid_of(p, "noah")):
        named[f"noah-listens:{port}"] = ("127.0.0.1", port)
    for key in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
        named[f"noah-kernel-{key}"] = ("127.0.0.1", noah_kernel[key])
    scan = host_loopback_targets()
    targets = {**scan, **named}
    facts = kernel_json(p, "maria", two_students["maria"], PROBE.format(targets=json.dumps(targets), proxy_only="{}"), timeout=300)

    hub_port, service_port = int(env["LMS_HUB_PORT"]), int(env["LMS_SERVICE_PORT"])
    # the two paths the spawner provides answer as the hub and as the LMS
    assert isinstance(facts["hub_api"], dict) and "version" in facts["hub_api"], facts["hub_api"]
    assert isinstance(facts["lms_api"], (list, dict)), facts["lms_api"]
    own = set(facts["own_ports"])
    reachable = sorted(name for name, state in facts["direct"].items()
                       if state == "open" and targets[name][1] not in own | {hub_port, service_port})
    assert reachable == [], f"reachable from a student's kernel: {reachable}"
    for name in named:  # the named services were really probed, and refused
        assert facts["direct"][name] != "open", (name, facts["direct"][name])
    # no interface but loopback, no route anywhere
    assert facts["interfaces"] == ["lo"], facts["interfaces"]
    assert facts["routes"] == [], facts["routes"]


def test_egress_proxy_refuses_every_host_port(sandbox_platform, two_students):
    """With LMS_STUDENT_EGRESS=internet the proxy is there, and refuses loopback and private targets."""
    p = sandbox_platform
    # only targets that cannot leave this machine even if the proxy let them through; the
    # private and link-local ranges are checked on the decision function (test_egress_*)
    proxy_only = {"v6-loopback": ("::1", 5432), "v4-mapped-loopback": ("::ffff:127.0.0.1", 5432),
                  "unspecified": ("0.0.0.0", 5432), "loopback-name": ("localhost", 5432),
                  "loopback-127-2": ("127.0.0.2", 5432)}
    code = PROBE.format(targets=json.dumps(host_loopback_targets()), proxy_only=json.dumps(proxy_only))
    facts = kernel_json(p, "maria", two_students["maria"], code, timeout=300)
    env = facts["proxy_env"]
    assert env.get("HTTPS_PROXY") and env.get("https_proxy") and env.get("HTTP_PROXY"), env
    allowed = {name: line for name, line in facts["proxied"].items() if " 200" in line}
    assert allowed == {}, f"the egress proxy let these through: {allowed}"
    for name, line in facts["proxied"].items():
        assert line.startswith("HTTP/1.1 403"), (name, line)


def test_proc_net_tcp_shows_no_other_users_socket(sandbox_platform, two_students, noah_kernel):
    p = sandbox_platform
    code = r'''
import json, os
rows = []
for name in ("tcp", "tcp6", "udp", "udp6", "unix"):
    lines = open(f"/proc/net/{name}").read().splitlines()[1:]
    for line in lines:
        f = line.split()
        rows.append([name, f[7] if name != "unix" else None, f[9] if name != "unix" else f[6]])
print(json.dumps({"uid": os.getuid(), "rows": rows}))
'''
    facts = kernel_json(p, "maria", two_students["maria"], code)
    noah_sockets = socket_inodes_of_uid(uid_of(p, "noah"))
    assert noah_sockets, "noah's server holds sockets on the host"
    seen = {int(inode) for _kind, _uid, inode in facts["rows"] if inode and inode.isdigit()}
    assert not seen & noah_sockets, "maria's /proc/net shows noah's sockets"
    foreign = sorted({(kind, uid) for kind, uid, _ in facts["rows"] if uid is not None and int(uid) != facts["uid"]})
    assert foreign == [], f"sockets of other uids visible in the namespace: {foreign}"


def test_no_host_unix_socket_is_reachable(sandbox_platform, two_students):
    candidates = ["/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432", "/run/mysqld/mysqld.sock",
                  "/var/run/docker.sock", "/run/redis/redis-server.sock"]
    code = f'''
import json, socket
out = {{}}
for path in {candidates!r}:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); out[path] = "open"
    except OSError as e:
        out[path] = type(e).__name__
    finally:
        s.close()
print(json.dumps(out))
'''
    facts = kernel_json(sandbox_platform, "maria", two_students["maria"], code)
    assert "open" not in facts.values(), facts
