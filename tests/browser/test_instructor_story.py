"""The whole instructor story (apply, approve, author, sell, grade) in real Chromium on the real platform (JupyterHub, the
LMS service, the sandbox spawner, the Stripe test server), through pages as people use them:

a new user signs up on the hub and applies to teach; the demo admin approves in the console (a
browser context of their own); the applicant signs in again and has Teaching; they create a
paid ($19) draft course on the web; in their own JupyterLab's Teach panel they make the course
folder, put a prepared lesson in it (an autograded exercise and a written answer), Validate
(every test passes) and Publish; a second new user buys the course through checkout and the
Stripe test server's hosted page, opens the lesson in JupyterLab, answers and presses Submit in
the Course sidebar and sees a score; the instructor finds the student in the roster, grades the
written answer from the grading queue and downloads the gradebook CSV with the student's row.

What people type into JupyterLab notebooks is written through the Jupyter contents API of their
own server, with their own token (typing a notebook is slow and flaky); servers are started
ahead through the hub's API so a slow spawn on a loaded machine is waited for, not clicked
through. Screenshots go to tests/artifacts/story-*.png; the key pages are checked at 390 px for
sideways scroll.
"""
from __future__ import annotations

import csv
import io
import json
import re
import secrets
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LABEXT = Path(__file__).resolve().parents[2] / "lms_extension" / "labextension" / "package.json"
SPAWN = 180  # seconds: a spawn on the loaded test machine takes minutes at worst
TAG = secrets.token_hex(3)
TEACHER, TEACHER_PASSWORD = f"teacher{TAG}", "teach-all-the-things-42"
STUDENT, STUDENT_PASSWORD = f"learner{TAG}", "learn-all-the-things-42"
SLUG, TITLE = f"doubling-{TAG}", "Doubling numbers"
LESSON = "01-introduction"  # the lesson the Teach panel's New course makes
EXERCISE, WRITTEN = "ex1-double", "why-double"


def nb_cell(kind: str, source: str, nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": kind, "id": secrets.token_hex(4), "metadata": {}, "source": source}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "task": False, **nbgrader}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


# the instructor's prepared source: what nbgrader's Create Assignment tool writes for an
# autograded answer, its tests (2 points) and a manually graded written answer (3 points)
SOURCE = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "language_info": {"name": "python"}},
    "cells": [
        nb_cell("markdown", "# Introduction\n\nDoubling a number adds it to itself: `2 * 3 == 3 + 3`."),
        nb_cell("code", "print(2 * 3, 3 + 3)"),
        nb_cell("markdown", "## Exercise 1 - Double a number (2 points)\n\nWrite `double(x)` that returns twice `x`."),
        nb_cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                {"grade": False, "solution": True, "locked": False, "grade_id": EXERCISE}),
        nb_cell("code", "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
                {"grade": True, "solution": False, "locked": True, "grade_id": f"{EXERCISE}-tests", "points": 2}),
        nb_cell("markdown", "## Exercise 2 - Why it works (3 points)\n\nIn one sentence: why is `x + x` the same as `2 * x`?"),
        nb_cell("markdown", "Multiplying by two means taking the number twice, which is adding it to itself.",
                {"grade": True, "solution": True, "locked": False, "grade_id": WRITTEN, "points": 3}),
    ],
}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def narrow_check(page, name: str) -> None:
    """The page at a phone's 390 px: nothing scrolls sideways (a screenshot to look at), then back."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTIFACTS / f"story-{name}-390.png"), full_page=True)
    assert no_sideways_scroll(page), f"{name} scrolls sideways at 390 px"
    page.set_viewport_size({"width": 1280, "height": 900})


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"story-{name}.png"), full_page=True)


def sign_up(page, p, name: str, password: str, display_name: str) -> None:
    """The hub's sign-up page (open sign-up): lands on the LMS, signed in."""
    page.goto(f"{p.url}/hub/signup")
    expect(page.locator("h1")).to_have_text("Create your account")
    page.fill("#email_input", f"{name}@example.org")
    page.fill("#display_name_input", display_name)
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.fill("#password_confirmation_input", password)
    page.click("#signup_submit")
    expect(page.locator(".who")).to_have_text(display_name)


def contents(token: str) -> requests.Session:
    api = requests.Session()
    api.headers["Authorization"] = f"token {token}"
    return api


