"""JupyterLab's Course sidebar and Submit button (labextension/) in real Chromium on the real
platform: open a lesson from the course page, see the syllabus and the lesson's policy, submit,
see the score and per-exercise feedback by title, meet the cooldown, go to the next lesson."""
import json
import re
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import COURSES

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FREE, LESSON, NEXT = "python-for-beginners", "05-functions", "06-dictionaries"
NAME, PASSWORD = "panelist", "panelist-secret-88"
LABEXT = Path(__file__).resolve().parents[2] / "lms_extension" / "labextension" / "package.json"


def logged_in_context(browser, p, viewport):
    """A browser context with the hub's login cookies of a newly signed-up student."""
    p.signup(NAME, PASSWORD)
    session = p.login(NAME, PASSWORD)
    context = browser.new_context(viewport=viewport)
    context.add_cookies([{"name": c.name, "value": c.value, "url": p.url} for c in session.cookies])
    return context


def set_policy(p, course: str, lesson: str, policy: dict) -> None:
    """What the instructor's lesson settings do: a new policy for one lesson (product code, the
    platform's own database)."""
    from sqlalchemy import select

    from lms_extension.db import make_engine, session_factory
    from lms_extension.models import Course, Lesson
    from lms_extension.services import policies

    engine = make_engine(p.env.get("LMS_DB_URL") or f"sqlite:///{p.data_dir / 'lms.sqlite'}")
    with session_factory(engine)() as session:
        row = session.scalars(select(Lesson).join(Course).where(Course.slug == course, Lesson.key == lesson)).one()
        policies.apply(session, row, policies.parse_policy(policy, f"{course}/{lesson}"))
        session.commit()
    engine.dispose()


def no_horizontal_scroll(page, selector):
    return page.eval_on_selector(selector, "el => el.scrollWidth <= el.clientWidth + 1")


