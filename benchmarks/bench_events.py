"""What counting a visit costs the visitor: course page requests with and without visit
recording, side by side.

The LMS service runs in this process; each request is one of three, which differ in nothing
else (same process, connection, page cache and database):

- ``off``: the page without the recording decorator (the baseline: the page as it was before
  analytics), served by the same application under another path;
- ``on``: the real one (``services.analytics.VisitRecorder``: a list append per visit, one
  INSERT per 200 visits in a thread after the response);
- ``naive``: an INSERT and COMMIT per visit on the event loop, what the recorder avoids (its
  time is added to the visit's: the service answers nobody while it writes).

Requests alternate between the three, each first in turn; each is a visitor's
``GET /courses/{slug}``, once with the page cache on (the default: visitors get the cached
page) and once with it off (every page rendered).

    .venv/bin/python -m benchmarks.bench_events [--requests 2000] [--db-url postgresql+psycopg://...]

Prints p50 / mean per variant and the ratios on/off and naive/off; the target is on/off <= 1.10.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import func, select

from lms_extension.config import LMSConfig
from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.models import Course
from lms_extension.models.analytics import AnalyticsEvent
from lms_extension.services import analytics
from lms_extension.web.app import make_app
from lms_extension.web.pages import catalog as catalog_pages
from tests.factories import make_course
from tests.sandbox.sandbox_helpers import ServerThread

SLUG = "bench-events"


class BaselineCoursePage(catalog_pages.CoursePage):
    get = catalog_pages.CoursePage.get.without_recording


class InsertPerVisit(analytics.VisitRecorder):
    """Writes each visit in its own transaction on the event loop; ``spent_ms`` is what that took
    (the service can answer no other request meanwhile), added to the visit's time."""

    def __init__(self, factory):
        super().__init__()
        self.factory = factory
        self.calls, self.spent_ms = 0, 0.0

    def record(self, kind, course_slug, hub_name, visitor) -> bool:
        started = time.perf_counter()
        with self.factory() as session:
            analytics.store_visits(session, [analytics.Visit(kind, course_slug, hub_name, visitor, analytics.utcnow())])
            session.commit()
        self.spent_ms = (time.perf_counter() - started) * 1000
        self.calls += 1
        return False


def with_baseline(app):
    """The course page without recording, at /bench/courses/<slug> (outside the service's prefix,
    whose catch-all answers 404)."""
    app.add_handlers(r".*", [(r"/bench/courses/([^/]+)", BaselineCoursePage)])
    return app


def measure(server: ServerThread, recorders: dict, n: int) -> dict[str, list[float]]:
    """``n`` requests per recorder on the same server: before each request the server's recorder
    is swapped, so nothing but the recorder differs (same process, connection, cache, database)."""
    urls = {name: f"{server.url}/services/lms/courses/{SLUG}" for name in recorders}
    urls["off"] = f"{server.url}/bench/courses/{SLUG}"
    session = requests.Session()
    settings = server.app.settings
    names = list(recorders)
    for name in names * 30:  # warm up: the connection, templates, the cache
        if recorders[name] is not None:
            settings["analytics_recorder"] = recorders[name]
        session.get(urls[name]).raise_for_status()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        for name in names[i % len(names):] + names[:i % len(names)]:  # each variant first in turn
            recorder = recorders[name]
            if recorder is not None:
                settings["analytics_recorder"] = recorder
            calls = getattr(recorder, "calls", 0)
            started = time.perf_counter()
            r = session.get(urls[name])
            elapsed = (time.perf_counter() - started) * 1000
            if r.status_code != 200:
                raise SystemExit(f"{name}: {r.status_code}")
            if isinstance(recorder, InsertPerVisit):  # its INSERT runs just after the response
                deadline = time.monotonic() + 5
                while recorder.calls == calls and time.monotonic() < deadline:
                    time.sleep(0.0005)
                elapsed += recorder.spent_ms
            times[name].append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant and cache setting")
    parser.add_argument("--db-url", default="", help="a database to use (default: a new SQLite file)")
    args = parser.parse_args()
    os.environ.setdefault("JUPYTERHUB_API_TOKEN", "unused-by-visitors")
    os.environ.setdefault("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    os.environ.setdefault("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    tmp = tempfile.mkdtemp(prefix="bench-events-")
    url = args.db_url or f"sqlite:///{tmp}/lms.sqlite"
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with factory() as session:
        if session.scalar(select(func.count()).select_from(Course).where(Course.slug == SLUG)) == 0:
            make_course(session, Path(tmp), SLUG, lessons=8)
            session.commit()
        before = session.scalar(select(func.count()).select_from(AnalyticsEvent))

    print(f"database: {engine.dialect.name}; {args.requests} requests per variant, alternating\n")
    print(f"{'page cache':<11}{'variant':<8}{'p50 ms':>9}{'mean ms':>9}{'ratio p50':>11}{'ratio mean':>12}")
    ratios = {}
    for cache_seconds, label in ((5.0, "on"), (0.0, "off")):
        server = ServerThread(lambda: with_baseline(make_app(LMSConfig(db_url=url, data_dir=tmp,
                                                                       catalog_cache_seconds=cache_seconds), engine)))
        recorders = {"off": None, "on": analytics.VisitRecorder(), "naive": InsertPerVisit(factory)}
        try:
            times = measure(server, recorders, args.requests)
            time.sleep(0.2)
            recorders["on"].flush(factory)
        finally:
            server.stop()
        base_p50, base_mean = statistics.median(times["off"]), statistics.fmean(times["off"])
        for name in ("off", "on", "naive"):
            p50, mean = statistics.median(times[name]), statistics.fmean(times[name])
            print(f"{label:<11}{name:<8}{p50:>9.2f}{mean:>9.2f}{p50 / base_p50:>11.2f}{mean / base_mean:>12.2f}")
            ratios[(label, name)] = mean / base_mean
    with factory() as session:
        written = session.scalar(select(func.count()).select_from(AnalyticsEvent)) - before
    expected = 2 * 2 * (args.requests + 30)  # "on" and "naive", both cache settings, with the warm-up
    print(f"\nvisits stored: {written} of {expected}")
    worst = max(ratios[(c, "on")] for c in ("on", "off"))
    print(f"recording costs the visitor {100 * (worst - 1):+.1f} % (mean, worst cache setting); target <= +10 %")
    engine.dispose()


if __name__ == "__main__":
    main()
