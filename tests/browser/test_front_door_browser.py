"""The front door in real Chromium at desktop and phone widths: the catalog at `/`, sign-up with
its messages and then logged in, the lesson page with its notebook and policy, the hub's pages in
the platform's layout, logout back to the catalog. No page scrolls sideways."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FREE, POLICY_LESSON = "python-for-beginners", "05-functions"


def no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


@pytest.mark.parametrize("width", [1280, 390])
def test_front_door_in_chromium(browser, sqlite_platform, width):
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(60_000)
    shot = lambda name: page.screenshot(path=str(ARTIFACTS / f"front-door-{name}-{width}.png"), full_page=True)  # noqa: E731

    page.goto(p.url + "/")
    expect(page.locator(f'a.card[data-slug="{FREE}"]').first).to_be_visible()
    assert page.url == p.lms
    no_sideways_scroll(page, width)

    page.goto(f"{p.lms}courses/{FREE}")
    page.click("#signup")
    expect(page.locator("h1")).to_have_text("Create your account")
    name = f"walker{width}"
    page.fill("#email_input", f"{name}@example")  # no domain: refused with the reason
    page.fill("#display_name_input", "Wanda Walker")
    page.fill("#username_input", name)
    page.fill("#password_input", "wander-far-and-wide-7")
    page.fill("#password_confirmation_input", "wander-far-and-wide-7")
    page.click("#signup_submit")
    expect(page.locator("#signup-errors")).to_contain_text("Enter your email address")
    expect(page.locator("#display_name_input")).to_have_value("Wanda Walker")  # kept for the retry
    no_sideways_scroll(page, width)
    shot("signup-errors")
    page.fill("#email_input", f"{name}@example.org")
    page.fill("#password_input", "wander-far-and-wide-7")
    page.fill("#password_confirmation_input", "wander-far-and-wide-7")
    page.click("#signup_submit")
    expect(page.locator(".who")).to_have_text("Wanda Walker")  # logged in, back on the course page
    expect(page.locator("h1").first).to_have_text("Python for Beginners")

    page.click("#enroll")  # right after the sign-up, with the bell's live stream open on the page
    expect(page.locator(".buybox .ok")).to_contain_text("enrolled")
    # the bell's stream is signed in through the real hub (its xsrf token in the URL): an unread count
    unread = page.evaluate("""() => new Promise((resolve, reject) => {
        const source = new EventSource(document.getElementById('notif-bell').dataset.stream);
        source.addEventListener('unread', e => { source.close(); resolve(JSON.parse(e.data).unread); });
        source.onerror = () => { source.close(); reject(new Error('the notification stream refused')); };
    })""")
    assert unread == 0
    page.goto(f"{p.lms}courses/{FREE}/lessons/{POLICY_LESSON}")
    expect(page.locator("#lesson-notebook")).to_contain_text("Functions")
    expect(page.locator("#policy-attempts")).to_contain_text("0 of 5 used")
    expect(page.locator("#policy-deadline")).to_contain_text("2027-06-30 23:59 UTC")
    expect(page.locator("#policy-cooldown")).to_contain_text("30 s between submissions")
    expect(page.locator("#open-lesson")).to_be_visible()
    no_sideways_scroll(page, width)
    page.screenshot(path=str(ARTIFACTS / f"front-door-lesson-{width}.png"))

    page.goto(f"{p.url}/hub/nonexistent")
    expect(page.locator("#hub-error h1")).to_have_text("404")
    expect(page.locator("header.topbar .who")).to_have_text("Wanda Walker")
    no_sideways_scroll(page, width)
    shot("hub-404")

    page.goto(f"{p.lms}my-learning")
    if page.locator("#nav-toggle").is_visible():  # a phone: the header's links are under Menu
        page.click("#nav-toggle")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.url == p.lms
    page.click("#login")
    expect(page.locator("#login_submit")).to_be_visible()
    no_sideways_scroll(page, width)
    shot("login")
    page.close()
