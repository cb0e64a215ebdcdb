"""Catalog API and page throughput and latency with 10,000 courses seeded.

Runs the LMS service standalone (the same Tornado app `lms service` serves) on a fresh
database, loads it with `wrk` at 32 connections, and side by side a bare Tornado
"hello" app on the same machine as the floor. Optionally (``--through-proxy``) the
same load goes through the whole platform's proxy as a visitor would.

    .venv/bin/python -m benchmarks.bench_catalog [--courses 10000] [--seconds 10]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from lms_extension.db import make_engine, session_factory, upgrade
from benchmarks.seed import seed_courses
from tests.e2e.platform import Platform, free_port

HELLO_APP = """
import asyncio, sys
from tornado import web
class H(web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish('{"hello": "world"}')
async def main():
    web.Application([(r"/.*", H)]).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()
asyncio.run(main())
"""


def wrk(url: str, seconds: int, connections: int = 32, headers: dict | None = None) -> dict:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    extra = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": ms("50%"), "p99_ms": ms("99%"), "non2xx": int(errors.group(1)) if errors else 0}


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--courses", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--db-url", default="", help="default: a fresh SQLite file")
    ap.add_argument("--through-proxy", action="store_true",
                    help="also load the whole platform (proxy -> hub-managed service) as visitors do")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    db_url = args.db_url or f"sqlite:///{work / 'lms.sqlite'}"
    engine = make_engine(db_url)
    upgrade(engine)
    t = time.monotonic()
    with session_factory(engine)() as session:
        seed_courses(session, args.courses)
    print(f"seeded {args.courses} courses in {time.monotonic() - t:.1f}s ({engine.url.get_backend_name()})")
    engine.dispose()

    port, hello_port = free_port(), free_port()
    env = {**os.environ, "LMS_DB_URL": db_url, "LMS_DATA_DIR": str(work), "LMS_DEMO": "0",
           "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}", "JUPYTERHUB_SERVICE_PREFIX": "/services/lms/",
           "JUPYTERHUB_API_TOKEN": "unused-by-anonymous-requests", "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api"}
    service = subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "service"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hello = subprocess.Popen([sys.executable, "-c", HELLO_APP, str(hello_port)])
    try:
        url = f"http://127.0.0.1:{port}/services/lms/api/v1/courses"
        wait_up(url, 120)  # 10,000 courses: the search vocabulary and recommender build at start
        wait_up(f"http://127.0.0.1:{hello_port}/")
        wait_up(f"http://127.0.0.1:{port}/services/lms/courses/course-00042", 120)
        results = {
            "bare tornado hello (floor)": wrk(f"http://127.0.0.1:{hello_port}/", args.seconds),
            "GET /api/v1/courses": wrk(url, args.seconds),
            "GET /api/v1/courses?category=Data+Science&sort=price_asc": wrk(url + "?category=Data+Science&sort=price_asc", args.seconds),
            "GET /api/v1/courses?q=pandas": wrk(url + "?q=pandas", args.seconds),
            "GET / (catalog page, HTML)": wrk(f"http://127.0.0.1:{port}/services/lms/", args.seconds),
            "GET /?category=Statistics (catalog page, HTML)":
                wrk(f"http://127.0.0.1:{port}/services/lms/?category=Statistics", args.seconds),
            "GET /courses/course-00042 (course page, HTML)":
                wrk(f"http://127.0.0.1:{port}/services/lms/courses/course-00042", args.seconds),
        }
    finally:
        service.terminate()
        hello.terminate()
        service.wait()
        hello.wait()
    if args.through_proxy:
        platform = Platform(work / "platform", db_url=db_url, spawner="sandbox").start()
        try:
            results["GET /api/v1/courses through the proxy"] = wrk(platform.lms + "api/v1/courses", args.seconds)
        finally:
            platform.stop()
    shutil.rmtree(work, ignore_errors=True)
    floor = results["bare tornado hello (floor)"]["rps"]
    print(f"\n{'endpoint':58} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs floor':>9} {'non-2xx':>8}")
    for name, r in results.items():
        print(f"{name:58} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['rps'] / floor:9.2f} {r['non2xx']:8d}")
    print("\ntargets: >= 1000 req/s and p99 <= 50 ms at 32 connections (the API, the catalog and course pages)")


if __name__ == "__main__":
    main()
