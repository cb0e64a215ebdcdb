"""The analytics pages, CSV downloads and API on the real service (SQLite and PostgreSQL), with
the hub's identity faked per request (conftest.FakeHub); and the storefront's visit recording,
which must neither slow nor uncache the course page."""
from __future__ import annotations

import csv
import time
from datetime import timedelta
import io

import pytest
import requests
from sqlalchemy import func, select

from lms_extension.db import session_factory
from lms_extension.models.analytics import AnalyticsEvent, SignupSource
from lms_extension.services import analytics, enrollments
from tests.discovery.conftest import serve_visitors
from tests.factories import make_course, make_user

from .conftest import T0, FakeHub, as_user, seed_course

TEACHER = as_user("ana-teacher", "instructor")
OTHER = as_user("bee-teacher", "instructor")
ADMIN = as_user("boss", "admin")
STUDENT = as_user("ana-s1")
SEEDED = T0 + timedelta(days=2)  # the seeded visits are older


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path_factory, tmp_path, monkeypatch):
    def seed(engine):
        with session_factory(engine)() as s:
            course, _ = seed_course(s, tmp_path / "courses")
            enrollments.grant(s, make_user(s, "ana-buyer").id, course.id, "purchase")
            make_user(s, "bee-teacher", instructor=True)
            make_course(s, tmp_path / "bee", "bee", instructor="bee-teacher")
            make_user(s, "boss", admin=True)
            s.commit()

    FakeHub.install(monkeypatch)
    gen = serve_visitors(request.param, tmp_path_factory, tmp_path, monkeypatch, seed=seed)
    base, engine, app = next(gen)
    yield base, engine, app
    next(gen, None)


def refresh(engine):
    with session_factory(engine)() as s:
        analytics.refresh(s)
        s.commit()


def flush(app, engine, expected: int):
    """Write the recorder's batch once it holds ``expected`` visits (a visit is recorded just after
    its response is sent, so the client may see the page a moment before)."""
    recorder = app.settings["analytics_recorder"]
    deadline = time.monotonic() + 5
    while recorder.pending() < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return recorder.flush(session_factory(engine))


def parse_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.text)))


def test_course_page_visits_count_and_the_page_stays_cached(served):
    base, engine, app = served
    firefox, chrome = {"User-Agent": "Firefox/140"}, {"User-Agent": "Chrome/140"}
    first = requests.get(base + "courses/ana", headers=firefox)
    assert first.status_code == 200 and "Set-Cookie" not in first.headers  # counted without a cookie
    assert app.settings["catalog_cache"].page("CoursePage /services/lms/courses/ana") is not None
    again = requests.get(base + "courses/ana", headers=firefox)  # the same browser, from the cache
    assert again.status_code == 200 and "Set-Cookie" not in again.headers
    assert requests.get(base + "courses/ana", headers=chrome).status_code == 200  # another browser
    assert requests.get(base, headers=firefox).status_code == 200  # the catalog
    assert requests.get(base + "courses/no-such-course").status_code == 404
    assert flush(app, engine, 4) == 4
    with session_factory(engine)() as s:
        kinds = sorted(s.scalars(select(AnalyticsEvent.kind).where(AnalyticsEvent.user_id.is_(None),
                                                                   AnalyticsEvent.created_at > SEEDED)))
        assert kinds == ["catalog", "course", "course", "course"]
        visitors = s.scalars(select(func.count(func.distinct(AnalyticsEvent.visitor)))
                             .where(AnalyticsEvent.created_at > SEEDED)).one()
        assert visitors == 2  # a browser is one visitor a day


def test_pages_render_empty_then_with_data_and_csvs_parse(served):
    base, engine, app = served
    page = requests.get(base + "teach/courses/ana/analytics", headers=TEACHER)
    assert page.status_code == 200, page.text
    assert "No figures yet" in page.text and "No visits or enrollments counted yet." in page.text
    growth = requests.get(base + "admin/growth", headers=ADMIN)
    assert growth.status_code == 200 and "No sign-ups yet." in growth.text

    assert requests.get(base + "courses/ana").status_code == 200  # one more browser
    assert flush(app, engine, 1) == 1
    refresh(engine)
    page = requests.get(base + "teach/courses/ana/analytics", headers=TEACHER)
    assert page.status_code == 200
    assert "Figures as of" in page.text and page.text.count("<svg") >= 5
    assert "failed: assert square(3) == 9" in page.text and "What is a list?" in page.text
    funnel = parse_csv(requests.get(base + "teach/courses/ana/analytics.csv?report=funnel", headers=TEACHER))
    assert funnel[0] == ["Step", "People", "% of previous step", "% of visitors"]
    assert [row[1] for row in funnel[1:]] == ["7", "6", "4", "1"]
    assert "1 of the 6 enrolled bought the course." in page.text
    for name, (_title, columns) in analytics.COURSE_REPORTS.items():
        rows = parse_csv(requests.get(base + f"teach/courses/ana/analytics.csv?report={name}", headers=TEACHER))
        assert rows[0] == [heading for _, heading in columns] and len(rows) > 1, name
    growth = requests.get(base + "admin/growth?active=weekly", headers=ADMIN)
    assert growth.status_code == 200 and "Weekly active learners" in growth.text and "<svg" in growth.text
    for name, (_title, columns) in analytics.PLATFORM_REPORTS.items():
        rows = parse_csv(requests.get(base + f"admin/growth.csv?report={name}", headers=ADMIN))
        assert rows[0] == [heading for _, heading in columns], name
    api = requests.get(base + "api/v1/teach/courses/ana/analytics", headers=TEACHER)
    assert api.status_code == 200 and set(api.json()["reports"]) == set(analytics.COURSE_REPORTS)
    one = requests.get(base + "api/v1/teach/courses/ana/analytics?report=lessons", headers=TEACHER).json()
    assert list(one["reports"]) == ["lessons"] and one["reports"]["lessons"]["rows"][0]["opened"] == 4
    api_csv = parse_csv(requests.get(base + "api/v1/admin/growth?report=conversion&format=csv", headers=ADMIN))
    assert api_csv[0][0] == "Week of" and len(api_csv) == 13


