"""The Q&A pages in real Chromium at 1280 px and on a phone (390 px): no sideways scroll, even
with a long title, a long word and a wide code block; the asker accepts an answer by clicking."""
from __future__ import annotations

import pytest

from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium)
from tests.identity import token_client as as_user

from .conftest import SLUG

OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
LONG = "Supercalifragilisticexpialidocious" * 4


@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_forum_pages_fit_and_work_in_chromium(served, browser, width, tmp_path):  # noqa: F811
    base, _ = served
    r = as_user("f-ann").post(base + f"api/v1/courses/{SLUG}/threads", json={
        "title": f"Why does {LONG} fail in lesson one when the numbers are negative?", "lesson": "l1",
        "body": f"{LONG}\n\n```python\nresult = [square(x) for x in range(-1000, 1000) if x % 7 == 0 and x != 0]  # {LONG}\n```\n\n| a | b | c | d | e | f |\n|---|---|---|---|---|---|\n| {LONG} | 2 | 3 | 4 | 5 | 6 |"},
        timeout=30)
    tid = r.json()["id"]
    as_user("f-teacher").post(base + f"api/v1/threads/{tid}/posts", json={"body": "Use `x * x`."}, timeout=30)
    as_user("f-bob").post(base + f"api/v1/threads/{tid}/posts", json={"body": "Same here", "anonymous": True})
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers={"Authorization": "token f-ann"})
    page = context.new_page()
    try:
        for name, path in [("list", f"courses/{SLUG}/forum"), ("new", f"courses/{SLUG}/forum/new"),
                           ("thread", f"forum/threads/{tid}"), ("lesson", f"courses/{SLUG}/lessons/l1")]:
            response = page.goto(base + path)
            assert response.status == 200, (name, response.status)
            page.screenshot(path=str(tmp_path / f"forum-{name}-{width}.png"), full_page=True)
            overflow = page.evaluate(OVERFLOW_JS)
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width} px"
        page.goto(base + f"forum/threads/{tid}")
        page.get_by_role("button", name="Accept answer").first.click()
        page.wait_for_load_state()
        assert page.locator(".forum-post.accepted").count() == 1
        assert page.locator(".forum-post.accepted .post-author").inner_text() == "f-teacher"
        page.fill("#r-body", "Thanks, **that** works")
        page.get_by_role("button", name="Preview").click()
        assert page.locator("#preview strong").inner_text() == "that"
        page.get_by_role("button", name="Post", exact=True).click()
        page.wait_for_load_state()
        assert "Thanks, that works" in page.locator(".forum-post").last.inner_text()
        assert page.evaluate(OVERFLOW_JS) <= 0
    finally:
        context.close()
    print(f"screenshots in {tmp_path}")
