"""Every LMS response carries the security headers; pages run no script the policy did not allow;
absolute links never come from the Host header; notices are not free text in the URL.

Fetched from a real platform (``lms run``, demo data) through the proxy, as a visitor and as
logged-in users, for every route the service has (listed from its handler modules), then
checked in real Chromium for Content-Security-Policy violations on the pages that run scripts.
"""
from __future__ import annotations

import re
import io
import uuid
from html.parser import HTMLParser

import pytest
import requests
from sqlalchemy import select

from lms_extension.models import Course, User
from lms_extension.models.commerce import Order
from lms_extension.models.learning import Certificate
from lms_extension.web.app import HANDLER_MODULES
from tests.browser.conftest import browser  # noqa: F401  (fixture)

FREE = "python-for-beginners"
PAID = "data-analysis-with-pandas"
LESSON = "03-lists-and-loops"
CHALLENGE = "sum-two"
FILL = {"courses": FREE, "lessons": LESSON, "challenges": CHALLENGE, "preview": LESSON, "quizzes": "q1",
        "resources": "notes.txt", "certificates": "nosuchcert", "achievements": "first-lesson",
        "assignments": LESSON, "reviews": "1", "wishlist": FREE, "reports": "1", "threads": "1", "posts": "1"}


def route_paths() -> list[str]:
    """One concrete path per route of the service (groups filled with demo data)."""
    paths = []
    for module in HANDLER_MODULES:
        for pattern, _handler in module.default_handlers:
            out, previous = "", ""
            for part in re.split(r"(\([^)]*\))", pattern):
                if part.startswith("("):
                    if part in ("([0-9]+)", "([0-9]{1,9})", r"(\d{1,9})"):
                        value = "1"
                    elif "|" in part:
                        value = part.strip("()").split("|")[0]
                    else:
                        value = FILL.get(previous.rstrip("/").rsplit("/", 1)[-1], "x")
                    out += value
                else:
                    out += part.replace("\\.", ".")
                    previous = part
            paths.append(out)
    return sorted(set(paths))


class Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.handlers: list[tuple[str, str]] = []
        self.js_urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.js_urls.append(value)


def check_headers(r: requests.Response, where: str) -> None:
    h = r.headers
    csp = h.get("Content-Security-Policy", "")
    assert csp, f"{where}: no Content-Security-Policy"
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", f"{where}: {csp}"
    script = directives.get("script-src") or directives.get("default-src", "")
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script and "*" not in script.split(), \
        f"{where}: {csp}"
    assert directives.get("object-src") == "object-src 'none'", f"{where}: {csp}"
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "same-origin", "no-referrer",
                                        "strict-origin"), where
    if "text/html" in h.get("Content-Type", ""):
        nonce = re.search(r"'nonce-([^']+)'", script)
        parser = Scripts()
        parser.feed(r.text)
        for attrs in parser.scripts:
            assert nonce and attrs.get("nonce") == nonce.group(1), f"{where}: <script {attrs}> without the nonce"
        assert not parser.handlers, f"{where}: inline event handlers {parser.handlers}"
        assert not parser.js_urls, f"{where}: javascript: URLs {parser.js_urls}"