def test_only_the_course_teacher_and_admins_see_it(served):
    base, _engine, _app = served
    for headers in (OTHER, STUDENT):
        for path in ("teach/courses/ana/analytics", "teach/courses/ana/analytics.csv?report=funnel",
                     "api/v1/teach/courses/ana/analytics"):
            r = requests.get(base + path, headers=headers)
            assert r.status_code == 403, (headers, path, r.status_code)
    r = requests.get(base + "api/v1/teach/courses/ana/analytics", headers=OTHER)
    assert r.json()["message"] == "Only the course's instructor or an admin can see its analytics."
    assert requests.get(base + "teach/courses/ana/analytics", headers=ADMIN).status_code == 200
    assert requests.get(base + "teach/courses/bee/analytics", headers=OTHER).status_code == 200
    assert requests.get(base + "teach/courses/nope/analytics", headers=TEACHER).status_code == 404
    for path in ("admin/growth", "admin/growth.csv?report=signups", "api/v1/admin/growth"):
        assert requests.get(base + path, headers=TEACHER).status_code == 403, path
        assert requests.get(base + path, headers=ADMIN).status_code == 200, path
    assert requests.get(base + "api/v1/admin/growth").status_code == 401
    login = requests.get(base + "teach/courses/ana/analytics", allow_redirects=False)
    assert login.status_code in (302, 303)


BAD_PARAMETERS = [
    ("teach/courses/ana/analytics.csv?report=nope", TEACHER, "report must be one of"),
    ("teach/courses/ana/analytics.csv", TEACHER, "report must be one of"),
    ("teach/courses/ana/analytics.csv?report=%3Cscript%3E", TEACHER, "report must be one of"),
    ("admin/growth?active=yearly", ADMIN, "active must be daily, weekly or monthly"),
    ("admin/growth.csv?report=funnel", ADMIN, "report must be one of"),
    ("api/v1/teach/courses/ana/analytics?format=xml", TEACHER, "format must be json or csv"),
    ("api/v1/teach/courses/ana/analytics?format=csv", TEACHER, "format=csv needs a report"),
    ("api/v1/admin/growth?report=" + "x" * 5000, ADMIN, "report must be one of"),
]


def test_bad_query_parameters_are_a_400_with_a_message(served):
    base, _engine, _app = served
    for path, headers, message in BAD_PARAMETERS:
        r = requests.get(base + path, headers=headers)
        assert r.status_code == 400, path
        assert message in (r.json()["message"] if path.startswith("api/") else r.text), path
        assert "<script>" not in r.text


def test_a_sign_up_source_reaches_the_new_account(served):
    base, engine, _app = served
    browser = requests.Session()
    landing = browser.get(base + "courses/ana?utm_source=newsletter&utm_medium=email&utm_campaign=March",
                          headers={"Referer": "https://mail.example.com/"})
    assert landing.status_code == 200 and "lms-src" in browser.cookies
    browser.get(base + "courses/ana?utm_source=later")  # first touch wins
    signed_up = browser.get(base, headers=as_user("newcomer"))
    assert signed_up.status_code == 200
    assert "lms-src" not in browser.cookies  # attached, then forgotten
    with session_factory(engine)() as s:
        user = s.scalars(select(analytics.User).where(analytics.User.hub_name == "newcomer")).one()
        source = s.get(SignupSource, user.id)
        assert (source.source, source.medium, source.campaign, source.referrer) == (
            "newsletter", "email", "March", "mail.example.com")
        assert source.landing == "/services/lms/courses/ana"


def test_a_hostile_source_is_shown_as_text(served):
    base, engine, _app = served
    browser = requests.Session()
    browser.get(base + "?utm_source=%3Cscript%3Ealert(1)%3C/script%3E&utm_campaign=%3Cimg%20src=x%20onerror=alert(2)%3E")
    assert browser.get(base, headers=as_user("mallory")).status_code == 200
    refresh(engine)
    page = requests.get(base + "admin/growth", headers=ADMIN)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    rows = parse_csv(requests.get(base + "admin/growth.csv?report=signups", headers=ADMIN))
    assert ["<script>alert(1)</script>", "", "<img src=x onerror=alert(2)>"] in [row[:3] for row in rows]