def test_course_sidebar_submit_and_next_lesson(browser, sqlite_platform):
    if not LABEXT.exists():
        pytest.fail(f"{LABEXT} missing: `make frontend` builds the JupyterLab extension")
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    context = logged_in_context(browser, p, {"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)

    # logged in at the hub: the LMS's Log in completes without a form; enroll from the course page
    page.goto(f"{p.lms}login?next=/services/lms/courses/{FREE}")
    expect(page.locator(".who")).to_be_visible()
    page.click("#enroll")
    expect(page.locator(".buybox .ok")).to_contain_text("enrolled")

    # the student's work: their server holds the lesson with the exercises solved
    token = p.token(NAME)
    p.start_server(NAME)
    api = requests.Session()
    api.headers["Authorization"] = f"token {token}"
    base = f"{p.url}/user/{NAME}/"
    assert api.get(base + "lms/open", params={"course": FREE, "lesson": LESSON},
                   allow_redirects=False).status_code == 302
    solved = json.loads((COURSES / FREE / "lessons" / f"{LESSON}.ipynb").read_text())
    assert api.put(base + f"api/contents/courses/{FREE}/{LESSON}.ipynb", json={
        "type": "notebook", "format": "json", "content": solved}).status_code == 200

    # the course's instructor posts an announcement: the sidebar shows it (as text, never as HTML)
    teacher = requests.Session()
    teacher.headers["Authorization"] = f"token {p.token('instructor')}"
    posted = teacher.post(p.lms + f"api/v1/courses/{FREE}/announcements", json={
        "title": "Office hours moved", "body": "Now on **Thursdays** <img src=x onerror=alert(1)>"})
    assert posted.status_code == 201, posted.text

    # open the lesson from the course page's syllabus: JupyterLab with the Course sidebar
    pings = []
    page.on("request", lambda r: pings.append(r.post_data or "")
            if r.method == "POST" and "/lms/activity?" in r.url + "?" else None)
    page.goto(f"{p.lms}courses/{FREE}")
    page.click(f'.syllabus a[href*="lesson={LESSON}"]')
    expect(page.locator(".jp-NotebookPanel")).to_be_visible(timeout=120_000)
    assert f"/tree/courses/{FREE}/{LESSON}.ipynb" in page.url
    # the extension tells the server which notebook is in use (learning time counts from that)
    page.mouse.move(400, 300)
    page.wait_for_function("() => true")
    deadline = time.monotonic() + 30
    while not any(f"courses/{FREE}/{LESSON}.ipynb" in body for body in pings) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert any(f"courses/{FREE}/{LESSON}.ipynb" in body for body in pings), pings
    panel = page.locator("#lms-course-panel")
    expect(panel).to_be_visible()
    expect(panel.locator(".jp-LMS-course-title")).to_have_text("Python for Beginners")
    expect(panel.locator(".jp-LMS-lesson-title")).to_have_text("Functions")
    expect(panel.locator(".jp-LMS-row")).to_have_count(7)
    expect(panel.locator(".jp-LMS-row.jp-LMS-current")).to_contain_text("Functions")
    expect(panel.locator(".jp-LMS-attempts")).to_have_text("0 of 5 used, 5 left")
    expect(panel.locator(".jp-LMS-late")).to_contain_text("10% per started day")
    expect(panel.locator(".jp-LMS-deadline")).to_contain_text("2027")
    expect(panel.locator(".jp-LMS-announcement").first).to_contain_text("Office hours moved")
    expect(panel.locator(".jp-LMS-announcement").first).to_contain_text("Now on Thursdays")
    expect(panel.locator(".jp-LMS-announcement img")).to_have_count(0)
    expect(panel.locator(".jp-LMS-course-link")).to_have_attribute("href", re.compile(rf"/services/lms/courses/{FREE}$"))
    expect(panel.locator(".jp-LMS-qa-link")).to_have_attribute(
        "href", re.compile(rf"/services/lms/courses/{FREE}/forum\?lesson={LESSON}$"))
    page.screenshot(path=str(ARTIFACTS / "lab-course-panel.png"))

    # Submit on the notebook toolbar: the score and each exercise by its heading, in the sidebar
    page.locator(".jp-NotebookPanel-toolbar .jp-LMS-submit-toolbar").first.click()
    score = panel.locator(".jp-LMS-result .jp-LMS-score")
    expect(score).to_have_text(re.compile(r"^\d+ / 9 points$"), timeout=180_000)
    parts = panel.locator(".jp-LMS-part-title")
    expect(parts.first).to_have_text("Exercise 1 - Temperature conversion")
    assert "fahrenheit" not in panel.inner_text()  # no grade ids
    expect(panel.locator(".jp-LMS-manual .jp-LMS-part-note")).to_have_text("graded by your instructor")
    expect(panel.locator(".jp-LMS-attempts")).to_have_text("1 of 5 used, 4 left")
    page.screenshot(path=str(ARTIFACTS / "lab-course-panel-graded.png"))

    # again at once, from the command palette: the 30 s cooldown, said kindly with the wait
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Submit Lesson for Grading")
    page.keyboard.press("Enter")
    expect(panel.locator(".jp-LMS-notice.jp-LMS-warn")).to_contain_text(re.compile(r"submit again in \d+ s"))
    expect(panel.locator(".jp-LMS-submit")).to_be_disabled()
    expect(panel.locator(".jp-LMS-cooldown")).to_contain_text("next submission in")
    assert no_horizontal_scroll(page, "#lms-course-panel")
    page.screenshot(path=str(ARTIFACTS / "lab-course-panel-cooldown.png"))

    # a phone-sized window, the file browser closed: the sidebar fits inside it, nothing scrolls sideways
    page.set_viewport_size({"width": 390, "height": 800})
    page.keyboard.press("Control+b")  # JupyterLab's Toggle Left Sidebar
    page.wait_for_timeout(800)
    assert no_horizontal_scroll(page, "#lms-course-panel")
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    page.screenshot(path=str(ARTIFACTS / "lab-course-panel-390.png"))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.keyboard.press("Control+b")

    # Next lesson: through the server's /lms/open (the LMS's own path), opened inside this
    # JupyterLab without a page load; the sidebar follows, the old lesson's cooldown stays behind
    page.evaluate("() => { window.__sameLab = true; }")
    panel.locator("a.jp-LMS-next").click()
    expect(page.locator("#lms-course-panel .jp-LMS-lesson-title")).to_have_text("Dictionaries", timeout=60_000)
    expect(page.locator("#lms-course-panel .jp-LMS-row.jp-LMS-current")).to_contain_text("Dictionaries")
    expect(page.locator(".jp-NotebookPanel:visible .jp-Cell").first).to_be_visible()
    assert page.evaluate("() => window.__sameLab === true"), "the next lesson reloaded JupyterLab"
    assert (api.get(base + f"api/contents/courses/{FREE}/{NEXT}.ipynb", params={"content": 0}).status_code == 200)
    expect(panel.locator(".jp-LMS-submit")).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "lab-course-panel-next.png"))

    # no attempts left (the instructor allows one, and it is used): Submit explains, never an error page
    # (and a long cooldown: out of attempts, the student is told so, never told to wait)
    set_policy(p, FREE, NEXT, {"max_attempts": 1, "cooldown_seconds": 600})
    assert api.post(base + "lms/api/submit", json={"path": f"courses/{FREE}/{NEXT}.ipynb"}).status_code == 202
    # the sidebar learns of that attempt and its cooldown (another tab and back)
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{LESSON}.ipynb").click()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{NEXT}.ipynb").click()
    expect(panel.locator(".jp-LMS-submit")).to_be_disabled()
    page.locator(".jp-NotebookPanel:visible .jp-NotebookPanel-toolbar .jp-LMS-submit-toolbar").first.click()
    refused = panel.locator(".jp-LMS-notice.jp-LMS-warn")
    expect(refused).to_contain_text("Not submitted", timeout=60_000)
    expect(refused).to_contain_text("attempt")
    expect(panel.locator(".jp-LMS-attempts")).to_have_text("1 of 1 used, 0 left")
    page.screenshot(path=str(ARTIFACTS / "lab-course-panel-no-attempts.png"))

    # the LMS's lesson page names the exercises the same way
    page.goto(f"{p.lms}courses/{FREE}/lessons/{LESSON}")
    expect(page.locator("td.exercise").first).to_have_text("Exercise 1 - Temperature conversion")
    assert "ex1-fahrenheit" not in page.locator("table.feedback").first.inner_text()
    context.close()
    p.stop_server(NAME)
