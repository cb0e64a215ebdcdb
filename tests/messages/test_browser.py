"""The messages pages in real Chromium at 1280 px and on a phone (390 px): no sideways scroll,
even with a long word, a wide code block and a long course title; a student writes to the staff
from the course page by clicking, the instructor sees the header's count and answers; blocking
from the conversation page."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium)
from tests.identity import token_client as as_user

from .conftest import SLUG

OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
LONG = "Supercalifragilisticexpialidocious" * 4
SHOTS = Path(os.environ.get("LMS_TEST_SHOTS", "")) if os.environ.get("LMS_TEST_SHOTS") else None


def shoot(page, tmp_path, name: str) -> None:
    folder = SHOTS or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def fits(page, what: str, width: int) -> None:
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow <= 0, f"{what} scrolls sideways by {overflow}px at {width} px"


@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_messages_pages_fit_and_work_in_chromium(served, browser, width, tmp_path):  # noqa: F811
    base, _ = served
    as_user("m-teacher").put(base + f"api/v1/courses/{SLUG}/messaging", json={"students_may_message": True})
    as_user("m-bob").post(base + "api/v1/me/conversations", timeout=30, json={
        "course": SLUG, "to": "m-ann", "body": f"Hi Ann, {LONG}\n\n```python\nresult = [square(x) for x in "
                                               f"range(-1000, 1000) if x % 7 == 0 and x != 0]  # {LONG}\n```"})
    student = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers={"Authorization": "token m-ann"})
    teacher = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers={"Authorization": "token m-teacher"})
    try:
        page = student.new_page()
        page.goto(base + f"courses/{SLUG}")
        page.click("#message-staff")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text().startswith("New message in")
        fits(page, "compose", width)
        page.fill("#m-body", "Is lesson 1 **graded** on negative numbers?\n\n```python\nsquare(-4)\n```")
        page.get_by_role("button", name="Preview").click()
        assert page.locator("#preview strong").inner_text() == "graded"
        shoot(page, tmp_path, f"compose-{width}")
        page.get_by_role("button", name="Send", exact=True).click()
        page.wait_for_load_state()
        assert page.locator(".msg.mine").count() == 1
        shoot(page, tmp_path, f"conversation-student-{width}")
        fits(page, "conversation", width)
        page.goto(base + "messages")
        assert page.locator("#conversations li").count() == 2
        assert page.locator("#messages-count").inner_text() == "1"  # Bob's message, unread
        shoot(page, tmp_path, f"inbox-student-{width}")
        fits(page, "inbox", width)

        staff = teacher.new_page()
        staff.goto(base + f"teach/courses/{SLUG}/roster")
        assert staff.locator("#messages-count").inner_text() == "1" and staff.locator("#messages-link").is_visible()
        shoot(staff, tmp_path, f"roster-{width}")
        staff.goto(base + "messages")
        shoot(staff, tmp_path, f"inbox-teacher-{width}")
        staff.locator("#conversations a.msg-title").first.click()
        staff.wait_for_load_state()
        assert "graded" in staff.locator(".msg").last.inner_text()
        staff.fill("#m-body", "Yes: `square(-4)` must be **16**.")
        staff.get_by_role("button", name="Send", exact=True).click()
        staff.wait_for_load_state()
        assert staff.locator(".msg.mine").count() == 1
        shoot(staff, tmp_path, f"conversation-teacher-{width}")
        fits(staff, "conversation (staff)", width)
        staff.goto(base + f"courses/{SLUG}/messages/settings")
        shoot(staff, tmp_path, f"settings-{width}")
        fits(staff, "settings", width)

        # the classmate's conversation: Ann blocks Bob from it
        page.goto(base + "messages")
        page.locator("#conversations a.msg-title", has_text="Bob").click()
        page.wait_for_load_state()
        fits(page, "conversation with a wide code block", width)
        page.get_by_role("button", name="Block Bob").click()
        page.wait_for_load_state()
        assert "You blocked Bob" in page.locator("#message").inner_text()
        assert page.locator("#reply-form").count() == 0
        shoot(page, tmp_path, f"conversation-blocked-{width}")
        page.goto(base + "messages/blocked")
        shoot(page, tmp_path, f"blocked-{width}")
        fits(page, "blocked", width)
    finally:
        student.close()
        teacher.close()
