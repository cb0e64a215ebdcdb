"""The studio in real Chromium at 1280 and 390 px: the live Markdown preview (teach.js) renders as
the course page does and runs nothing hostile; a refused form keeps what was typed; the new-course,
editor and lessons pages never scroll sideways on a phone."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser  # noqa: F401  (the fixture)
from tests.browser.test_mobile import OVERFLOW_JS

from .conftest import NB

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "teach"
HOSTILE = "**bold** <script>window.pwned=1</script> <img src=x onerror=\"window.pwned=2\"> [x](javascript:window.pwned=3)"


def fits(page, name: str, width: int) -> None:
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    found = page.evaluate(OVERFLOW_JS)
    assert found["scroll"] <= found["width"] and not found["wide"], f"{name} scrolls sideways at {width} px: {found}"


@pytest.mark.parametrize("width", [1280, 390])
def test_studio_in_chromium(browser, studio, width, tmp_path):  # noqa: F811
    base, hub, factory, _ = studio
    hub.user(f"browser-teacher-{width}", instructor=True)
    context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=width < 600,
                                  extra_http_headers={"Authorization": f"token tok-browser-teacher-{width}"})
    page = context.new_page()
    page.set_default_timeout(30_000)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base + "teach/courses/new")
    fits(page, "new-course", width)
    slug = f"browser-course-{width}"
    page.fill("#slug", slug)
    page.fill("#title", "Course made in a browser")
    page.fill("#category", "Programming")
    page.fill("#description", HOSTILE)
    expect(page.locator("#description-preview strong")).to_have_text("bold")  # the live preview
    for hostile in ("script", "img", "[onerror]", "a[href^='javascript']"):
        assert page.locator(f"#description-preview {hostile}").count() == 0, hostile
    assert page.evaluate("window.pwned") is None and not dialogs
    page.fill("#price", "twelve")
    page.click("#create-course")
    expect(page.locator("#course-error")).to_contain_text("Price")
    assert page.input_value("#title") == "Course made in a browser" and page.input_value("#price") == "twelve"
    fits(page, "new-course-refused", width)
    page.fill("#price", "12.50")
    page.click("#create-course")
    page.wait_for_url(f"**/teach/courses/{slug}/lessons")
    nb = tmp_path / "lesson.ipynb"
    nb.write_text(json.dumps(NB))
    page.fill("#lesson-key", "01-squares")
    page.set_input_files("#lesson-notebook", str(nb))
    page.click("#add-lesson-button")
    expect(page.locator("#lesson-01-squares")).to_contain_text("Squares")
    fits(page, "lessons", width)
    page.click("#publish")
    expect(page.locator("#lesson-01-squares")).to_contain_text("Published")
    page.goto(base + f"teach/courses/{slug}")
    expect(page.locator("#description-preview strong")).to_have_text("bold")
    fits(page, "editor", width)
    page.goto(base + "teach")
    fits(page, "dashboard", width)
    assert page.evaluate("window.pwned") is None and not dialogs
    context.close()
