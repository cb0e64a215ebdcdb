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
import socket
import sys
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
        if targets[name][1] in own | {hub_port, service_port}:
            continue  # noah's forwarder uses the same port numbers as maria's own, in his namespace
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
        if name != "unix" and f[9] == "0":
            continue  # TIME_WAIT and the like: no socket, no owner (shown as uid 0)
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


# the egress decision and the bridge's pieces, without a platform -------------------------
def test_egress_refuses_loopback_private_and_link_local_addresses():
    from hub_config.netbridge import EgressRefused, egress_target

    for host in ("127.0.0.1", "127.8.9.10", "localhost", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                 "192.168.0.10", "100.64.1.1", "169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255",
                 "::1", "::", "fe80::1", "fd00::1", "fc00::5", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                 "64:ff9b::a00:1", "2002:a00:1::1"):
        with pytest.raises(EgressRefused):
            egress_target(host, 443)


def test_egress_allows_a_public_address_and_connects_to_the_checked_one():
    from hub_config.netbridge import EgressRefused, egress_target

    # IP literals resolve locally: nothing leaves this machine
    assert egress_target("93.184.216.34", 443) == ("93.184.216.34", 443)
    assert egress_target("2606:2800:220:1:248:1893:25c8:1946", 443)[0] == "2606:2800:220:1:248:1893:25c8:1946"

    def rebinding(host, port, type=None):  # a name with one public and one private address
        return [(2, 1, 6, "", ("93.184.216.34", port)), (2, 1, 6, "", ("10.0.0.7", port))]

    with pytest.raises(EgressRefused):
        egress_target("mixed.example", 443, resolve=rebinding)
    with pytest.raises(EgressRefused):
        egress_target("93.184.216.34", 0)


def _echo_server(sock_factory):
    """A thread answering every connection with what it receives, prefixed by its name."""
    import threading

    listener, name = sock_factory()

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(1024)
                conn.sendall(name + data)

    threading.Thread(target=serve, daemon=True).start()
    return listener


def _tcp_listener(name):
    def make():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        return s, name
    return make


def test_bridge_and_forwarder_join_only_their_sockets(tmp_path):
    """The host bridge and the forwarder, end to end over real sockets (no namespace needed):
    outbound TCP inside -> Unix socket -> host port; inbound host port -> Unix socket -> server;
    and the host end will not follow a symlink the student put where the server's socket goes."""
    import asyncio

    from hub_config import netbridge

    hub = _echo_server(_tcp_listener(b"hub:"))
    server = _echo_server(_tcp_listener(b"server:"))
    hub_port, server_port = hub.getsockname()[1], server.getsockname()[1]
    run = tmp_path / "run"
    inbox = tmp_path / "in"
    inbox.mkdir()
    inside_port = socket.socket()
    inside_port.bind(("127.0.0.1", 0))
    forward_port = inside_port.getsockname()[1]
    inside_port.close()

    async def scenario():
        bridge = netbridge.ServerBridge(run, {"hub.sock": ("127.0.0.1", hub_port)})
        await bridge.start()
        argv = netbridge.forwarder_argv(sys.executable, str(netbridge.FORWARDER), server_port=server_port,
                                        inbound_unix=str(inbox / "server.sock"),
                                        outbound={f"127.0.0.1:{forward_port}": str(run / "hub.sock")}, egress=False)
        proc = await asyncio.create_subprocess_exec(*argv[:-1])
        try:
            for _ in range(100):
                if (inbox / "server.sock").exists():
                    break
                await asyncio.sleep(0.05)

            async def ask(port):
                for _ in range(50):
                    try:
                        r, w = await asyncio.open_connection("127.0.0.1", port)
                        w.write(b"ping")
                        await w.drain()
                        answer = await asyncio.wait_for(r.read(100), 5)
                        w.close()
                        if answer:
                            return answer
                    except OSError:
                        pass
                    await asyncio.sleep(0.05)
                return b""

            outbound = await ask(forward_port)
            inbound_port = await bridge.start_inbound(inbox / "server.sock")
            inbound = await ask(inbound_port)
            # the student swaps their socket for a symlink to another Unix socket of the host
            other = tmp_path / "other.sock"
            decoy = socket.socket(socket.AF_UNIX)
            decoy.bind(str(other))
            decoy.listen()
            (inbox / "server.sock").unlink()
            (inbox / "server.sock").symlink_to(other)
            r, w = await asyncio.open_connection("127.0.0.1", inbound_port)
            w.write(b"ping")
            await w.drain()
            try:
                after_swap = await asyncio.wait_for(r.read(100), 5)
            except ConnectionResetError:
                after_swap = b""
            decoy.setblocking(False)
            try:
                decoy.accept()
                reached_decoy = True
            except BlockingIOError:
                reached_decoy = False
            await bridge.stop()
            return outbound, inbound, after_swap, reached_decoy, sorted(p.name for p in run.iterdir())
        finally:
            proc.terminate()
            await proc.wait()

    outbound, inbound, after_swap, reached_decoy, left = asyncio.run(scenario())
    assert outbound == b"hub:ping"
    assert inbound == b"server:ping"
    assert after_swap == b"" and not reached_decoy
    assert left == []  # stop() removed its sockets


def test_egress_proxy_connects_to_the_checked_public_address_only(tmp_path):
    """The egress proxy over its Unix socket: a public target is joined (the internet replaced
    by a local echo server standing at the checked address), a loopback one never connected."""
    import asyncio

    from hub_config import netbridge

    echo = _echo_server(_tcp_listener(b"internet:"))
    dialled = []

    async def internet(address, port, limit):
        dialled.append((address, port))
        return await asyncio.open_connection("127.0.0.1", echo.getsockname()[1], limit=limit)

    async def through_proxy(target):
        r, w = await asyncio.open_unix_connection(str(tmp_path / "run" / netbridge.EGRESS_SOCKET))
        w.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        await w.drain()
        status = (await r.readline()).decode()
        if " 200 " in status:
            await r.readline()  # the empty line ending the head
            w.write(b"ping")
            await w.drain()
            return status, await asyncio.wait_for(r.read(100), 5)
        return status, await r.read()

    async def scenario():
        bridge = netbridge.ServerBridge(tmp_path / "run", {}, egress=True, egress_connect=internet)
        await bridge.start()
        try:
            return (await through_proxy("93.184.216.34:443"), await through_proxy("127.0.0.1:5432"),
                    await through_proxy("[::ffff:10.0.0.1]:443"))
        finally:
            await bridge.stop()

    public, loopback, mapped = asyncio.run(scenario())
    assert public == ("HTTP/1.1 200 Connection established\r\n", b"internet:ping")
    assert loopback[0].startswith("HTTP/1.1 403") and b"127.0.0.0/8" in loopback[1]
    assert mapped[0].startswith("HTTP/1.1 403")
    assert dialled == [("93.184.216.34", 443)]
