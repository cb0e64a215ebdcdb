"""The console's pages in Chromium at 390 and 1280 px wide: no sideways page scroll (wide tables
scroll inside their own box); a bulk action's dry run and apply clicked through as a browser posts them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.admin.test_pages import act, admin, lms_user, tag

CHROMIUM = os.environ.get("LMS_CHROMIUM", "/usr/bin/chromium")
PAGES = ["admin", "admin/users", "admin/settings", "admin/bulk", "admin/audit"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_console_pages_fit_a_phone(console, browser, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the layout does not depend on the database")
    t = tag()
    boss_name = f"wide-{t}-" + "x" * 40
    boss = admin(console, boss_name)
    name = f"someone-with-a-very-long-username-{t}"
    console.as_user(name).get(console.url("purchases"))
    act(boss, console, name, "deactivate")
    token = boss.headers["Authorization"]
    shots = os.environ.get("LMS_SCREENSHOTS")
    for width in (390, 1280):
        context = browser.new_context(viewport={"width": width, "height": 800}, extra_http_headers={"Authorization": token})
        page = context.new_page()
        for path in PAGES:
            response = page.goto(console.url(path))
            assert response.status == 200, path
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
            if shots:
                page.screenshot(path=f"{shots}/{path.replace('/', '_')}-{width}.png", full_page=True)
        context.close()


def test_bulk_dry_run_then_apply_in_a_browser(console, browser, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the browser's form does not depend on the database")
    t = tag()
    names = [f"click-{t}-{i}" for i in range(2)]
    for n in names:
        console.as_user(n).get(console.url("purchases"))
    boss = admin(console)
    context = browser.new_context(viewport={"width": 390, "height": 800},
                                  extra_http_headers={"Authorization": boss.headers["Authorization"]})
    page = context.new_page()
    page.goto(console.url("admin/bulk"))
    page.select_option("#bulk-action", "deactivate")
    page.fill("#bulk-names", "\n".join(names) + f"\nghost-{t}")
    page.click("#dry-run")
    assert page.inner_text("#plan-count") == "2 would change"
    assert not any(lms_user(console, n).deactivated_at for n in names)
    page.click("#apply")
    assert "2 changed, 1 skipped" in page.inner_text("#message")
    assert all(lms_user(console, n).deactivated_at for n in names)
    context.close()
