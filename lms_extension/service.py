"""``lms service``: run the LMS as a JupyterHub managed (or external) service."""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from urllib.parse import urlparse

from tornado.httpserver import HTTPServer

from .config import LMSConfig
from .services import previews
from .web.app import make_app

log = logging.getLogger("lms")


async def serve(config: LMSConfig) -> None:
    app = make_app(config)
    # the recommender's content model takes seconds over a large catalog, and the first lesson
    # page loads nbconvert: both done now, beside the first requests, not inside them
    threading.Thread(target=_warm, args=(app,), name="lms-warm-up", daemon=True).start()
    url = urlparse(config.bind_url)
    # tornado's own limit sits above ours so the handler can answer 413 with a message
    server = HTTPServer(app, xheaders=True, max_body_size=config.max_body_bytes * 4)
    server.listen(url.port or 80, url.hostname or "127.0.0.1")
    log.info("LMS service listening on %s%s", config.bind_url, config.service_prefix)
    from .services.payments.stripe_client import readiness

    if problem := readiness(config):  # the operator learns at start, not from a buyer
        log.error("payments are off, checkout refuses to run: %s", problem)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("LMS service stopping")
    server.stop()
    await server.close_all_connections()


def _warm(app) -> None:
    try:
        with app.settings["session_factory"]() as session:
            app.settings["recommender"].warm(session)
            previews.warm(session)
    except Exception:  # a failed warm-up only means the first course page builds the model
        log.exception("could not warm up the recommender or the lesson pages at start")
    # What exists now lives as long as the process (modules, templates, the search vocabulary,
    # the recommender's model). Frozen, the collector stops walking it: full collections over
    # a 10,000-course catalog took 120-200 ms, every request waiting meanwhile
    # (benchmarks/bench_catalog.py's p99); after the freeze they take a few ms.
    gc.collect()
    gc.freeze()
    log.info("warm-up done; %d long-lived objects left out of garbage collection", gc.get_freeze_count())


def main(config: LMSConfig) -> None:
    """``config``: the one the ``lms`` command loaded."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    asyncio.run(serve(config))