@pytest.fixture(scope="module")
def users(sandbox_platform):
    p = sandbox_platform
    sessions = {"visitor": requests.Session()}
    for name in ("student", "instructor", "admin"):
        sessions[name] = p.login(name, p.demo_password)
        sessions[name].get(f"{p.lms}login", timeout=60)  # completes the service's OAuth handshake
    # the student is enrolled in the free course, so its lesson and challenge pages render
    page = sessions["student"].get(f"{p.lms}courses/{FREE}", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    sessions["student"].post(f"{p.lms}courses/{FREE}/enroll", data={"_xsrf": xsrf.group(1)}, timeout=30)
    return sessions


def test_the_route_list_covers_the_service():
    paths = route_paths()
    assert len(paths) > 80
    assert "checkout" in paths and f"courses/{FREE}/lessons/{LESSON}/challenges/{CHALLENGE}" in paths


@pytest.mark.parametrize("who", ["visitor", "student", "instructor", "admin"])
def test_every_route_sends_the_headers(sandbox_platform, users, who):
    p, s = sandbox_platform, users[who]
    html_pages = 0
    for path in route_paths() + ["", "static/lms.css", "static/challenge.js", "no-such-page", "oauth_callback"]:
        r = s.get(p.lms + path, allow_redirects=False, timeout=60, stream=True)
        if r.headers.get("Content-Type", "").startswith("text/event-stream"):
            # the bell's live stream stays open for minutes: its headers are what is checked
            assert r.status_code == 200, (who, path, r.status_code)
            check_headers(r, f"{who} GET /{path} -> {r.status_code}")
            r.close()
            continue
        assert r.status_code < 500, (who, path, r.status_code, r.text[:300])
        check_headers(r, f"{who} GET /{path} -> {r.status_code}")
        html_pages += "text/html" in r.headers.get("Content-Type", "") and r.status_code == 200
    assert html_pages >= (3 if who == "visitor" else 12), html_pages


def test_pages_that_run_scripts_carry_the_nonce(sandbox_platform, users):
    p, s = sandbox_platform, users["student"]
    page = s.get(f"{p.lms}courses/{FREE}/lessons/{LESSON}/challenges/{CHALLENGE}", timeout=60)
    assert page.status_code == 200
    assert page.text.count("<script") >= 3  # the editor, the page's own code, its data
    check_headers(page, "challenge page")
    checkout = s.get(f"{p.lms}checkout?course={PAID}", timeout=60)
    assert checkout.status_code == 200 and "onchange" not in checkout.text
    check_headers(checkout, "checkout page")
    # two requests, two nonces
    again = s.get(f"{p.lms}checkout?course={PAID}", timeout=60)
    nonce = lambda r: re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)  # noqa: E731
    assert nonce(checkout) != nonce(again)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def lms_session_xsrf(s: requests.Session) -> str:
    return next(c.value for c in s.cookies if c.name == "_xsrf" and c.path.startswith("/services/lms"))


def test_absolute_links_do_not_come_from_the_host_header(sandbox_platform, users):
    p = sandbox_platform
    # a certificate of the student, straight in the platform's database
    uid = uuid.uuid4().hex
    with platform_db(p) as db:
        user = db.scalars(select(User).where(User.hub_name == "student")).one()
        course = db.scalars(select(Course).where(Course.slug == FREE)).one()
        db.add(Certificate(uid=uid, user_id=user.id, course_id=course.id, student_name="Stu Dent",
                           course_title=course.title, instructor_name="Ins"))
        db.commit()
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    token = p.token("student")
    api = {**evil, "Authorization": f"token {token}"}
    checks = [(f"certificates/{uid}", evil, 1), (f"certificates/{uid}.pdf", evil, 1),
              (f"api/v1/certificates/{uid}", evil, 1), ("api/v1/me/certificates", api, 1),
              ("achievements", api, 1), ("api/v1/me/achievements", api, 0), (f"checkout?course={PAID}", api, 0),
              ("", evil, 0)]
    for path, headers, absolute in checks:
        r = requests.get(p.url + "/services/lms/" + path, headers=headers, allow_redirects=False, timeout=60)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        body = pdf_text(r.content) if path.endswith(".pdf") else r.text
        assert "evil.example" not in body and "evil.example" not in r.headers.get("Location", ""), path
        # the certificate's verify URL (page, OpenGraph, PDF, API) is absolute, from LMS_PUBLIC_URL
        assert body.count(f"{p.url}/services/lms/certificates/") >= absolute, (path, body[:2000])
    # a Stripe checkout started with a forged Host still sends the buyer back to the real address
    r = requests.post(p.url + "/services/lms/api/v1/payments/checkout", json={"course": PAID}, headers=api,
                      timeout=60)
    assert r.status_code == 201, r.text[:300]
    stripe_page = requests.get(r.json()["checkout_url"], timeout=30).text
    assert "evil.example" not in stripe_page and f"{p.url}/services/lms/checkout/cancel" in stripe_page


