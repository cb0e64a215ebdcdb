"""The Judge0-compatible API as a Tornado application, and the standalone server."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import tornado.web

from graders.judge0.config import Judge0Config
from graders.judge0.handlers import Authenticator, NotFoundHandler, judge0_handlers
from graders.judge0.service import Judge0Service
from graders.judge0.store import SubmissionStore
from graders.submissions import SubmissionSandbox as Sandbox, default_sandbox

log = logging.getLogger(__name__)


def make_app(config: Judge0Config | None = None, *, base_path: str | None = None,
             authenticate: Authenticator | None = None, sandbox: Sandbox | None = None,
             store: SubmissionStore | None = None, **settings: Any) -> tornado.web.Application:
    """A Tornado application serving the Judge0-compatible API.

    ``authenticate(handler)`` (optionally async) returns the user or None (then 401); when
    given it replaces the ``X-Auth-Token`` check, which is how the LMS mounts the API
    under ``/services/lms/api/judge0/`` with Hub tokens. ``application.settings["judge0"]``
    is the ``Judge0Service``. Submissions live in ``store`` (by default in this process
    only; see ``graders.judge0.store``).
    """
    config = config or Judge0Config()
    if base_path is not None:
        config = dataclasses.replace(config, base_path=base_path)
    service = Judge0Service(config, sandbox, store)
    app = tornado.web.Application(
        judge0_handlers(service, config.base_path, authenticate),
        default_handler_class=NotFoundHandler,
        default_handler_args={"service": service, "authenticate": authenticate},
        judge0=service,
        **settings,
    )
    return app


def main(argv: list[str] | None = None,
         make_store: Callable[[Judge0Config], SubmissionStore] | None = None) -> None:
    """Serve the API standalone: ``python -m graders.judge0 --port 2358``.

    ``make_store(config)`` says where submissions live: ``lms judge0`` passes the LMS
    database, so that several servers answer for each other's tokens; without it they
    live in this process."""
    parser = argparse.ArgumentParser(prog="lms judge0", description="Serve the Judge0-compatible API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=2358, help="port to listen on")
    parser.add_argument(
        "--auth-token", action="append", default=None,
        help="require this X-Auth-Token (repeatable). Prefer the JUDGE0_AUTH_TOKEN "
             "environment variable (space-separated tokens): a command line is visible "
             "to every user of the machine")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="runs at the same time (default: number of cores)")
    parser.add_argument("--queue-size", type=int, default=100,
                        help="submissions waiting for a worker before 429")
    parser.add_argument("--base-path", default="", help="URL prefix, e.g. /judge0")
    parser.add_argument("--warm-spares", type=int, default=None,
                        help="Python sandboxes started ahead of time, each used for one run "
                             "(default: as many as --workers; 0 turns them off)")
    args = parser.parse_args(argv)
    tokens = tuple(args.auth_token or os.environ.get("JUDGE0_AUTH_TOKEN", "").split())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = Judge0Config(auth_tokens=tokens, base_path=args.base_path,
                          max_workers=args.workers, max_queue_size=args.queue_size,
                          warm_spares=args.warm_spares)
    default_sandbox()  # fail now, with the reason, if the host cannot sandbox
    store = make_store(config) if make_store else None

    async def serve() -> None:
        app = make_app(config, store=store)
        server = app.listen(args.port, args.host)
        log.info("Judge0-compatible API on http://%s:%d%s/", args.host, args.port, args.base_path)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        server.stop()
        await app.settings["judge0"].close()

    asyncio.run(serve())
