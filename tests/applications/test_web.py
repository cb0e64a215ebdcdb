"""The pages and the API of instructor applications, served by the real Tornado app (SQLite and
PostgreSQL) behind a hub-like server (hub.py) that identifies tokens and keeps its groups."""
from __future__ import annotations

import re
import uuid

import pytest
import requests
from openapi_spec_validator import validate

from lms_extension.config import LMSConfig
from lms_extension.db import make_engine, upgrade
from lms_extension.web.api import openapi
from lms_extension.web.app import HANDLER_MODULES, make_app
from tests.conftest import _database
from tests.sandbox.sandbox_helpers import ServerThread

from .conftest import png

HOSTILE = '<script>alert("bio")</script><img src=x onerror=alert(1)> **bold** [x](javascript:alert(1))'


class Served:
    def __init__(self, base: str, hub):
        self.base, self.hub = base, hub

    def as_user(self, prefix: str = "u", **roles) -> tuple[str, requests.Session]:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return name, self.session_of(self.hub.add_user(name, **roles))

    def session_of(self, token: str) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"token {token}"
        return s

    def new_sign_in(self, name: str) -> requests.Session:
        """A new token of an existing hub user (as a new sign-in gets)."""
        return self.session_of(self.hub.add_user(name))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory, hub):
    database = _database(request.param, tmp_path_factory)
    url = next(database)
    engine = make_engine(url)
    upgrade(engine)
    env = pytest.MonkeyPatch()
    env.setenv("JUPYTERHUB_API_TOKEN", hub.service_token)
    env.setenv("JUPYTERHUB_API_URL", hub.api_url)
    env.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    env.setenv("JUPYTERHUB_CLIENT_ID", "service-lms")  # as the hub starts its service
    env.delenv("JUPYTERHUB_SERVICE_NAME", raising=False)
    data = tmp_path_factory.mktemp("lms-data")
    server = ServerThread(lambda: make_app(LMSConfig(db_url=url, data_dir=str(data)), engine))
    yield Served(f"http://127.0.0.1:{server.port}/services/lms/", hub)
    server.stop()
    env.undo()
    engine.dispose()
    next(database, None)


FORM = {"display_name": "Grace Hopper", "headline": "Compilers and COBOL", "bio": HOSTILE, "payout_country": "US"}


def xsrf_of(s: requests.Session, page_url: str) -> str:
    """The _xsrf form value a page gives this browser (with its cookie, kept by the session)."""
    return re.search(r'name="_xsrf" value="([^"]+)"', s.get(page_url, timeout=30).text).group(1)


def post_form(s: requests.Session, url: str, page_url: str, data: dict, files=None) -> requests.Response:
    """A form posted as a browser posts it: with the page's _xsrf value."""
    return s.post(url, data={"_xsrf": xsrf_of(s, page_url), **data}, files=files, allow_redirects=False, timeout=30)


def apply_form(s: requests.Session, base: str, fields: dict | None = None, photo: bytes | None = None):
    files = {"photo": ("me.png", photo, "image/png")} if photo is not None else None
    return post_form(s, base + "teach/apply", base + "profile", fields if fields is not None else FORM, files)


def decide_form(s: requests.Session, base: str, app_id: int, data: dict) -> requests.Response:
    return post_form(s, base + f"admin/applications/{app_id}/decision", base + "profile", data)


def application_id(page: str, name: str) -> int:
    """The id of ``name``'s application on the admin's list (its <article>)."""
    return int(re.search(rf'id="application-(\d+)"(?:(?!</article>).)*?\({re.escape(name)}\)', page, re.S).group(1))


