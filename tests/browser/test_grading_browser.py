"""An instructor grades written answers with the keyboard in Chromium (the LMS service alone, on
SQLite, behind a hub-like identity server: no spawner needed), at 1280 and 390 px."""
from __future__ import annotations

import os
import re

import pytest

from lms_extension.models import NotebookSubmission
from lms_extension.services import enrollments, grading_queue as queue
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import NB, WRITTEN
from tests.grading_admin.served import serve
from tests.grading_admin.test_grading_workflow import grade_written

SHOTS = os.environ.get("LMS_SCREENSHOTS")  # a folder to keep screenshots in, when set


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        yield from serve("sqlite", tmp_path_factory, mp)


@pytest.fixture(scope="module")
def ids(served, tmp_path_factory):
    with served.factory() as db:
        make_user(db, "kb-teacher", instructor=True)
        import_course(db, load_course_folder(write_course(tmp_path_factory.mktemp("c"), "kbcourse",
                                                          instructor="kb-teacher", notebook=WRITTEN)))
        out = []
        for n in range(3):
            student = make_user(db, f"kb-student-{n}")
            enrollments.enroll(db, student, "kbcourse")
            db.commit()
            sub = queue.enqueue(db, student, "kbcourse", "l1", {"l1.ipynb": NB})
            db.commit()
            grade_written(db, sub.id, answer=f"Answer number {n}: **squares** grow as x·x", worker=f"kb-{n}")
            out.append(sub.id)
    return out


def grades(served, sid: int) -> dict:
    with served.factory() as db:
        return {g.grade_id: (g.points, g.comment) for g in db.get(NotebookSubmission, sid).manual_grades}


@pytest.mark.parametrize("width", [1280, 390])
def test_grading_written_answers_with_the_keyboard(browser, served, ids, width):
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers={"Authorization": f"token {served.hub.token('kb-teacher', instructor=True)}"})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(served.base + "teach/courses/kbcourse/grading")
        assert page.locator("#queue tbody tr").count() >= 1
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/grading-queue-{width}.png", full_page=True)
        page.click("#start-grading")
        first = int(re.search(r"submissions/(\d+)", page.url).group(1))
        assert page.locator("#grade-explain").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways page scroll
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/grading-submission-{width}.png", full_page=True)
        # j: the next ungraded submission, k: back (not while typing in a box)
        page.keyboard.press("j")
        page.wait_for_url(re.compile(rf"submissions/(?!{first}\b)\d+"))
        second = int(re.search(r"submissions/(\d+)", page.url).group(1))
        assert second != first
        page.keyboard.press("k")
        page.wait_for_url(re.compile(rf"submissions/{first}$"))
        # type a grade and a comment; j inside the comment box is text, not navigation
        page.fill("input[name='points:l1.ipynb:explain']", "2.5")
        page.click("textarea[name='comment:l1.ipynb:explain']")
        page.keyboard.type("Good, just add why j matters")
        assert re.search(rf"submissions/{first}$", page.url)
        # Ctrl+Enter: save and go to the next ungraded
        page.keyboard.press("Control+Enter")
        page.wait_for_url(re.compile(r"submissions/\d+\?saved=1"))
        assert int(re.search(r"submissions/(\d+)", page.url).group(1)) != first
        assert page.locator("#saved").is_visible()
        assert grades(served, first)["explain"] == (2.5, "Good, just add why j matters")
        # a refused value keeps what was typed and says why
        page.fill("input[name='points:l1.ipynb:explain']", "7")
        page.fill("textarea[name='comment:l1.ipynb:explain']", "Too generous")
        page.click("#save-grades")
        assert "between 0 and 3" in page.locator("#grade-error").inner_text()
        assert page.input_value("textarea[name='comment:l1.ipynb:explain']") == "Too generous"
        assert errors == []
    finally:
        context.close()
