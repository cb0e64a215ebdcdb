"""Announcements: posted in the course studio (or through the API), shown on the course page
(the latest three) and handed to JupyterLab's Course panel through the course API and the lab
server's lesson context; hostile Markdown comes out inert; refusals change nothing."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import re

import pytest
from sqlalchemy import func, select

from lms_extension.labserver.api import ContextHandler
from lms_extension.models.announcements import Announcement
from lms_extension.models.audit import AuditEntry
from lms_extension.services import announcements

from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium fixture)

from .conftest import text_of

OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
SHOTS = Path(os.environ.get("LMS_SCREENSHOTS", Path(__file__).resolve().parents[1] / "artifacts" / "announcements"))

HOSTILE = ("Hello <script>alert('x')</script> **bold** [click](javascript:alert(1)) "
           "<img src=x onerror=alert(2)> [ok](https://example.org)")


def count(service, slug: str) -> int:
    from lms_extension.models import Course

    with service.factory() as db:
        return db.scalar(select(func.count(Announcement.id)).join(Course, Course.id == Announcement.course_id)
                         .where(Course.slug == slug))


def articles(page: str) -> str:
    return "".join(re.findall(r'<article class="announcement".*?</article>', page, flags=re.S))


def inert(html: str) -> bool:
    return ("<script" not in html and 'href="javascript:' not in html and "<img" not in html
            and not re.search(r"<[^>]*\son\w+=", html))


def post(client, slug, title, body="Body"):
    return client.post(f"teach/courses/{slug}/announcements", {"title": title, "body": body})


def test_posted_announcements_reach_the_course_page_and_the_course_api(service, world):
    t1, mine = world["t1"], world["mine"]
    page = t1.get(f"teach/courses/{mine}/announcements")
    assert page.status_code == 200 and "Nothing posted yet" in page.text
    assert "students see announcements on the course page" in text_of(page.text).lower()
    assert "each enrolled student is also told in the lms and by email" in text_of(page.text).lower()
    done = t1.follow(post(t1, mine, "Welcome", HOSTILE))
    assert "Announcement \u201cWelcome\u201d posted." in done.text
    for n in range(2, 5):
        post(t1, mine, f"Week {n}", f"News number {n}")
    course_page = world["visitor"].get(f"courses/{mine}")
    assert course_page.status_code == 200
    words = text_of(course_page.text)
    assert "Announcements" in words and "Week 4" in words and "Week 2" in words and "Welcome" not in words  # latest 3
    assert words.index("Week 4") < words.index("Week 3") < words.index("Week 2")
    # hostile Markdown is inert wherever it shows: no script, no javascript: link, no img with onerror
    studio = articles(t1.get(f"teach/courses/{mine}/announcements").text)
    assert inert(studio) and "<strong>bold</strong>" in studio and 'href="https://example.org"' in studio
    api = world["student"].api("GET", f"api/v1/courses/{mine}").json()
    assert [a["title"] for a in api["announcements"]] == ["Week 4", "Week 3", "Week 2"]
    listing = world["visitor"].api("GET", f"api/v1/courses/{mine}/announcements").json()["announcements"]
    assert [a["title"] for a in listing] == ["Week 4", "Week 3", "Week 2", "Welcome"]
    assert inert(listing[-1]["body_html"]) and "<strong>bold</strong>" in listing[-1]["body_html"]
    assert set(listing[0]) == {"id", "title", "body_html", "created_at"}
    with service.factory() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "announcement.create",
                                                      AuditEntry.actor_name == f"t1-{world['tag']}")).all()
        assert len(entries) == 4 and "Welcome" in entries[0].after
        [welcome] = db.scalars(select(Announcement).where(Announcement.title == "Welcome")).all()
        students = announcements.progress(db, welcome)["students"]
    # the request only stored it: the studio shows the fan-out waiting for lms worker, then done
    assert f"Sending: sent to 0 of {students} students so far" in text_of(studio)
    with service.factory() as db:
        for item in db.scalars(select(Announcement).where(Announcement.course_id == welcome.course_id)):
            assert announcements.fan_out(service.factory, item.id)["reached"] == students
    studio = text_of(articles(t1.get(f"teach/courses/{mine}/announcements").text))
    assert f"Sent to {students} of {students} students ({students} in the LMS" in studio


def test_removing_an_announcement(service, world):
    t1, mine = world["t1"], world["mine"]
    post(t1, mine, "Oops", "Wrong date")
    with service.factory() as db:
        item_id = db.scalars(select(Announcement.id).order_by(Announcement.id.desc())).first()
    assert world["t2"].post(f"teach/courses/{mine}/announcements/{item_id}/delete").status_code == 403
    assert world["t2"].post(f"teach/courses/{world['theirs']}/announcements/{item_id}/delete").status_code == 404
    assert count(service, mine) == 1
    page = t1.follow(t1.post(f"teach/courses/{mine}/announcements/{item_id}/delete"))
    assert "Announcement removed." in page.text and "Oops" not in page.text.split("Posted")[1]
    assert count(service, mine) == 0
    assert "Oops" not in world["visitor"].get(f"courses/{mine}").text
    with service.factory() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "announcement.delete",
                                                    AuditEntry.target_id == str(item_id))).one()
        assert "Wrong date" in entry.before  # what it said is kept in the log


@pytest.mark.parametrize("title, body, message", [
    ("", "Body", "The title cannot be empty"),
    ("   ", "Body", "The title cannot be empty"),
    ("T" * 201, "Body", "The title is limited to 200 characters"),
    ("Title", "", "The message cannot be empty"),
    ("Title", "x" * 20_001, "The message is limited to 20,000 characters"),
])
def test_bad_announcements_are_refused_with_the_form_as_typed(service, world, title, body, message):
    r = post(world["t1"], world["mine"], title, body)
    assert r.status_code == 400 and message in text_of(r.text)
    assert 'id="announcement-error"' in r.text
    if title.strip() and len(title) < 300:
        assert f'value="{title}"' in r.text
    if body and len(body) < 100:
        assert f">{body}</textarea>" in r.text
    assert count(service, world["mine"]) == 0


def test_only_the_instructor_or_an_admin_posts(service, world):
    mine = world["mine"]
    r = post(world["t2"], mine, "Not mine")
    assert r.status_code == 403 and "only the course's instructor or an admin" in text_of(r.text)
    assert post(world["student"], mine, "Student").status_code == 403
    assert post(world["visitor"], mine, "Visitor").status_code in (302, 303, 403)
    assert count(service, mine) == 0
    assert post(world["admin"], mine, "From the platform").status_code == 303
    assert count(service, mine) == 1


def test_the_api(service, world):
    mine, t1 = world["mine"], world["t1"]
    url = f"api/v1/courses/{mine}/announcements"
    r = t1.api("POST", url, json={"title": "API news", "body": "**Hi**"})
    assert r.status_code == 201 and r.json()["body_html"] == "<p><strong>Hi</strong></p>\n"
    for bad, message in [({"title": 5, "body": "x"}, "The title must be text"),
                         ({"title": "x", "body": ["x"]}, "The message must be text"),
                         ({"title": "x", "body": "y", "pinned": True}, "unknown field(s): pinned"),
                         ({"title": "x"}, "The message cannot be empty")]:
        r = t1.api("POST", url, json=bad)
        assert r.status_code == 400 and r.json()["message"] == message, r.text
    assert t1.api("POST", url, data="not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert t1.api("POST", url, json=["a list"]).status_code == 400
    assert world["t2"].api("POST", url, json={"title": "x", "body": "y"}).status_code == 403
    assert world["student"].api("POST", url, json={"title": "x", "body": "y"}).status_code == 403
    assert world["visitor"].api("POST", url, json={"title": "x", "body": "y"}).status_code in (401, 403)
    assert world["visitor"].api("GET", "api/v1/courses/no-such/announcements").status_code == 404
    assert world["visitor"].api("GET", "api/v1/courses/%00/announcements").status_code == 404  # NUL: PostgreSQL
    assert t1.api("POST", "api/v1/courses/%00/announcements", json={"title": "x", "body": "y"}).status_code == 404
    r = t1.api("POST", url, json={"title": "nul\u0000", "body": "y"})
    assert r.status_code == 400 and r.json()["message"] == "The title contains a NUL character"
    assert world["visitor"].api("GET", url, params={"limit": "0"}).status_code == 400
    assert world["visitor"].api("GET", url, params={"limit": "many"}).status_code == 400
    item = t1.api("GET", url).json()["announcements"][0]["id"]
    assert world["t2"].api("DELETE", f"{url}/{item}").status_code == 403
    assert t1.api("DELETE", f"{url}/{item}").status_code == 204
    assert t1.api("DELETE", f"{url}/{item}").status_code == 404
    assert count(service, mine) == 0
    spec = world["visitor"].api("GET", "api/v1/openapi.json")
    if spec.status_code == 200:
        paths = spec.json()["paths"]
        assert "/courses/{slug}/announcements" in paths and "/courses/{slug}/announcements/{id}" in paths


def test_the_lab_server_passes_the_announcements_to_the_course_panel():
    """labserver/api.py's lesson context, from the course the LMS returned (GET /api/v1/courses/{slug})."""
    fake = SimpleNamespace(extension=SimpleNamespace(public_lms_url="http://lms.test/services/lms/"),
                           base_url="/user/ann/", open_url=lambda course, lesson: f"/open/{lesson}")
    news = [{"id": 3, "title": "Week 2", "body_html": "<p>b</p>", "created_at": "2026-12-07T10:00:00+00:00"}]
    info = {"title": "Course", "lessons": [{"id": "l1", "title": "One"}], "announcements": news}
    context = ContextHandler.context(fake, "c", "l1", info, {}, {}, None)
    assert context["announcements"] == news
    old_lms = ContextHandler.context(fake, "c", "l1", {k: v for k, v in info.items() if k != "announcements"}, {}, {}, None)
    assert old_lms["announcements"] == []