def test_apply_form_then_pending_status(served):
    base = served.base
    name, student = served.as_user("grace")
    assert requests.get(base + "teach/apply", allow_redirects=False, timeout=30).status_code == 302  # to the login
    form = student.get(base + "teach/apply", timeout=30)
    assert form.status_code == 200 and 'id="apply-form"' in form.text and 'enctype="multipart/form-data"' in form.text
    assert form.text.count("<option value=") == 250 and '<option value="DE">Germany</option>' in form.text
    assert 'id="teach-link"' in form.text  # the footer's way here
    assert 'id="apply-to-teach"' in student.get(base + "profile", timeout=30).text

    sent = apply_form(student, base, photo=png())
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/services/lms/teach/apply")
    page = student.get(base + "teach/apply", timeout=30).text
    assert 'data-status="pending"' in page and "Your application is pending" in page and 'id="apply-form"' not in page
    assert "your application is sent" in page  # the notice
    # the bio is Markdown, sanitised: no script, no handler, no javascript: link
    assert "<strong>bold</strong>" in page
    assert '<script>alert("bio")' not in page and "<img src=x" not in page and 'href="javascript:' not in page
    assert "&lt;script&gt;alert" in page
    photo = re.search(r'id="application-photo"[^>]*|src="([^"]+)" alt="Your photo"', page)
    src = re.search(r'<img src="([^"]+)" alt="Your photo"', page).group(1)
    assert photo and src.startswith("/services/lms/teach/apply/photo/")
    got = student.get(base.split("/services/lms/")[0] + src, timeout=30)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/webp"
    _, other = served.as_user("nosy")
    assert other.get(base.split("/services/lms/")[0] + src, timeout=30).status_code == 404
    # a second application while one is pending
    again = apply_form(student, base)
    assert again.status_code == 409 and "already waiting" in again.text


@pytest.mark.parametrize("change, status, message", [
    ({"display_name": ""}, 400, "enter a display name"),
    ({"headline": ""}, 400, "enter a headline"),
    ({"bio": "  "}, 400, "write a short bio"),
    ({"payout_country": "ZZ"}, 400, "choose the country"),
    ({"payout_country": None}, 400, "choose the country"),  # field missing from the form
    ({"display_name": "<b>Me</b>\u202e"}, 400, "control characters"),
])
def test_bad_form_input_rerenders_the_form_with_what_was_typed(served, change, status, message):
    name, student = served.as_user("typo")
    fields = {k: v for k, v in {**FORM, **change}.items() if v is not None}
    r = apply_form(student, served.base, fields)
    assert r.status_code == status, r.text[:300]
    assert 'id="apply-error"' in r.text and message in r.text and 'id="apply-form"' in r.text
    assert "Compilers and COBOL" in r.text or change.get("headline") == ""
    assert '<script>alert("bio")' not in r.text
    assert "&lt;script&gt;" in r.text or "bio" in change  # the typed bio, escaped in the textarea
    assert 'id="application-status"' not in student.get(served.base + "teach/apply", timeout=30).text


def test_a_non_image_photo_and_huge_bodies_are_refused(served):
    _, student = served.as_user("badphoto")
    r = apply_form(student, served.base, photo=b"<svg onload=alert(1)></svg>")
    assert r.status_code == 400 and "not a PNG, JPEG or WebP" in r.text and 'id="apply-form"' in r.text
    huge = apply_form(student, served.base, {**FORM, "bio": "x" * 10_000_000})
    assert huge.status_code == 413 and "larger than the limit" in huge.text
    long_bio = apply_form(student, served.base, {**FORM, "bio": "x" * 6000})
    assert long_bio.status_code == 400 and "at most 5000" in long_bio.text
    assert 'id="application-status"' not in student.get(served.base + "teach/apply", timeout=30).text


