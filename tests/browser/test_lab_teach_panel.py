"""The instructor's Teach panel (labextension/src/instructor.ts) in real Chromium and JupyterLab on
the real platform: the demo instructor opens it, Validate lists the failing exercise of a broken
solution, Preview opens the student version, nbgrader's Create Assignment tool marks a cell the
grader then reads, the fix typed into the notebook is saved by Validate, and Publish of the fixed
source says which version students get."""
import json
import re
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LABEXT = Path(__file__).resolve().parents[2] / "lms_extension" / "labextension" / "package.json"
NAME, SLUG, LESSON = "instructor", "teach-panel-demo", "01-introduction"
NOTEBOOK = f"teach/{SLUG}/lessons/{LESSON}.ipynb"
GOOD = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
BROKEN = "def double(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"


def notebook(api, base):
    return api.get(base + f"api/contents/{NOTEBOOK}").json()["content"]


def set_solution(api, base, source):
    nb = notebook(api, base)
    next(c for c in nb["cells"] if (c["metadata"].get("nbgrader") or {}).get("grade_id") == "ex1-double")["source"] = source
    assert api.put(base + f"api/contents/{NOTEBOOK}", json={"type": "notebook", "format": "json",
                                                            "content": nb}).status_code == 200


def test_teach_panel_validate_preview_publish(browser, sqlite_platform):
    if not LABEXT.exists():
        pytest.fail(f"{LABEXT} missing: `make frontend` builds the JupyterLab extension")
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    token = p.token(NAME)
    p.start_server(NAME)
    api = requests.Session()
    api.headers["Authorization"] = f"token {token}"
    base = f"{p.url}/user/{NAME}/"
    # the instructor's source: a new course folder in their home, its course on the LMS, a broken solution
    assert api.post(base + "lms/api/teach/new-course", json={"course": SLUG, "title": "Teach panel demo"}).status_code == 201
    assert api.post(p.lms + "api/v1/teach/courses", json={"slug": SLUG, "title": "Teach panel demo",
                                                          "category": "Programming", "level": "beginner"}).status_code == 201
    set_solution(api, base, BROKEN)

    session = p.login(NAME, p.demo_password)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": c.name, "value": c.value, "url": p.url} for c in session.cookies])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(base + "lab")
    tab = page.locator('.lm-TabBar-tab[data-id="lms-teach-panel"]')
    expect(tab).to_be_visible(timeout=120_000)
    tab.click()
    panel = page.locator("#lms-teach-panel")
    course = panel.locator(f'section.jp-LMS-source[data-course="{SLUG}"]')
    expect(course.locator(".jp-LMS-source-title")).to_have_text("Teach panel demo")
    expect(course.locator("li[data-lesson]")).to_have_count(1)

    # Validate: the broken solution's exercise, by lesson and exercise title, with the assertion
    course.locator(".jp-LMS-validate").click()
    failing = panel.locator(".jp-LMS-report .jp-LMS-failing")
    expect(failing).to_have_count(1, timeout=180_000)
    expect(failing.locator(".jp-LMS-part-title")).to_have_text("Introduction: Exercise 1 - Double a number")
    expect(failing.locator(".jp-LMS-part-error")).to_contain_text("assert double(2) == 4")
    expect(panel.locator(":scope > .jp-LMS-notice.jp-LMS-warn")).to_contain_text("some checks fail")
    page.screenshot(path=str(ARTIFACTS / "lab-teach-validate.png"))

    # Preview as student: the release version opens in a tab of its own
    course.locator(f'li[data-lesson="{LESSON}"] .jp-LMS-preview').click()
    expect(panel.locator(":scope > .jp-LMS-notice")).to_contain_text("as a student gets it (read-only)")
    expect(page.locator(".lm-DockPanel .lm-TabBar-tab.lm-mod-current")).to_contain_text(f"{LESSON}.ipynb")
    shown = page.locator(".jp-NotebookPanel:visible")
    expect(shown.get_by_role("button", name=re.compile("Document is read-only"))).to_be_visible()
    expect(shown.locator(".jp-Notebook")).to_contain_text("Explain the idea here")
    # (JupyterLab renders the cells in view only: the whole file, as opened)
    released = json.dumps(api.get(base + f"api/contents/teach/_preview/{SLUG}/{LESSON}.ipynb").json()["content"])
    assert "raise NotImplementedError()" in released
    assert "return x + 1" not in released and "double(-3)" not in released

    # nbgrader's Create Assignment tool (enabled for instructors) marks the example cell read-only;
    # the grader reads what it wrote
    course.locator(f'li[data-lesson="{LESSON}"] a.jp-LMS-open').click()
    # the source, not the preview (whose example cell is the same): its solution is there
    expect(page.locator(".jp-NotebookPanel:visible .jp-Notebook")).to_contain_text("BEGIN SOLUTION")
    panel.locator(".jp-LMS-create-assignment").click()
    kinds = page.locator(".nbgrader-CreateAssignmentWidget .nbgrader-CellType select:visible")  # this notebook's
    expect(kinds.first).to_be_visible()
    kinds.nth(1).select_option("readonly")  # cell 2: the example
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while "nbgrader" not in notebook(api, base)["cells"][1]["metadata"] and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    example = notebook(api, base)["cells"][1]
    assert "nbgrader" in example["metadata"], example
    assert example["metadata"]["nbgrader"] == {**example["metadata"]["nbgrader"], "locked": True, "grade": False,
                                               "solution": False, "task": False, "schema_version": 3}
    assert example["metadata"]["nbgrader"]["grade_id"].startswith("cell-")

    # fixed in the notebook, not saved: Validate saves it first, passes; Publish names the version
    editor = page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(3).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(GOOD)
    tab.click()
    course.locator(".jp-LMS-validate").click()
    expect(panel.locator(":scope > .jp-LMS-notice")).to_contain_text("every test passes", timeout=180_000)
    expect(panel.locator(".jp-LMS-report .jp-LMS-failing")).to_have_count(0)
    assert "return 2 * x" in json.dumps(notebook(api, base))
    course.locator(".jp-LMS-publish").click()
    expect(panel.locator(":scope > .jp-LMS-notice")).to_have_text(
        "Published Teach panel demo. New for students: Introduction (version 1).", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "lab-teach-published.png"))
    served = api.get(p.lms + f"api/v1/courses/{SLUG}/lessons/{LESSON}/notebook")
    assert served.status_code == 200 and "2 * x" not in served.text

    # a phone-sized window: the panel fits, nothing scrolls sideways
    page.set_viewport_size({"width": 390, "height": 800})
    page.wait_for_timeout(800)
    assert page.eval_on_selector("#lms-teach-panel", "el => el.scrollWidth <= el.clientWidth + 1")
    context.close()
    p.stop_server(NAME)
