"""The storefront and the learner's pages on a phone (390 px wide) in real Chromium: nothing
scrolls sideways and every action on the page can be reached."""
from pathlib import Path

import requests
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "mobile"
FREE = "python-for-beginners"
PAID = "data-analysis-with-pandas"
WIDTH = 390

OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || style.visibility === 'hidden' || style.display === 'none') return false;
    // inside a box that scrolls on its own (a wide table, code) is fine
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return false;
    }
    return r.right > width + 1 || r.left < -1;
  }).slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                      (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''));
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""


def check_fits(page, name: str, actions: list[str]) -> None:
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    found = page.evaluate(OVERFLOW_JS)
    assert found["scroll"] <= found["width"] and not found["wide"], f"{name} scrolls sideways at {WIDTH} px: {found}"
    for selector in actions:
        action = page.locator(selector).first
        expect(action).to_be_visible()
        action.scroll_into_view_if_needed()
        box = action.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + 1, f"{name}: {selector} is off screen: {box}"


def test_pages_fit_a_phone(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    signed_up = requests.Session()
    assert p.signup("phone", "phone-secret-77", display_name="Pat Phone", session=signed_up).ok
    token = p.token("phone")
    p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").raise_for_status()
    lesson = requests.get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"][0]["id"]
    context = browser.new_context(viewport={"width": WIDTH, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(60_000)

    page.goto(p.lms)  # a visitor first
    check_fits(page, "catalog-visitor", ["a.card", 'button:has-text("Search")'])
    page.goto(f"{p.lms}courses/{PAID}")
    check_fits(page, "course-visitor", ["h1"])

    context.add_cookies([{"name": c.name, "value": c.value, "url": p.url} for c in signed_up.cookies])
    page.goto(p.lms)
    check_fits(page, "catalog", ["a.card"])
    page.goto(f"{p.lms}courses/{FREE}")
    check_fits(page, "course-enrolled", ["#resume"])
    page.goto(f"{p.lms}courses/{FREE}/lessons/{lesson}")
    check_fits(page, "lesson", ['a[href*="lms/open"]'])
    page.goto(f"{p.lms}courses/{PAID}")
    check_fits(page, "course-paid", ["#buy"])
    page.click("#buy")
    expect(page.locator("#pay")).to_be_visible()
    check_fits(page, "checkout", ["#country", "#coupon", "#apply", "#pay"])
    page.goto(f"{p.lms}purchases")
    check_fits(page, "purchases", [])
    page.goto(f"{p.lms}my-learning")
    check_fits(page, "my-learning", [f'[data-slug="{FREE}"] a.btn'])
    context.close()
