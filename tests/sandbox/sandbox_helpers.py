"""Helpers shared by the sandbox tests (fixtures are in conftest.py)."""

import os

from graders.judging import Status
from graders.limits import Limits
from graders.submissions import SubmissionSandbox

PYTHON, JAVASCRIPT, JAVA, CPP, C = 71, 63, 62, 52, 50

# Small limits so hostile programs hit them fast.
TIGHT = Limits(cpu_time=1, cpu_extra_time=0.5, wall_time=3, memory=64_000, max_processes=30,
               max_file_size=256)


def assert_still_works(sandbox: SubmissionSandbox) -> None:
    result = sandbox.run("print('still here')", PYTHON, expected_output="still here")
    assert result.status is Status.ACCEPTED, result


def processes_with(marker: str) -> list[str]:
    """Host processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline and str(os.getpid()) != entry:
            found.append(f"{entry}: {cmdline!r}")
    return found


class ServerThread:
    """A Tornado application served on a random loopback port from a thread of its own,
    so synchronous clients (the judge0 SDK, httpx) can talk to it from the test."""

    def __init__(self, make_application):
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server, self.port, self.app = self.call(self._start(make_application))

    def call(self, coroutine):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    @staticmethod
    async def _start(make_application):
        import tornado.httpserver
        import tornado.netutil

        app = make_application()
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        return server, sockets[0].getsockname()[1], app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        async def shutdown():
            self.server.stop()
            service = self.app.settings.get("judge0")
            if service is not None:
                await service.close()

        self.call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
