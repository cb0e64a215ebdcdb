"""Open-lesson time, cold (server stopped) and warm (server running), on the real platform.

cold: the student's click on a lesson link (`/hub/user-redirect/lms/open?...`) with no
      server running — spawn, lesson fetched and written, JupyterLab page served.
warm: the same click with the server already running.
floor: reading the same notebook back through the server's contents API (no LMS work).

    .venv/bin/python -m benchmarks.bench_open_lesson [--spawner sandbox|docker] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests

from tests.e2e.platform import Platform

FREE = "python-for-beginners"


def click_lesson(p: Platform, browser: requests.Session, lesson: str) -> float:
    """Follow the lesson link like a logged-in browser until JupyterLab's page is served."""
    started = time.monotonic()
    url = f"{p.url}/hub/user-redirect/lms/open?course={FREE}&lesson={lesson}"
    while time.monotonic() - started < 180:
        r = browser.get(url, allow_redirects=False, timeout=120)
        if r.status_code in (301, 302, 303, 307):
            url = requests.compat.urljoin(url, r.headers["Location"])
            continue
        if r.status_code == 200 and "/lab/tree/" in url:
            return time.monotonic() - started
        if r.status_code == 200 or r.status_code == 202:  # the hub's spawn-pending page: poll
            time.sleep(0.1)
            continue
        raise RuntimeError(f"{r.status_code} at {url}: {r.text[:300]}")
    raise TimeoutError(f"lesson not open after 180 s (last URL {url})")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawner", default="sandbox", choices=["sandbox", "docker"])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    p = Platform(Path(tempfile.mkdtemp(prefix="bench-open-")) / "data", spawner=args.spawner).start()
    try:
        user = "student"  # a demo user: the hub's login form gives the browser its cookies
        token = p.token(user)
        browser = p.login(user, p.demo_password)
        p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").raise_for_status()
        lessons = [ls["id"] for ls in requests.get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"]]
        cold, warm, floor = [], [], []
        for i in range(args.rounds):
            p.stop_server(user)
            cold.append(click_lesson(p, browser, lessons[i % len(lessons)]))
            for lesson in lessons:
                warm.append(click_lesson(p, browser, lesson))
                t = time.monotonic()
                requests.get(f"{p.url}/user/{user}/api/contents/courses/{FREE}/{lesson}.ipynb",
                             headers={"Authorization": f"token {token}"}).raise_for_status()
                floor.append(time.monotonic() - t)
        p.stop_server(user)
    finally:
        p.stop()

    def row(name, xs):
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        print(f"{name:44} n={len(xs):3d}  median {statistics.median(xs) * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms")

    print(f"\nopen-lesson with the {args.spawner} spawner")
    row("cold: click -> JupyterLab (server stopped)", cold)
    row("warm: click -> JupyterLab (server running)", warm)
    row("floor: read the notebook via contents API", floor)
    print(f"warm / floor: {statistics.median(warm) / statistics.median(floor):.1f}x")
    print("targets (sandbox): warm <= 1 s, cold <= 6 s")


if __name__ == "__main__":
    main()
