"""The inside end of a student server's network: runs in its namespace, then runs the server.

Standalone on purpose (standard library only, any python3 >= 3.9), so a container image can
run it as well as the sandbox. It runs as the student's uid: it only forwards what the
student may reach anyway, through the Unix sockets of the run directory (see
``hub_config/netbridge.py`` for the host end)::

    python3 netns_forwarder.py \\
        --inbound-fd 3:PORT              # accept on inherited listening fd 3 (a host socket)
        --inbound-unix PATH:PORT         # or: listen on the Unix socket PATH
        --outbound 127.0.0.1:8081=/run/lms/hub.sock   # listen here, forward to that socket
        --outbound 127.0.0.1:10101=/run/lms/lms.sock
        -- jupyterhub-singleuser ...     # the server, started once every listener is up

Inbound connections are joined to ``127.0.0.1:PORT`` in the namespace (the server). The
forwarder exits with the server's exit status and passes SIGTERM, SIGINT and SIGHUP on.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys

BUFFER = 256 * 1024


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(BUFFER)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def join(a, b):
    """Copy both ways until both sides are done, then close both (also used by the hub's side)."""
    try:
        await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))
    finally:
        a[1].close()
        b[1].close()


def _to_tcp(port):
    async def handle(reader, writer):
        try:
            inner = await asyncio.open_connection("127.0.0.1", port, limit=BUFFER)
        except OSError:
            writer.close()  # the server is not up yet; the hub tries again
            return
        await join((reader, writer), inner)
    return handle


def _to_unix(path):
    async def handle(reader, writer):
        try:
            outer = await asyncio.open_unix_connection(path, limit=BUFFER)
        except OSError:
            writer.close()
            return
        await join((reader, writer), outer)
    return handle


def _split_last(text, sep):
    head, _, tail = text.rpartition(sep)
    if not head or not tail:
        raise argparse.ArgumentTypeError(f"expected X{sep}Y, got {text!r}")
    return head, tail


def _host_port(text):
    host, port = _split_last(text, ":")
    return host.strip("[]"), int(port)


async def main(args) -> int:
    servers = []
    if args.inbound_fd:
        fd, port = (int(x) for x in _split_last(args.inbound_fd, ":"))
        sock = socket.socket(fileno=fd)
        servers.append(await asyncio.start_server(_to_tcp(port), sock=sock, limit=BUFFER))
    if args.inbound_unix:
        path, port = _split_last(args.inbound_unix, ":")
        if os.path.lexists(path):
            os.unlink(path)
        servers.append(await asyncio.start_unix_server(_to_tcp(int(port)), path=path, limit=BUFFER))
        os.chmod(path, 0o600)
    for spec in args.outbound:
        listen, target = _split_last(spec, "=")
        host, port = _host_port(listen)
        servers.append(await asyncio.start_server(_to_unix(target), host, port, limit=BUFFER,
                                                  reuse_address=True))
    if not args.command:
        await asyncio.Event().wait()
        return 0
    # the server gets none of the forwarder's sockets
    child = await asyncio.create_subprocess_exec(*args.command, close_fds=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, child.send_signal, sig)
    status = await child.wait()
    for server in servers:
        server.close()
    return status if status >= 0 else 128 - status


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--inbound-fd", help="FD:PORT: accept on this inherited listening socket")
    ap.add_argument("--inbound-unix", help="PATH:PORT: accept on a Unix socket created at PATH")
    ap.add_argument("--outbound", action="append", default=[], help="HOST:PORT=UNIX_SOCKET")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- the server's command line")
    args = ap.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