def test_the_announcement_routes_are_in_a_valid_openapi_document():
    import re as _re

    from openapi_spec_validator import validate

    from lms_extension.web.api import announcements as announcements_api, openapi
    from lms_extension.web.app import HANDLER_MODULES

    doc = openapi.document("/services/lms/", HANDLER_MODULES)
    validate(doc)
    documented = {_re.sub(r"\{[^}]+\}", "{}", "/api/v1" + path) for path in doc["paths"]}
    for pattern, _ in announcements_api.default_handlers:
        assert "/" + pattern.replace("([^/]+)", "{}").replace("([0-9]{1,9})", "{}") in documented, pattern
    course = doc["paths"]["/courses/{slug}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "announcements" in course["allOf"][1]["properties"]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_studio_shows_the_fan_out_progress_in_chromium(browser, service, world, width, engine):  # noqa: F811
    """Posted: 'Sending: sent to N of M' while lms worker has told part of the class, then
    'Sent to M of M'; the page fits a phone without sideways scrolling."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the page is the same on both databases; Chromium runs once")
    from lms_extension.models import Course, Enrollment
    from tests.factories import make_user

    t1, mine = world["t1"], world["mine"]
    with service.factory() as db:
        course_id = db.scalar(select(Course.id).where(Course.slug == mine))
        for i in range(5):  # granted by an admin (the course is paid)
            db.add(Enrollment(user_id=make_user(db, f"fan-{world['tag']}-{i}").id, course_id=course_id, source="admin"))
        db.commit()
    post(t1, mine, "Deadline moved", "Lesson 2 is now due **Friday**.")
    with service.factory() as db:
        [item] = db.scalars(select(Announcement).join(Course, Course.id == Announcement.course_id)
                            .where(Course.slug == mine, Announcement.title == "Deadline moved")).all()
        announcements.fan_out_batch(db, item.id, 0, batch_size=2)  # the worker, part way
        db.commit()
        students = announcements.progress(db, item)["students"]
    context = browser.new_context(viewport={"width": width, "height": 800},
                                  extra_http_headers={"X-Test-User": f"t1-{world['tag']}", "X-Test-Roles": "instructor"})
    page = context.new_page()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(service.base + f"teach/courses/{mine}/announcements")
        progress = page.locator(f"[data-announcement='{item.id}'] .announcement-progress")
        assert progress.inner_text().startswith("Sending: sent to 2 of")
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.screenshot(path=str(SHOTS / f"announcements-sending-{width}.png"), full_page=True)
        announcements.fan_out(service.factory, item.id)
        page.reload()
        assert progress.inner_text().startswith(f"Sent to {students} of {students} students")
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.screenshot(path=str(SHOTS / f"announcements-sent-{width}.png"), full_page=True)
    finally:
        context.close()