def test_a_crafted_message_parameter_shows_nothing(sandbox_platform, users):
    p, s = sandbox_platform, users["admin"]
    crafted = "Your account is locked: call +1 555 0100 and give your password"
    for path in ("purchases", "refunds", "earnings", "", "achievements", f"courses/{FREE}"):
        r = s.get(f"{p.lms}{path}", params={"message": crafted, "notice": crafted, "error": crafted}, timeout=60)
        assert r.status_code == 200, (path, r.status_code)
        assert "call +1 555" not in r.text, path


def test_notices_travel_in_a_signed_one_time_cookie(sandbox_platform, users):
    p, s = sandbox_platform, users["student"]
    order_id = _old_paid_order(p)
    s.get(f"{p.lms}purchases", timeout=60)
    xsrf = lms_session_xsrf(s)
    # a refund asked too late is refused: the reason comes back as a notice on the purchases page
    r = s.post(f"{p.lms}purchases/{order_id}/refund", data={"_xsrf": xsrf}, allow_redirects=False, timeout=60)
    assert r.status_code in (302, 303), (r.status_code, r.text[:300])
    location = r.headers["Location"]
    assert location.endswith("/purchases") and "message" not in location, location
    cookie = next(c for c in s.cookies if "notice" in c.name)
    assert "refund" not in cookie.value.lower()  # signed and encoded, not the text itself
    shown = s.get(f"{p.lms}purchases", timeout=60)
    assert 'id="message"' in shown.text and "refund" in shown.text.lower()
    again = s.get(f"{p.lms}purchases", timeout=60)
    assert 'id="message"' not in again.text  # one time
    # a cookie forged without the service's secret is ignored
    s.cookies.set(cookie.name, "Call +1 555 0100 now", domain=cookie.domain, path=cookie.path)
    forged = s.get(f"{p.lms}purchases", timeout=60)
    assert "555 0100" not in forged.text and 'id="message"' not in forged.text


def platform_db(p):
    from lms_extension.db import make_engine, session_factory

    return session_factory(make_engine(f"sqlite:///{p.data_dir / 'lms.sqlite'}"))()


def _old_paid_order(p) -> int:
    """A paid order of the student from 90 days ago: past the refund window."""
    from datetime import timedelta

    from lms_extension.models.base import utcnow

    with platform_db(p) as db:
        user = db.scalars(select(User).where(User.hub_name == "student")).one()
        course = db.scalars(select(Course).where(Course.slug == PAID)).one()
        long_ago = utcnow() - timedelta(days=90)
        order = Order(user_id=user.id, kind="course", course_id=course.id, status="paid", currency="usd",
                      country="US", subtotal_cents=4900, total_cents=4900, paid_at=long_ago, created_at=long_ago)
        db.add(order)
        db.commit()
        return order.id


def test_scripts_run_under_the_policy_in_chromium(browser, sandbox_platform):
    """Catalog search, the checkout page's country change and the challenge editor work, and
    Chromium reports no Content-Security-Policy violation on any of them."""
    from playwright.sync_api import expect

    p = sandbox_platform
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: violations.append(f"{page.url}: {e}"))
    page.goto(f"{p.url}/hub/login")
    page.fill("#username_input", "student")
    page.fill("#password_input", p.demo_password)
    page.click("#login_submit")
    expect(page.locator(".who")).to_have_text("student")

    page.goto(p.lms)
    page.fill("form.search input[name=q]", "pandas")
    page.keyboard.press("Enter")
    expect(page.locator(f'a.card[data-slug="{PAID}"]')).to_be_visible()

    page.goto(f"{p.lms}checkout?course={PAID}")
    expect(page.locator("#total")).to_contain_text("49.00")
    page.select_option("#country", "DE")  # submits itself: the script is a static file now
    expect(page.locator("#row-tax")).to_contain_text("includes VAT 19%")

    page.goto(f"{p.lms}courses/{FREE}/lessons/{LESSON}/challenges/{CHALLENGE}")
    expect(page.locator("#editor .cm-content")).to_be_visible()
    page.locator("#editor .cm-content").click()
    page.keyboard.type("print(1)")
    expect(page.locator("#editor .cm-content")).to_contain_text("print(1)")
    page.close()
    assert not violations, violations
