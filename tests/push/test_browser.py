"""The preferences page's push part in Chromium at 1280 and 390 px: the service worker
registers with the whole LMS as its scope, a push delivered to it (DevTools'
ServiceWorker.deliverPushMessage, the browser's own push path after decryption) shows a
notification with the payload's title, body and link, a subscribed browser is listed and its
Remove form works without script, and nothing scrolls sideways."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lms_extension.services import push
from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium fixture)
from tests.factories import make_user

OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
SHOTS = Path(os.environ.get("LMS_SCREENSHOTS", Path(__file__).resolve().parents[1] / "artifacts" / "push"))


@pytest.fixture
def sqlite_only(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the page is the same on both databases; Chromium runs once")


@pytest.mark.parametrize("width", [1280, 390])
def test_service_worker_registers_and_shows_a_push(browser, service, push_service, tag, width, sqlite_only):  # noqa: F811
    name = f"sw-{tag}"
    with service.factory() as db:
        make_user(db, name)
        db.commit()
    # another browser of this user (a phone) subscribed earlier
    phone = push_service.subscribe(push.application_server_key(service.config))
    r = service.client(name).api("POST", "api/v1/me/push-subscriptions", json=phone.to_json(), headers={
        "User-Agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"})
    assert r.status_code == 201, r.text

    context = browser.new_context(viewport={"width": width, "height": 900}, extra_http_headers={"X-Test-User": name})
    origin = service.base.split("/services/")[0]
    context.grant_permissions(["notifications"], origin=origin)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    SHOTS.mkdir(parents=True, exist_ok=True)
    cdp = context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    try:
        page.goto(service.base + "notifications/preferences")
        page.wait_for_selector("#push-box[data-state=off]", timeout=15_000)
        assert page.inner_text("#push-status") == "This browser gets no push notifications."
        assert page.is_visible("#push-on") and not page.is_visible("#push-off")
        scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
        assert scope == service.base  # every LMS page is in the worker's scope
        assert "Chrome on Android" in page.inner_text(".push-browsers")
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.screenshot(path=str(SHOTS / f"preferences-push-{width}.png"), full_page=True)

        # a push as the browser hands it to the worker after decrypting it
        ours = [r for r in registrations if r["scopeURL"] == service.base and not r["isDeleted"]]
        assert ours, registrations
        data = {"title": "New answer to “Loops”", "body": "Bob: use range()", "url": service.base + "notifications",
                "kind": "reply", "tag": "lms-reply-1"}
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": origin + "/", "registrationId": ours[0]["registrationId"],
                                                      "data": json.dumps(data)})
        shown = []
        for _ in range(50):
            shown = page.evaluate("""navigator.serviceWorker.ready.then(r => r.getNotifications()).then(
                ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))""")
            if shown:
                break
            time.sleep(0.1)
        assert shown == [{"title": data["title"], "body": data["body"], "tag": "lms-reply-1", "url": data["url"]}]

        # the phone's Remove button: a plain form
        page.click(".push-browsers button")
        page.wait_for_selector("#message")
        assert "no more push notifications" in page.inner_text("#message")
        assert page.locator(".push-browsers").count() == 0
        assert errors == [], errors
    finally:
        context.close()
