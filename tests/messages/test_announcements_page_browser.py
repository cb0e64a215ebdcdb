"""A course's announcements page in real Chromium at 1280 px and on a phone (390 px): reached
from the course page's "All announcements" and from the bell's notice (to its own announcement),
with every announcement (the course page shows three), and no sideways scroll."""
from __future__ import annotations

import pytest

from lms_extension.db import session_factory
from lms_extension.services import announcements
from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium)
from tests.identity import token_client as as_user

from .conftest import SLUG
from .test_browser import LONG, fits, shoot


@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_announcements_page_in_chromium(served, browser, width, tmp_path):  # noqa: F811
    base, engine = served
    ids = []
    for n in range(5):
        r = as_user("m-teacher").post(base + f"api/v1/courses/{SLUG}/announcements", timeout=30, json={
            "title": f"Week {n + 1}: {LONG if n == 0 else 'plan'}",
            "body": f"Lesson {n + 1} is due **Friday**.\n\n```python\nsquare(-4)  # {LONG}\n```"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        announcements.fan_out(session_factory(engine), ids[-1])
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers={"Authorization": "token m-ann"})
    try:
        page = context.new_page()
        page.goto(base + f"courses/{SLUG}")
        assert page.locator(".course-announcements article").count() == 3
        page.get_by_role("link", name="All announcements").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Announcements"
        assert page.locator("article.announcement").count() == 5
        assert page.locator(f"#announcement-{ids[0]} strong").inner_text() == "Friday"
        fits(page, "announcements", width)
        shoot(page, tmp_path, f"announcements-{width}")
        # the oldest one's notice leads to it, though the course page no longer shows it
        bell = as_user("m-ann").get(base + "api/v1/me/notifications", timeout=30).json()["notifications"]
        oldest = next(n for n in bell if n["url"].endswith(f"#announcement-{ids[0]}"))
        assert "**" not in oldest["body"]
        page.goto(base + oldest["url"])
        assert page.locator(f"#announcement-{ids[0]}").is_visible()
    finally:
        context.close()