def test_admin_approves_on_the_page_and_the_hub_group_changes(served):
    base, hub = served.base, served.hub
    name, student = served.as_user("ada")
    assert apply_form(student, base, photo=png()).status_code == 303
    _, admin = served.as_user("admin", admin=True)
    _, teacher = served.as_user("teacher", instructor=True)
    assert teacher.get(base + "admin/applications", timeout=30).status_code == 403
    assert student.get(base + "admin/applications", timeout=30).status_code == 403
    listing = admin.get(base + "admin/applications", timeout=30)
    assert listing.status_code == 200 and 'aria-current="page"' in listing.text
    app_id = application_id(listing.text, name)
    mine = listing.text[listing.text.index(f'id="application-{app_id}"'):]
    mine = mine[:mine.index("</article>")]
    assert 'data-status="pending"' in mine and "Compilers and COBOL" in mine and "United States" in mine
    assert "<strong>bold</strong>" in mine and '<script>alert("bio")' not in mine and "<img src=x" not in mine
    assert 'class="application-photo"' in mine
    # a non-admin cannot decide
    forbidden = decide_form(teacher, base, app_id, {"decision": "approve"})
    assert forbidden.status_code == 403 and name not in hub.members("instructors")

    assert name not in hub.members("instructors")
    ok = decide_form(admin, base, app_id, {"decision": "approve", "reason": "Welcome"})
    assert ok.status_code == 303, ok.text[:500]
    assert name in hub.members("instructors")
    again = decide_form(admin, base, app_id, {"decision": "reject", "reason": "x"})
    assert again.status_code == 409 and "already approved" in again.text
    assert decide_form(admin, base, 99999, {"decision": "approve"}).status_code == 404

    # the applicant, signed in again (the hub gives the new token the teach scope), is told once
    fresh = served.new_sign_in(name)
    catalog = fresh.get(base, timeout=30).text
    assert 'id="application-news"' in catalog and "approved" in catalog
    status = fresh.get(base + "teach/apply", timeout=30).text
    assert 'data-status="approved"' in status and 'id="open-teaching"' in status and "Welcome" in status
    assert 'id="application-news"' not in fresh.get(base, timeout=30).text
    assert fresh.get(base + "teach", timeout=30).status_code == 200
    person = requests.get(base + f"instructors/{name}", timeout=30)
    assert person.status_code == 200 and "Grace Hopper" in person.text and "Compilers and COBOL" in person.text
    assert '<script>alert("bio")' not in person.text and re.search(r'src="/services/lms/instructors/photo/\d+/', person.text)
    # an older sign-in is sent through the login again (tests/applications/test_platform.py: the real OAuth)
    again = post_form(student, base + "teach/apply/refresh", base + "profile", {})
    assert again.status_code == 303 and again.headers["Location"] == "/services/lms/login?next=%2Fservices%2Flms%2Fteach"


def test_reject_needs_a_reason_and_the_applicant_may_apply_again(served):
    base = served.base
    name, student = served.as_user("bob")
    apply_form(student, base)
    _, admin = served.as_user("admin", admin=True)
    page = admin.get(base + "admin/applications", timeout=30).text
    app_id = application_id(page, name)
    no_reason = decide_form(admin, base, app_id, {"decision": "reject", "reason": " "})
    assert no_reason.status_code == 400 and 'id="decision-error"' in no_reason.text and "say why" in no_reason.text
    bad = decide_form(admin, base, app_id, {"decision": "maybe"})
    assert bad.status_code == 400 and "the decision must be &#39;approve&#39; or &#39;reject&#39;" in bad.text
    reason = "Tell us more <b>about</b> your courses"
    r = decide_form(admin, base, app_id, {"decision": "reject", "reason": reason})
    assert r.status_code == 303
    assert name not in served.hub.members("instructors")
    assert 'id="application-news"' in student.get(base + "my-learning", timeout=30).text
    status = student.get(base + "teach/apply", timeout=30).text
    assert 'data-status="rejected"' in status and "Tell us more &lt;b&gt;about&lt;/b&gt; your courses" in status
    assert 'id="apply-form"' in status and 'value="Compilers and COBOL"' in status  # prefilled for the new try
    assert apply_form(student, base, {**FORM, "bio": "With a syllabus"}).status_code == 303
    assert 'data-status="pending"' in student.get(base + "teach/apply", timeout=30).text


def test_a_failing_hub_leaves_the_application_pending_and_says_so(served):
    base, hub = served.base, served.hub
    name, student = served.as_user("eve")
    apply_form(student, base)
    _, admin = served.as_user("admin", admin=True)
    page = admin.get(base + "admin/applications", timeout=30).text
    app_id = application_id(page, name)
    hub.fail_next(1)
    r = decide_form(admin, base, app_id, {"decision": "approve", "reason": "ok"})
    assert r.status_code == 503 and "Nothing was changed; try again" in r.text and 'id="decision-error"' in r.text
    assert name not in hub.members("instructors")
    assert 'data-status="pending"' in student.get(base + "teach/apply", timeout=30).text
    assert decide_form(admin, base, app_id, {"decision": "approve"}).status_code == 303
    assert name in hub.members("instructors")


