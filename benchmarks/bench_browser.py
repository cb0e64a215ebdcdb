"""What a person waits for, measured in headless Chromium on the real platform.

- Largest Contentful Paint of the catalog, a course page and a lesson page (a first visit with
  an empty browser cache, then a repeat visit), for a visitor and for a logged-in student.
- Opening a lesson: from the click on "Open in JupyterLab" on the lesson page until the
  notebook's cells are rendered in JupyterLab, cold (the student's server stopped) and warm
  (running).

    .venv/bin/python -m benchmarks.bench_browser [--spawner sandbox|docker] [--rounds 3]

Targets: LCP <= 1.2 s; lesson open cold <= 6 s, warm <= 2 s.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM
from tests.e2e.platform import Platform

FREE = "python-for-beginners"
ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
LCP_JS = """() => new Promise(resolve => {
  let last = 0;
  new PerformanceObserver(list => { for (const e of list.getEntries()) last = e.startTime; })
    .observe({type: 'largest-contentful-paint', buffered: true});
  setTimeout(() => resolve(last), 300);
})"""


def lcp(context, url: str) -> float:
    page = context.new_page()
    page.goto(url, wait_until="load")
    value = page.evaluate(LCP_JS) / 1000
    page.close()
    return value


def open_lesson(page, course_url: str, lesson: str) -> float:
    """Click "Open in JupyterLab" on the lesson's page; seconds until its cells are rendered."""
    page.goto(f"{course_url}/lessons/{lesson}", wait_until="load")
    link = page.locator('a[href*="lms/open"]').first
    started = time.monotonic()
    link.click()
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible", timeout=180_000)
    return time.monotonic() - started


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawner", default="sandbox", choices=["sandbox", "docker"])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    p = Platform(Path(tempfile.mkdtemp(prefix="bench-browser-")) / "data", spawner=args.spawner).start()
    results: dict[str, list[float]] = {}
    try:
        user = "student"
        token = p.token(user)
        p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").raise_for_status()
        lessons = [ls["id"] for ls in requests.get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"]]
        logged_in = p.login(user, p.demo_password)
        course_url = f"{p.lms}courses/{FREE}"
        pages = {"catalog": p.lms, "course": course_url, "lesson": f"{course_url}/lessons/{lessons[0]}"}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _ in range(args.rounds):
                for who in ("visitor", "student"):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    if who == "student":
                        context.add_cookies([{"name": c.name, "value": c.value, "url": p.url}
                                             for c in logged_in.cookies])
                    for name, url in pages.items():
                        if name == "lesson" and who == "visitor":
                            continue
                        results.setdefault(f"LCP {name} ({who}, first visit)", []).append(lcp(context, url))
                        results.setdefault(f"LCP {name} ({who}, repeat visit)", []).append(lcp(context, url))
                    context.close()
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies([{"name": c.name, "value": c.value, "url": p.url} for c in logged_in.cookies])
            page = context.new_page()
            for i in range(args.rounds):
                p.stop_server(user)
                results.setdefault("lesson open, cold (server stopped)", []).append(
                    open_lesson(page, course_url, lessons[i % len(lessons)]))
                for lesson in lessons[:3]:
                    results.setdefault("lesson open, warm (server running)", []).append(
                        open_lesson(page, course_url, lesson))
            p.stop_server(user)
            browser.close()
    finally:
        p.stop()
    print(f"\n{'what':48} {'n':>3} {'median s':>9} {'max s':>7}")
    for name, xs in results.items():
        print(f"{name:48} {len(xs):3d} {statistics.median(xs):9.3f} {max(xs):7.3f}")
    print("\ntargets: LCP <= 1.2 s (catalog, course, lesson); lesson open cold <= 6 s, warm <= 2 s")


if __name__ == "__main__":
    main()