def test_the_instructor_story(browser, sqlite_platform):
    if not LABEXT.exists():
        pytest.fail(f"{LABEXT} missing: `make frontend` builds the JupyterLab extension")
    p = sqlite_platform
    ARTIFACTS.mkdir(exist_ok=True)
    teacher_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    student_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        teacher = teacher_ctx.new_page()
        teacher.set_default_timeout(60_000)
        teacher.on("pageerror", lambda e: errors.append(f"teacher: {e}") if "/user/" not in teacher.url else None)

        # 1. a new user signs up and applies to teach from the footer's link ---------------------
        sign_up(teacher, p, TEACHER, TEACHER_PASSWORD, "Dora Doubler")
        teacher.click("#teach-link")
        expect(teacher.locator("#apply-form")).to_be_visible()
        teacher.fill("#display-name", "Dora Doubler")
        teacher.fill("#headline", "Maths teacher who loves small programs")
        teacher.fill("#bio", "I teach **arithmetic** with Python notebooks.")
        teacher.select_option("#payout-country", "NL")
        shot(teacher, "01-apply")
        teacher.click("#send-application")
        expect(teacher.locator("#application-status")).to_have_attribute("data-status", "pending")
        expect(teacher.locator("#application-bio strong")).to_have_text("arithmetic")
        shot(teacher, "02-applied")
        narrow_check(teacher, "02-applied")

        # 2. the admin approves in the console, in a browser of their own -----------------------
        admin = admin_ctx.new_page()
        admin.set_default_timeout(60_000)
        admin.goto(f"{p.url}/hub/login")
        admin.fill("#username_input", "admin")
        admin.fill("#password_input", p.demo_password)
        admin.click("#login_submit")
        expect(admin.locator(".who")).to_be_visible()
        admin.goto(f"{p.lms}admin/applications")
        application = admin.locator("article.application", has_text=f"({TEACHER})")
        expect(application).to_have_attribute("data-status", "pending")
        application.locator("textarea[name=reason]").fill("Welcome aboard, Dora")
        shot(admin, "03-admin-applications")
        application.locator("button[value=approve]").click()
        expect(admin.locator("body")).to_contain_text("application is approved")
        expect(admin.locator("article.application", has_text=f"({TEACHER})")).to_have_attribute("data-status", "approved")
        narrow_check(admin, "03-admin-applications")
        assert TEACHER in p.hub("GET", "groups/instructors").json()["users"]

        # 3. the applicant reads the decision, signs in again and has Teaching --------------------
        teacher.goto(f"{p.lms}teach/apply")
        expect(teacher.locator("#application-status")).to_have_attribute("data-status", "approved")
        expect(teacher.locator("#decision-reason")).to_have_text("Welcome aboard, Dora")
        teacher.click("#refresh-role")
        expect(teacher).to_have_url(f"{p.lms}teach")
        teaching = teacher.locator("header a", has_text="Teaching")
        expect(teaching).to_have_attribute("href", "/services/lms/teach")
        shot(teacher, "04-teaching")

        # 4. a paid draft course on the web ------------------------------------------------------
        teacher.click("#new-course")
        expect(teacher.locator("#new-course-form")).to_be_visible()
        narrow_check(teacher, "05-new-course")
        teacher.fill("#slug", SLUG)
        teacher.fill("#title", TITLE)
        teacher.fill("#subtitle", "Twice anything, in Python")
        teacher.fill("#description", "Learn to **double** numbers, then explain why it works.")
        teacher.fill("#category", "Programming")
        teacher.select_option("#level", "beginner")
        teacher.fill("#language", "en")
        teacher.fill("#price", "19")
        teacher.select_option("#currency", "usd")
        shot(teacher, "05-new-course")
        teacher.click("#create-course")
        expect(teacher).to_have_url(re.compile(rf"teach/courses/{SLUG}/lessons(\?.*)?$"))
        shot(teacher, "06-course-lessons")
        narrow_check(teacher, "06-course-lessons")
        teacher.click('nav.studio-nav a:has-text("Course")')
        expect(teacher.locator("#course-form #price")).to_have_value("19")
        expect(teacher.locator("#publish-box")).to_be_visible()
        shot(teacher, "07-course-editor")
        narrow_check(teacher, "07-course-editor")

        # 5. in their own JupyterLab: the Teach panel's New course, the prepared lesson, Validate, Publish
        teacher_token = p.token(TEACHER)
        p.start_server(TEACHER, timeout=SPAWN)
        teacher_lab = f"{p.url}/user/{TEACHER}/"
        teacher.goto(teacher_lab + "lab")
        tab = teacher.locator('.lm-TabBar-tab[data-id="lms-teach-panel"]')
        expect(tab).to_be_visible(timeout=SPAWN * 1000)
        tab.click()
        panel = teacher.locator("#lms-teach-panel")
        # the course made on the web is listed as one of theirs on the LMS
        expect(panel.locator(f'.jp-LMS-remote li[data-course="{SLUG}"]')).to_contain_text(TITLE)
        # (the panel re-renders when its status comes back, closing an open form: see the report)
        for attempt in range(5):
            form = panel.locator(".jp-LMS-new-course")
            if not form.is_visible():
                form.locator("xpath=..").locator("summary").click()
            try:
                form.locator('input[name="course"]').fill(SLUG, timeout=5_000)
                form.locator('input[name="title"]').fill(TITLE, timeout=5_000)
                form.locator("button[type=submit]").click(timeout=5_000)
                expect(panel.locator(".jp-LMS-notice")).to_contain_text("Course folder created", timeout=60_000)
                break
            except AssertionError:
                raise
            except Exception:  # noqa: BLE001 - Playwright's timeout: the form was re-rendered under us
                if attempt == 4:
                    raise
        course = panel.locator(f'section.jp-LMS-source[data-course="{SLUG}"]')
        expect(course.locator(f'li[data-lesson="{LESSON}"]')).to_be_visible()
        lab_api = contents(teacher_token)
        put = lab_api.put(teacher_lab + f"api/contents/teach/{SLUG}/lessons/{LESSON}.ipynb",
                          json={"type": "notebook", "format": "json", "content": SOURCE}, timeout=60)
        assert put.status_code == 200, put.text
        course.locator(f'li[data-lesson="{LESSON}"] a.jp-LMS-open').click()
        expect(teacher.locator(".jp-NotebookPanel:visible .jp-Notebook")).to_contain_text("Why it works")
        if not panel.is_visible():  # (clicking the current sidebar tab would close it)
            tab.click()
        course.locator(".jp-LMS-validate").click()
        expect(panel.locator(".jp-LMS-notice")).to_contain_text("every test passes", timeout=300_000)
        expect(panel.locator(".jp-LMS-report .jp-LMS-failing")).to_have_count(0)
        shot(teacher, "08-lab-validated")
        course.locator(".jp-LMS-publish").click()
        expect(panel.locator(".jp-LMS-notice")).to_contain_text(f"Published {TITLE}", timeout=180_000)
        shot(teacher, "09-lab-published")
        listed = requests.get(p.lms + f"api/v1/courses/{SLUG}", timeout=30).json()
        assert listed["price_cents"] == 1900 and listed["currency"] == "usd", listed  # public: published

        # 6. a new student buys it: course page, checkout, Stripe's hosted page -----------------
        student = student_ctx.new_page()
        student.set_default_timeout(60_000)
        sign_up(student, p, STUDENT, STUDENT_PASSWORD, "Sam Student")
        student.goto(f"{p.lms}courses/{SLUG}")
        expect(student.locator("h1").first).to_have_text(TITLE)
        shot(student, "09-course-page")
        narrow_check(student, "09-course-page")
        student.click("#buy")
        expect(student.locator("#total")).to_contain_text("19.00")
        shot(student, "10-checkout")
        narrow_check(student, "10-checkout")
        student.click("#pay")
        expect(student.locator("#payment-form")).to_be_visible()
        student.fill("#email", f"{STUDENT}@example.org")
        student.fill("#card_number", "4242 4242 4242 4242")
        student.fill("#expiry", "12 / 34")
        student.fill("#cvc", "123")
        student.fill("#name", "Sam Student")
        student.click("#submit")
        expect(student.locator("#status")).to_have_attribute("data-status", "paid", timeout=60_000)
        shot(student, "11-paid")

        # 7. the lesson in the student's JupyterLab: answers, Submit in the Course sidebar, a score
        student_token = p.token(STUDENT)
        p.start_server(STUDENT, timeout=SPAWN)
        student.goto(f"{p.lms}courses/{SLUG}")
        expect(student.locator(".buybox .ok")).to_contain_text("enrolled")
        student.click(f'li.lesson[data-lesson="{LESSON}"] a.btn-small')
        expect(student.locator(".jp-NotebookPanel")).to_be_visible(timeout=SPAWN * 1000)
        assert f"/tree/courses/{SLUG}/{LESSON}.ipynb" in student.url, student.url
        expect(student.locator(".jp-NotebookPanel:visible .jp-Notebook")).to_contain_text("Double a number")
        student_lab = f"{p.url}/user/{STUDENT}/"
        student_api = contents(student_token)
        path = student_lab + f"api/contents/courses/{SLUG}/{LESSON}.ipynb"
        released = student_api.get(path, timeout=60).json()["content"]
        text = json.dumps(released)
        assert "return 2 * x" not in text and "double(-3)" not in text and "adding it to itself" not in text
        for cell in released["cells"]:
            grade_id = (cell["metadata"].get("nbgrader") or {}).get("grade_id")
            if grade_id == EXERCISE:
                cell["source"] = "def double(x):\n    return x + x"
            elif grade_id == WRITTEN:
                cell["source"] = "Because adding a number to itself takes it **twice**."
        put = student_api.put(path, json={"type": "notebook", "format": "json", "content": released}, timeout=60)
        assert put.status_code == 200, put.text
        student.reload()  # JupyterLab reads the answered notebook from the disk
        expect(student.locator(".jp-NotebookPanel:visible .jp-Notebook")).to_contain_text("return x + x", timeout=120_000)
        course_panel = student.locator("#lms-course-panel")
        expect(course_panel.locator(".jp-LMS-course-title")).to_have_text(TITLE, timeout=60_000)
        student.locator(".jp-NotebookPanel:visible .jp-NotebookPanel-toolbar .jp-LMS-submit-toolbar").first.click()
        score = course_panel.locator(".jp-LMS-result .jp-LMS-score")
        expect(score).to_have_text("2 / 5 points", timeout=300_000)
        expect(course_panel.locator(".jp-LMS-manual .jp-LMS-part-note")).to_have_text("graded by your instructor")
        shot(student, "12-lab-submitted")
        student.set_viewport_size({"width": 390, "height": 844})
        student.wait_for_timeout(800)
        assert student.eval_on_selector("#lms-course-panel", "el => el.scrollWidth <= el.clientWidth + 1")
        student.screenshot(path=str(ARTIFACTS / "story-12-lab-submitted-390.png"))
        student.set_viewport_size({"width": 1280, "height": 900})

        # 8. the instructor: the roster, the grading queue, the written answer, the gradebook ----
        teacher.goto(f"{p.lms}teach")
        row = teacher.locator(f'tr[data-slug="{SLUG}"]')
        expect(row).to_contain_text("Published")
        expect(row).to_contain_text("19.00")
        row.locator("a.edit-course").click()
        teacher.click('nav.studio-nav a:has-text("Students")')
        roster = teacher.locator("#roster")
        expect(roster).to_contain_text("Sam Student")
        expect(roster).to_contain_text(STUDENT)
        shot(teacher, "13-roster")
        narrow_check(teacher, "13-roster")
        teacher.click('nav.studio-nav a:has-text("Grading")')
        expect(teacher.locator("#queue")).to_contain_text("Sam Student")
        shot(teacher, "14-grading-queue")
        narrow_check(teacher, "14-grading-queue")
        teacher.click("#start-grading")
        expect(teacher.locator("body")).to_contain_text("adding a number to itself")
        narrow_check(teacher, "15-grading")  # (a reload: before anything is typed)
        points = teacher.locator(f"input[name^='points:'][name$=':{WRITTEN}']")
        points.fill("2.5")
        teacher.locator(f"textarea[name^='comment:'][name$=':{WRITTEN}']").fill("Right idea; say 'x + x' in words.")
        shot(teacher, "15-grading")
        teacher.click("#save-grades")
        expect(teacher.locator("#saved")).to_be_visible()
        expect(points).to_have_value("2.5")
        shot(teacher, "16-graded")

        teacher.goto(f"{p.lms}teach/courses/{SLUG}/roster")
        with teacher.expect_download() as download_info:
            teacher.click("#download-csv")
        download = download_info.value
        assert download.suggested_filename.endswith(".csv"), download.suggested_filename
        rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
        mine = [row for row in rows if row["username"] == STUDENT]
        assert len(mine) == 1, rows
        assert float(mine[0]["total final"]) == 4.5 and float(mine[0]["total max"]) == 5, mine[0]
        assert float(mine[0][f"{LESSON} final"]) == 4.5, mine[0]

        # the student's lesson page now shows the instructor's grade
        student.goto(f"{p.lms}courses/{SLUG}/lessons/{LESSON}")
        expect(student.locator("body")).to_contain_text("4.5")
        shot(student, "17-lesson-graded")
        narrow_check(student, "17-lesson-graded")
        assert errors == [], errors
    finally:
        for ctx in (student_ctx, admin_ctx, teacher_ctx):
            ctx.close()
        for name in (STUDENT, TEACHER):
            p.stop_server(name)