def test_api_apply_and_decide(served):
    api = served.base + "api/v1/"
    name, student = served.as_user("api")
    body = {"display_name": "Api Person", "headline": "REST", "bio": "I like JSON", "payout_country": "DE"}
    assert requests.post(api + "instructor-applications", json=body, timeout=30).status_code in (401, 403)
    for bad, message in [
        ({k: v for k, v in body.items() if k != "bio"}, "missing field(s): bio"),
        ({**body, "price": 1}, "unknown field(s): price"),
        ({**body, "headline": 5}, "headline must be one line of text"),
        ({**body, "payout_country": "Germany"}, "choose the country"),
        ([body], "the body must be a JSON object"),
    ]:
        r = student.post(api + "instructor-applications", json=bad, timeout=30)
        assert r.status_code == 400 and message in r.json()["message"], (bad, r.text)
    assert student.post(api + "instructor-applications", data="{nope", timeout=30).status_code == 400
    huge = student.post(api + "instructor-applications", json={**body, "bio": "x" * 10_000_000}, timeout=30)
    assert huge.status_code == 413 and huge.json()["status"] == 413
    assert student.get(api + "instructor-applications", timeout=30).json() == {"application": None}

    created = student.post(api + "instructor-applications", json=body, timeout=30)
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    assert created.json() == {"id": app_id, "status": "pending"}
    assert student.post(api + "instructor-applications", json=body, timeout=30).status_code == 409
    assert student.get(api + "instructor-applications", timeout=30).json()["application"]["status"] == "pending"

    decision = api + f"admin/instructor-applications/{app_id}/decision"
    assert student.post(decision, json={"decision": "approve"}, timeout=30).status_code == 403
    _, admin = served.as_user("admin", admin=True)
    assert student.get(api + "admin/instructor-applications", timeout=30).status_code == 403
    listed = admin.get(api + "admin/instructor-applications", timeout=30).json()["applications"]
    assert any(a["id"] == app_id and a["status"] == "pending" for a in listed)
    for bad, status, message in [
        ({}, 400, "missing field(s): decision"),
        ({"decision": "approve", "note": "x"}, 400, "unknown field(s): note"),
        ({"decision": "ok"}, 400, "'approve' or 'reject'"),
        ({"decision": "reject"}, 400, "say why"),
        ({"decision": "reject", "reason": 3}, 400, "the reason must be text"),
    ]:
        r = admin.post(decision, json=bad, timeout=30)
        assert r.status_code == status and message in r.json()["message"], (bad, r.text)
    assert admin.post(api + "admin/instructor-applications/424242/decision", json={"decision": "approve"},
                      timeout=30).status_code == 404
    served.hub.fail_next(1)
    failed = admin.post(decision, json={"decision": "approve"}, timeout=30)
    assert failed.status_code == 503 and failed.json()["error"] == "hub_unavailable"
    assert name not in served.hub.members("instructors")
    ok = admin.post(decision, json={"decision": "approve", "reason": "Welcome"}, timeout=30)
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["reason"] == "Welcome"
    assert name in served.hub.members("instructors")
    twice = admin.post(decision, json={"decision": "approve"}, timeout=30)
    assert twice.status_code == 409 and "already approved" in twice.json()["message"]
    # the new instructor: a token now carries the teach scope, and they cannot apply again
    fresh = served.new_sign_in(name)
    again = fresh.post(api + "instructor-applications", json=body, timeout=30)
    assert again.status_code == 409 and "already teach" in again.json()["message"]


def test_openapi_documents_both_endpoints():
    doc = openapi.document("/services/lms/", HANDLER_MODULES)
    validate(doc)
    apply = doc["paths"]["/instructor-applications"]["post"]
    assert set(apply["requestBody"]["content"]["application/json"]["schema"]["required"]) == {
        "display_name", "headline", "bio", "payout_country"}
    assert {"201", "400", "409"} <= set(apply["responses"])
    decide = doc["paths"]["/admin/instructor-applications/{id}/decision"]["post"]
    assert decide["requestBody"]["content"]["application/json"]["schema"]["properties"]["decision"]["enum"] == [
        "approve", "reject"]
    assert {"200", "400", "403", "404", "409", "503"} <= set(decide["responses"])
