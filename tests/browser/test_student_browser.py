"""The student path in real Chromium: browse, sign up, log in, enroll, open a lesson in JupyterLab."""
from pathlib import Path

from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FREE = "python-for-beginners"


def test_student_path_in_chromium(browser, sqlite_platform):
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)

    # a visitor browses the catalog and a course page
    page.goto(p.lms)
    expect(page.locator(f'a.card[data-slug="{FREE}"]').first).to_be_visible()  # a shelf may show it too
    page.screenshot(path=str(ARTIFACTS / "catalog.png"), full_page=True)
    page.select_option('select[name="level"]', "beginner")
    page.click('button:has-text("Search")')
    expect(page.locator(f'a.card[data-slug="{FREE}"]').first).to_be_visible()  # a shelf may show it too
    page.click(f'a.card[data-slug="{FREE}"]')
    expect(page.locator("h1")).to_have_text("Python for Beginners")

    # sign up from the course page: logged in at once, back on the course page
    page.click("#signup")
    page.fill("#email_input", "brownie@example.org")
    page.fill("#display_name_input", "Brownie Baker")
    page.fill("#username_input", "brownie")
    page.fill("#password_input", "brownie-secret-77")
    page.fill("#password_confirmation_input", "brownie-secret-77")
    page.click("#signup_submit")
    expect(page.locator(".who")).to_have_text("Brownie Baker")  # back on the LMS, logged in
    expect(page.locator("h1")).to_have_text("Python for Beginners")

    # enroll in the free course and start the first lesson
    page.goto(f"{p.lms}courses/{FREE}")
    page.click("#enroll")
    expect(page.locator(".buybox .ok")).to_contain_text("enrolled")
    page.click("#resume")
    # one click: the hub starts the sandboxed server, the extension places the notebook,
    # JupyterLab opens it
    notebook = page.locator(".jp-NotebookPanel")
    expect(notebook).to_be_visible(timeout=120_000)
    expect(page.locator(".jp-MainAreaWidget .jp-Cell").first).to_be_visible(timeout=60_000)
    assert "/tree/courses/python-for-beginners/" in page.url
    page.wait_for_timeout(1500)
    shot = ARTIFACTS / "student-lesson-in-jupyterlab.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    # "My learning" shows the course with progress and where to continue
    page.goto(f"{p.lms}my-learning")
    row = page.locator(f'.learning-row[data-slug="{FREE}"]')
    expect(row).to_contain_text("1 started")  # progress: the opened lesson counts as started
    expect(row.locator("a.btn")).to_contain_text("Continue")
    page.screenshot(path=str(ARTIFACTS / "my-learning.png"))
    p.stop_server("brownie")
