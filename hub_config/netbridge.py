"""The host side of a student server's network: the only paths in and out of its namespace.

A student's server runs in a network namespace of its own that has nothing but loopback, so
nothing listening on the host (PostgreSQL, Redis, the proxy's API, other users' servers and
kernels, ...) can be reached from it. What it may reach goes through a per-server *run
directory* of Unix sockets that the spawner makes visible inside (the sandbox binds it
read-only at ``/run/lms``; a container mounts it there). Unix sockets cross namespaces; TCP
ports do not.

Host side (this module, asyncio, runs in the hub's event loop)::

    bridge = ServerBridge(run_dir, {"hub.sock": ("127.0.0.1", hub_port),
                                    "lms.sock": ("127.0.0.1", service_port)},
                          egress=True, log=log)
    await bridge.start()            # run_dir/hub.sock, lms.sock (+ proxy.sock when egress)
    ...
    await bridge.stop()             # closes listeners and open connections, removes sockets

* ``outbound``: ``{socket file name: (host, port)}``. Every connection to ``run_dir/<name>`` is
  joined to a new TCP connection to that host port. Nothing else is forwarded.
* ``egress=True`` adds ``run_dir/proxy.sock``: an HTTP ``CONNECT`` proxy (what pip, git and
  requests use for ``https://`` through ``HTTPS_PROXY``) that resolves the target itself and
  refuses loopback, private, shared (CGNAT), link-local, ULA, multicast, reserved and
  unspecified addresses (:func:`egress_refusal`), then connects to the address it checked (no
  second lookup, so DNS rebinding gains nothing). Plain ``http://`` requests through the
  proxy are refused with 405: use https.
* Inbound, two ways, both ending at the server's own ``127.0.0.1:<port>`` inside:

  - :func:`inbound_listener` makes a listening TCP socket on the host's ``127.0.0.1`` (what
    the proxy routes to). Pass its fd to the namespace's first process (the sandbox does, with
    ``pass_fds``): a socket keeps the namespace it was created in, so the forwarder inside
    accepts the proxy's connections on it and connects to the server next to it. No copy
    through the hub.
  - ``await bridge.start_inbound(inside_socket_path)`` (for containers, which cannot
    receive fds) listens on a free host ``127.0.0.1`` port, returned, and joins each
    connection to the Unix socket the forwarder inside listens on. That socket lives in a
    directory the student can write to, so it is opened without following symlinks (a
    student cannot point the hub at the PostgreSQL socket).

Inside the namespace, ``hub_config/netns_forwarder.py`` (stdlib only, any python3 >= 3.9)
listens on ``127.0.0.1:<hub port>`` and ``127.0.0.1:<service port>`` and joins them to
``hub.sock`` and ``lms.sock``, so ``JUPYTERHUB_API_URL`` and ``LMS_SERVICE_URL`` keep their
usual values; see :func:`forwarder_argv` for its command line.
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import stat
import sys
from pathlib import Path

# the forwarder is stdlib-only so containers can run it; the hub reuses its copy loop
from .netns_forwarder import BUFFER, join

FORWARDER = Path(__file__).resolve().parent / "netns_forwarder.py"
INSIDE_RUN_DIR = "/run/lms"
EGRESS_SOCKET = "proxy.sock"
# where the forwarder inside offers the egress proxy (any free port inside the namespace)
INSIDE_PROXY_PORT = 3128

# Addresses a student's server must never reach through the egress proxy. ``is_global``
# covers most of these; they are listed so the rule reads plainly and does not move with
# Python's registry of special-purpose blocks.
REFUSED_NETWORKS = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "64:ff9b::/96", "2002::/16",
)]


class EgressRefused(Exception):
    """The egress proxy will not connect there; the message says why."""


def egress_refusal(address: str) -> str | None:
    """Why ``address`` (an IP literal) may not be reached from a student's server, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for net in REFUSED_NETWORKS:
        if ip.version == net.version and ip in net:
            return f"{ip} is in {net} (loopback, private, link-local or reserved)"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def egress_target(host: str, port: int, resolve=socket.getaddrinfo) -> tuple[str, int]:
    """Resolve ``host`` and return the checked address to connect to.

    Refused when any address the name resolves to is refused: a name that mixes a public
    address with a private one is not a name a student needs."""
    if not 0 < port < 65536:
        raise EgressRefused(f"port {port} is not a TCP port")
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefused(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise EgressRefused(f"{host} resolves to nothing")
    for address in addresses:
        reason = egress_refusal(address)
        if reason:
            raise EgressRefused(f"{host}: {reason}")
    return addresses[0], port


def inbound_listener() -> socket.socket:
    """A listening TCP socket on the host's 127.0.0.1, on a free port, to hand to the forwarder."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def forwarder_argv(python: str, forwarder: str, *, server_port: int, inbound_fd: int | None = None,
                   inbound_unix: str | None = None, outbound: dict[str, str], egress: bool) -> list[str]:
    """The command line of ``netns_forwarder.py`` inside the namespace (before ``--`` and the server).

    ``outbound``: ``{"127.0.0.1:8081": "/run/lms/hub.sock", ...}``, what to listen on inside
    and which socket of the run directory it leads to."""
    argv = [python, "-I", "-S", forwarder]
    if inbound_fd is not None:
        argv += ["--inbound-fd", f"{inbound_fd}:{server_port}"]
    if inbound_unix is not None:
        argv += ["--inbound-unix", f"{inbound_unix}:{server_port}"]
    for listen, target in outbound.items():
        argv += ["--outbound", f"{listen}={target}"]
    if egress:
        argv += ["--outbound", f"127.0.0.1:{INSIDE_PROXY_PORT}={INSIDE_RUN_DIR}/{EGRESS_SOCKET}"]
    return argv + ["--"]


def proxy_environment() -> dict[str, str]:
    """Environment variables that send a student's HTTP(S) clients to the egress proxy."""
    url = f"http://127.0.0.1:{INSIDE_PROXY_PORT}"
    return {"HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _bind_unix(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, however long the path (sun_path holds 107 bytes)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dirfd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        sock.bind(f"/proc/self/fd/{dirfd}/{path.name}")
    finally:
        os.close(dirfd)
    # the student's uid connects from inside; the directory around it is root's and read-only
    path.chmod(0o666)
    sock.listen(128)
    return sock


async def open_unix_nofollow(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the Unix socket at ``path`` only if it is one (not a symlink to another)."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW)
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise ConnectionRefusedError(f"{path} is not a socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, f"/proc/self/fd/{fd}")
        except BaseException:
            sock.close()
            raise
    finally:
        os.close(fd)
    return await asyncio.open_unix_connection(sock=sock)


class ServerBridge:
    """The host end of one student server's run directory (see the module docstring)."""

    def __init__(self, run_dir: Path, outbound: dict[str, tuple[str, int]], *, egress: bool = False,
                 log: logging.Logger | None = None, egress_connect=asyncio.open_connection):
        self.run_dir = Path(run_dir)
        self.outbound = dict(outbound)
        self.egress = egress
        # how the egress proxy opens a checked (address, port); tests stand in for the internet
        self.egress_connect = egress_connect
        self.log = log or logging.getLogger("lms.netbridge")
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task] = set()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    async def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)
        for name, (host, port) in self.outbound.items():
            await self._serve_unix(name, self._to_tcp(host, port))
        if self.egress:
            await self._serve_unix(EGRESS_SOCKET, self._egress_proxy)

    async def start_inbound(self, inside_socket: Path) -> int:
        """Listen on a free host 127.0.0.1 port and join it to ``inside_socket``; returns the port."""
        async def handle(reader, writer):
            try:
                inner = await open_unix_nofollow(inside_socket)
            except OSError:
                writer.close()  # the server is not listening yet: the hub retries
                return
            await join((reader, writer), inner)

        server = await asyncio.start_server(self._tracked(handle), "127.0.0.1", 0, limit=BUFFER)
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        self._servers.clear()
        for name in [*self.outbound, EGRESS_SOCKET]:
            with contextlib.suppress(FileNotFoundError):
                (self.run_dir / name).unlink()

    # ------------------------------------------------------------------------------------
    def _tracked(self, handler):
        async def run(reader, writer):
            task = asyncio.current_task()
            self._tasks.add(task)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                writer.close()
            except Exception:  # one connection's trouble never reaches the hub
                self.log.debug("bridge connection in %s failed", self.run_dir, exc_info=True)
                writer.close()
            finally:
                self._tasks.discard(task)
        return run

    async def _serve_unix(self, name: str, handler) -> None:
        sock = _bind_unix(self.run_dir / name)
        server = await asyncio.start_unix_server(self._tracked(handler), sock=sock, limit=BUFFER)
        self._servers.append(server)

    def _to_tcp(self, host: str, port: int):
        async def handle(reader, writer):
            try:
                upstream = await asyncio.open_connection(host, port, limit=BUFFER)
            except OSError:
                writer.close()
                return
            await join((reader, writer), upstream)
        return handle

    async def _egress_proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0].upper() != "CONNECT":
            await _reply(writer, 405, "only CONNECT (https) goes through the egress proxy")
            return
        host, _, port_text = parts[1].rpartition(":")
        host = host.strip("[]")
        try:
            loop = asyncio.get_running_loop()
            address, port = await loop.run_in_executor(None, egress_target, host, int(port_text))
        except (EgressRefused, ValueError) as exc:
            self.log.info("egress refused for %s: %s", self.run_dir.name, exc)
            await _reply(writer, 403, f"refused: {exc}")
            return
        try:
            upstream = await asyncio.wait_for(self.egress_connect(address, port, limit=BUFFER), 30)
        except (OSError, asyncio.TimeoutError) as exc:
            await _reply(writer, 502, f"cannot connect to {host}:{port}: {exc}")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await join((reader, writer), upstream)


async def _reply(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    reason = {403: "Forbidden", 405: "Method Not Allowed", 502: "Bad Gateway"}[status]
    body = (text + "\n").encode()
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


if __name__ == "__main__":  # pragma: no cover - a manual check: python -m hub_config.netbridge HOST PORT
    print(egress_target(sys.argv[1], int(sys.argv[2])))
