"""The admin console and the instructor's studio on a phone (390 px), in real Chromium on the real
platform: every console section and every studio tab opens without sideways page scroll (a wide
table scrolls inside its own box), the Refunds section sits inside the console with its nav entry
marked, and the site header is one row whose Menu button opens the links, by mouse and by
keyboard, and the links work."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHONE = {"width": 390, "height": 844}
OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def sign_in(browser, p, name: str):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{p.url}/hub/login?next=/services/lms/my-learning")
    page.fill("#username_input", name)
    page.fill("#password_input", p.demo_password)
    page.click("#login_submit")
    expect(page).to_have_url(f"{p.lms}my-learning")
    return context, page


def fits(page, name: str) -> None:
    """200, no sideways scroll of the page, the header one row; a screenshot for people to look at."""
    page.wait_for_load_state("load")
    overflow = page.evaluate(OVERFLOW_JS)
    page.screenshot(path=str(ARTIFACTS / f"narrow-{name}.png"), full_page=True)
    assert overflow <= 0, f"{name} ({page.url}) scrolls sideways by {overflow}px at 390 px"
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= 70, f"{name}: the header is {header['height']}px tall (wrapped) at 390 px"


def hrefs(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.href)")


def test_every_console_section_fits_a_phone(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context, page = sign_in(browser, p, "admin")
    assert page.goto(f"{p.lms}admin").status == 200
    sections = hrefs(page, "nav.console-nav a")
    assert len(sections) >= 15 and f"{p.lms}refunds" in sections, sections
    for url in sections:
        response = page.goto(url)
        path = urlparse(url).path.removeprefix("/services/lms/")
        assert response.status == 200, path
        current = page.locator('nav.console-nav a[aria-current="page"]')
        expect(current).to_have_count(1)
        assert current.get_attribute("href") == urlparse(url).path, f"{path}: the console marks another section"
        # the marked section is scrolled into the phone's view of the console's nav row
        box = current.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, f"{path}: {box}"
        fits(page, "console-" + path.replace("/", "-"))
    # Refunds is a console section like the others: its heading and an empty state that says so
    page.goto(f"{p.lms}refunds")
    expect(page.locator("section.console-body h1")).to_have_text("Refund requests")
    expect(page.locator('nav.console-nav a[aria-current="page"]')).to_have_text("Refunds")
    expect(page.locator("section.console-body .empty")).to_contain_text("Nothing waits for a decision")
    context.close()


def test_every_studio_tab_fits_a_phone(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context, page = sign_in(browser, p, "instructor")
    assert page.goto(f"{p.lms}teach").status == 200
    fits(page, "studio-courses")
    courses = [u for u in hrefs(page, "main a[href*='/teach/courses/']") if not u.endswith("/new")]
    assert courses, "the demo instructor's studio lists no course"
    page.goto(courses[0])
    tabs = [u for u in hrefs(page, "nav.studio-nav a") if "/teach/courses/" in u]
    assert len(tabs) >= 7, tabs
    for url in tabs + [f"{p.lms}teach/courses/new"]:
        response = page.goto(url)
        path = urlparse(url).path.removeprefix("/services/lms/")
        assert response.status == 200, path
        fits(page, "studio-" + path.replace("/", "-"))
    context.close()
    # a student's way in: the application form
    context, page = sign_in(browser, p, "student")
    assert page.goto(f"{p.lms}teach/apply").status == 200
    fits(page, "teach-apply")
    # refund decisions are not a student's: a page that says so, not an empty "your courses" list
    assert page.goto(f"{p.lms}refunds").status == 403
    expect(page.locator("main")).to_contain_text("decided by the course's instructor or an admin")
    context.close()


def test_the_header_menu_opens_and_its_links_work(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context, page = sign_in(browser, p, "admin")
    toggle = page.locator("#nav-toggle")
    admin_link = page.locator("#admin-link")
    # one row: the logo, the name and the Menu button; the links are folded away
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(admin_link).to_be_hidden()
    fits(page, "header-closed")

    # by mouse: every link shows inside the screen, and one of them goes where it says
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    links = page.locator("#site-nav a")
    assert links.count() >= 12
    for i in range(links.count()):
        expect(links.nth(i)).to_be_visible()
        box = links.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (links.nth(i).inner_text(), box)
    page.screenshot(path=str(ARTIFACTS / "narrow-header-open.png"))
    admin_link.click()
    expect(page).to_have_url(f"{p.lms}admin")
    expect(page.locator("section.console-body h1")).to_have_text("Admin console")

    # by keyboard: Enter opens it with the first link focused, Tab walks the links, Escape closes
    # it and gives the focus back to the button
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Catalog"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "My learning"
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(admin_link).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "nav-toggle"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # follows "My learning"
    expect(page).to_have_url(f"{p.lms}my-learning")

    # a click outside closes it; Log out from the menu signs out
    toggle.click()
    page.mouse.click(20, PHONE["height"] - 10)  # below the open menu
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    # a visitor's header: the logo, Log in and Sign up, in one row
    expect(page.locator("#signup")).to_be_visible()
    fits(page, "header-visitor")
    context.close()

    # a student has fewer links and the same menu
    context, page = sign_in(browser, p, "student")
    expect(page.locator("#nav-toggle")).to_be_visible()
    page.click("#nav-toggle")
    page.click("#site-nav a:has-text('Purchases')")
    expect(page).to_have_url(f"{p.lms}purchases")
    fits(page, "header-student")
    context.close()


def test_hub_pages_share_the_compact_header(browser, sqlite_platform):
    """The hub's own pages (login, sign-up, home, token) wear the same header: one row at 390 px,
    the signed-in links under the Menu button, Log out reachable."""
    p = sqlite_platform
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    visitor = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = visitor.new_page()
    for path in ("login", "signup"):
        assert page.goto(f"{p.url}/hub/{path}").status == 200
        fits(page, f"hub-{path}")
    visitor.close()
    context, page = sign_in(browser, p, "student")
    for path in ("home", "token"):
        assert page.goto(f"{p.url}/hub/{path}").status == 200
        fits(page, f"hub-{path}-signed-in")
    expect(page.locator("#logout")).to_be_hidden()
    page.click("#nav-toggle")
    expect(page.locator("#profile-link")).to_have_attribute("href", "/services/lms/profile")
    page.locator("#logout").click()
    expect(page.locator("#login").first).to_be_visible()  # signed out, wherever the hub sends us
    context.close()
