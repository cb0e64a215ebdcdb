"""My learning: "Continue" names the next unfinished lesson by its title, a finished course shows
"Completed" and its certificate; the page is rendered by the app's Jinja environment from the
handler's own data."""
from __future__ import annotations

import json
import re

from markupsafe import Markup

from lms_extension.services import enrollments, lessons, progress
from lms_extension.services.course_import import import_course, load_course_folder
from lms_extension.web.app import jinja_env
from tests.factories import write_course

from .conftest import UNGRADED_NOTEBOOK, enroll

TITLES = {"l1": "Hello, Python", "l2": "Working with text", "l3": "Lists and loops", "l4": "Making decisions"}


def titled_course(session, root, slug="titled"):
    """Four lessons that complete when opened, with human titles unlike their ids."""
    folder = write_course(root, slug, lessons=4, notebook=UNGRADED_NOTEBOOK)
    text = (folder / "course.toml").read_text()
    for key, title in TITLES.items():
        text = text.replace(f'title = "Lesson {key[1:]}"', f"title = {json.dumps(title)}")
    (folder / "course.toml").write_text(text)
    return import_course(session, load_course_folder(folder))


def continue_key(session, user, course):
    enrollment = enrollments.find_enrollment(session, user, course)
    view = progress.course_progress(session, user, course.slug)
    done = {ls["lesson"] for ls in view["lessons"] if ls["completed"]}
    target = enrollments.continue_lesson(course, enrollment, done)
    return target.key if target else None


def test_continue_goes_to_the_next_unfinished_lesson(session, tmp_path, alice):
    course = titled_course(session, tmp_path)
    enroll(session, alice, course.slug)
    assert continue_key(session, alice, course) == "l1"  # nothing opened: the first lesson
    lessons.deliver(session, alice, course.slug, "l1")  # completes (no graded parts)
    assert continue_key(session, alice, course) == "l2"  # not the finished lesson left off
    lessons.deliver(session, alice, course.slug, "l3")
    assert continue_key(session, alice, course) == "l4"  # the next unfinished after where I am
    lessons.deliver(session, alice, course.slug, "l4")
    assert continue_key(session, alice, course) == "l2"  # then from the start
    lessons.deliver(session, alice, course.slug, "l2")
    assert continue_key(session, alice, course) is None
    assert progress.course_progress(session, alice, course.slug)["completed"]


def test_an_unfinished_lesson_left_off_is_where_continue_goes(session, tmp_path, alice):
    from .conftest import build_course  # graded notebooks: opening does not complete them
    course = build_course(session, tmp_path, lessons=3)
    enroll(session, alice, course.slug)
    lessons.deliver(session, alice, course.slug, "l2")
    assert continue_key(session, alice, course) == "l2"


def render(name: str, **ns) -> str:
    return jinja_env().get_template(name).render(
        prefix="/services/lms/", hub_prefix="/hub/", user=None, csp_nonce="n", absolute=lambda p: p,
        xsrf_form_html=lambda: Markup(""), static=lambda p: f"/static/{p}", notice=None, here="/", logout_next="/", **ns)


def my_learning_html(session, user, monkeypatch=None) -> str:
    """What MyLearningPage renders: its get() with the template call captured."""
    from lms_extension.web.pages import enrollments as page

    captured = {}

    class Fake:
        db, config = session, type("C", (), {"hub_prefix": "/hub/"})()

        def require_user(self):
            return user

        def render_page(self, name, **ns):
            captured["html"] = render(name, **ns)

    page.MyLearningPage.get.__wrapped__(Fake())
    return captured["html"]


def row(html: str, slug: str) -> str:
    """One course's row: from its learning-row div to the next one (or the end)."""
    return next(part for part in html.split('class="learning-row"')[1:] if f'data-slug="{slug}"' in part)


def test_page_names_lessons_by_title_and_shows_completion(session, tmp_path, alice):
    course = titled_course(session, tmp_path)
    done = titled_course(session, tmp_path / "2", "finished")
    for c in (course, done):
        enroll(session, alice, c.slug)
    html = row(my_learning_html(session, alice), course.slug)
    assert "Start: Hello, Python" in html and "Completed" not in html
    lessons.deliver(session, alice, course.slug, "l1")
    lessons.deliver(session, alice, course.slug, "l2")
    for key in TITLES:
        lessons.deliver(session, alice, done.slug, key)
    page = my_learning_html(session, alice)
    html = row(page, course.slug)
    assert "Continue: Lists and loops" in html and "lesson=l3" in html
    text = re.sub(r"<[^>]+>", " ", page)
    for key in TITLES:  # ids appear in links only, never as text
        assert not re.search(rf"\b{key}\b", text)
    finished = row(page, done.slug)
    assert 'data-completed="yes"' in finished and ">Completed</span>" in finished
    cert = progress.course_progress(session, alice, done.slug)["certificate"]
    assert cert and f'href="/services/lms/certificates/{cert}"' in finished and "View certificate" in finished
    assert "Continue" not in finished and "Start" not in finished
    assert 'style="width: 100%"' in finished and 'style="width: 50%"' in html
