"""The bell and the notifications pages in Chromium at 1280 and 390 px: the bell shows the
unread count and follows a notice made elsewhere live; no page scrolls sideways."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from lms_extension.services import notifications
from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium fixture)
from tests.factories import make_user

OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
SHOTS = Path(os.environ.get("LMS_SCREENSHOTS", Path(__file__).resolve().parents[1] / "artifacts" / "notifications"))


@pytest.fixture
def sqlite_only(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the pages are the same on both databases; Chromium runs once")


def _notify(service, uid, title, kind="reply"):
    with service.factory() as db:
        notifications.notify(db, user_ids=[uid], kind=kind, title=title,
                             body="A rather long body that has to wrap on a phone without pushing the page wider "
                                  "than the screen: " + "supercalifragilisticexpialidocious" * 2,
                             url="my-learning")
        db.commit()


@pytest.mark.parametrize("width", [1280, 390])
def test_bell_counts_live_and_pages_fit(browser, service, tag, width, sqlite_only):  # noqa: F811
    name = f"bell-{tag}"
    with service.factory() as db:
        uid = make_user(db, name).id
        db.commit()
    for i in range(3):
        _notify(service, uid, f"Notice {i}", kind=["reply", "grade_released", "announcement"][i])
    context = browser.new_context(viewport={"width": width, "height": 800},
                                  extra_http_headers={"X-Test-User": name})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(service.base + "notifications")
        count = page.locator("#notif-count")
        count.wait_for(state="visible", timeout=10_000)
        assert count.inner_text() == "3"
        box = page.locator("#notif-bell").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.screenshot(path=str(SHOTS / f"list-{width}.png"), full_page=True)
        # a notice made by another process shows within a couple of seconds
        _notify(service, uid, "Fresh one")
        expect(count).to_have_text("4", timeout=5_000)
        # mark all read: the page says so and the bell empties
        page.click("#mark-all-read")
        page.wait_for_selector("#notif-unread >> text=All read.")
        expect(count).to_be_hidden(timeout=5_000)
        page.goto(service.base + "notifications/preferences")
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.uncheck("#pref-reply-email")
        page.screenshot(path=str(SHOTS / f"preferences-{width}.png"), full_page=True)
        page.click("#save-prefs")
        page.wait_for_selector("#message")
        assert not page.is_checked("#pref-reply-email") and page.is_checked("#pref-reply-in_app")
        token = notifications.unsubscribe_token(service.config.cookie_secret, uid, "announcement")
        page.goto(service.base + f"notifications/unsubscribe/{token}")
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.screenshot(path=str(SHOTS / f"unsubscribe-{width}.png"), full_page=True)
        page.click("#confirm-unsubscribe")
        page.wait_for_selector("#unsubscribed")
        assert errors == []
    finally:
        context.close()
