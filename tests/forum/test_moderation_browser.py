"""The moderation pages and the new parts of the Q&A pages in real Chromium at 1280 px and on a
phone (390 px): no sideways scroll; a student reports and sets a level by clicking, the staff
hide a post, mark a duplicate and suspend from the pages. Screenshots go to LMS_SHOTS (if set)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium)
from tests.identity import token_client as as_user

from .conftest import SLUG
from .test_browser import LONG, OVERFLOW_JS


def _api(who, method, url, **body):
    r = as_user(who).request(method, url, json=body, timeout=30)
    assert r.status_code < 300, r.text
    return r.json() if r.text else None


@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_moderation_pages_fit_and_work_in_chromium(served, browser, width, tmp_path):  # noqa: F811
    base, _ = served
    shots = Path(os.environ.get("LMS_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    v1 = base + "api/v1/"
    original = _api("f-ann", "POST", v1 + f"courses/{SLUG}/threads", title="Why is square(-4) -16?",
                    body="`square(-4)` gives -16", lesson="l1")["id"]
    dup = _api("f-newbie", "POST", v1 + f"courses/{SLUG}/threads",
               title=f"square of negative numbers {LONG} is wrong", body="Same as everyone?")["id"]
    rude = _api("f-bob", "POST", v1 + f"threads/{original}/posts", body=f"Read the docs, {LONG}!")["id"]
    _api("f-teacher", "POST", v1 + f"threads/{original}/posts", body="Use `(-4) ** 2`: `-4 ** 2` is `-(4 ** 2)`.")
    anon = _api("f-newbie", "POST", v1 + f"threads/{original}/posts", body="I had that too", anonymous=True)["id"]
    _api("f-ann", "POST", v1 + f"posts/{anon}/report", reason=f"Off topic {LONG}")
    _api("f-ann", "POST", v1 + f"posts/{rude}/report", reason="Rude")

    def context(who):
        return browser.new_context(viewport={"width": width, "height": 900},
                                   extra_http_headers={"Authorization": f"token {who}"})

    def visit(page, name, path):
        response = page.goto(base + path)
        assert response.status == 200, (name, response.status)
        for details in page.locator("details.post-form").all():
            details.evaluate("d => d.open = true")  # the screenshots show the forms too
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate(OVERFLOW_JS)
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width} px"

    staff = context("f-teacher")
    page = staff.new_page()
    try:
        visit(page, "moderation-queue", f"courses/{SLUG}/forum/moderation")
        page.goto(base + f"courses/{SLUG}/forum/moderation")
        item = page.locator(f'[data-report-post="{rude}"]')
        item.locator("input[name=reason]").fill("Rude to a classmate")
        item.get_by_role("button", name="Hide from students").click()
        page.wait_for_load_state()
        assert "The post is hidden from students." in page.inner_text("body")
        page.goto(base + f"forum/threads/{dup}")
        page.get_by_text("Mark as duplicate…").click()
        page.fill("#dup-of", f"#{original}")
        page.get_by_role("button", name="Mark as duplicate").click()
        page.wait_for_load_state()
        assert "This thread is a duplicate of" in page.inner_text("#duplicate-of")
        visit(page, "thread-duplicate-staff", f"forum/threads/{dup}")
        visit(page, "thread-staff", f"forum/threads/{original}")
        assert page.locator(f"#post-{rude}.is-hidden").count() == 1
        page.goto(base + f"courses/{SLUG}/forum/moderation?post={rude}")
        page.fill("#s-days", "3")
        page.fill("#s-reason", "Rude to classmates, twice.")
        page.get_by_role("button", name="Suspend", exact=True).click()
        page.wait_for_load_state()
        assert page.locator("[data-suspension]").count() == 1
        visit(page, "moderation-suspensions", f"courses/{SLUG}/forum/moderation")
        visit(page, "list-staff", f"courses/{SLUG}/forum")
    finally:
        staff.close()

    student = context("f-ann")
    page = student.new_page()
    try:
        visit(page, "list-student", f"courses/{SLUG}/forum")
        visit(page, "thread-student", f"forum/threads/{original}")
        assert page.locator(f"#post-{rude}").count() == 0  # hidden, nothing under it
        assert "Asked again in" in page.inner_text("#duplicates")
        page.select_option("#level-thread", "muted")
        page.locator("form.forum-level").get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        assert page.locator("#level-thread").input_value() == "muted"
        page.goto(base + f"courses/{SLUG}/forum")
        assert page.locator(f'[data-thread="{original}"]').count() == 0
        page.click("#show-muted")
        page.wait_for_load_state()
        assert page.locator(f'[data-thread="{original}"]').count() == 1
        visit(page, "list-student-muted", f"courses/{SLUG}/forum?muted=1")
    finally:
        student.close()

    suspended = context("f-bob")
    page = suspended.new_page()
    try:
        visit(page, "thread-suspended", f"forum/threads/{original}")
        assert "You are suspended from the Q&A" in page.inner_text("#suspended")
        assert page.locator("#reply-form").count() == 0
    finally:
        suspended.close()

    admin = context("f-admin")
    page = admin.new_page()
    try:
        visit(page, "admin-reports", "forum/moderation")
        assert page.locator(f'[data-report-post="{anon}"]').count() == 1
    finally:
        admin.close()
    print(f"screenshots in {shots}")
