"""The admin's email pages and the digest choice in Chromium at 1280 and 390 px: nothing scrolls
sideways, the template editor's live preview follows typing and shows a clear message for a
broken template, retry now works from the outbox page."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from lms_extension.models.mail import DEAD, FAILED, MailOutbox
from lms_extension.services import mail
from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium fixture)
from tests.digests.test_pages import service  # noqa: F401  (the served app)
from tests.factories import make_user

OVERFLOW_JS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
SHOTS = Path(os.environ.get("LMS_SCREENSHOTS", Path(__file__).resolve().parents[1] / "artifacts" / "digests"))


@pytest.fixture
def sqlite_only(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the pages are the same on both databases; Chromium runs once")


@pytest.mark.parametrize("width", [1280, 390])
def test_email_pages_fit_and_work(browser, service, tag, width, sqlite_only):  # noqa: F811
    name = f"mailadm-{tag}"
    with service.factory() as db:
        admin = make_user(db, name, admin=True)
        admin.email = f"{name}@example.org"
        rows = [mail.enqueue(db, to=f"someone.with.a.long.address-{i}-{tag}@students.example.org", kind="reply",
                             subject=f"Grace replied to \u201cWhy does my loop never end when I count down?\u201d {i}",
                             text="x") for i in range(2)]
        db.flush()
        db.execute(update(MailOutbox).where(MailOutbox.id == rows[0].id).values(
            status=FAILED, attempts=1, last_error="550 5.1.1 <someone@students.example.org>: Recipient address "
                                                  "rejected: User unknown in virtual mailbox table"))
        db.execute(update(MailOutbox).where(MailOutbox.id == rows[1].id).values(
            status=DEAD, attempts=8, last_error="ConnectionRefusedError: [Errno 111] Connection refused"))
        db.commit()
        ids = [r.id for r in rows]
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  extra_http_headers={"X-Test-User": name, "X-Test-Roles": "admin"})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(service.base + "admin/email")
        expect(page.locator("#outbox-problems")).to_be_visible()
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.screenshot(path=str(SHOTS / f"outbox-{width}.png"), full_page=True)
        page.locator(f'tr[data-email="{ids[0]}"] button').click()
        expect(page.locator("body")).to_contain_text("1 email queued again")

        page.goto(service.base + "admin/email/templates")
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.screenshot(path=str(SHOTS / f"templates-{width}.png"), full_page=True)

        page.goto(service.base + "admin/email/templates/digest")
        expect(page.locator("#preview-subject")).to_contain_text("Your daily digest")
        assert page.evaluate(OVERFLOW_JS) <= 0
        frame = page.frame_locator("#preview-html")
        expect(frame.locator("body")).to_contain_text("Is recursion allowed in exercise 3?")
        page.screenshot(path=str(SHOTS / f"template-digest-{width}.png"), full_page=True)
        page.locator("#preview-html").screenshot(path=str(SHOTS / f"template-digest-html-{width}.png"))
        # live preview: typing changes it; a broken template says what is wrong, where
        page.fill("#tpl-subject", "Digest for {{ name }}")
        expect(page.locator("#preview-subject")).to_have_text("Digest for Ada Lovelace", timeout=5_000)
        page.fill("#tpl-text", "{{ ''.__class__.__mro__ }}")
        expect(page.locator("#preview-error")).to_contain_text("not allowed", timeout=5_000)
        expect(page.locator("#tpl-text")).to_have_attribute("aria-invalid", "true")
        page.screenshot(path=str(SHOTS / f"template-error-{width}.png"), full_page=True)
        assert not errors, errors
        page.click("#save-template")  # answered 400 with the form and the message
        expect(page.locator("#template-error")).to_contain_text("Text body")
        assert page.evaluate(OVERFLOW_JS) <= 0
        errors.clear()

        page.goto(service.base + "notifications/preferences")
        expect(page.locator("#digest-box")).to_be_visible()
        page.check("#digest-daily")
        page.click("#save-digest")
        expect(page.locator("#digest-daily")).to_be_checked()
        assert page.evaluate(OVERFLOW_JS) <= 0
        page.locator("#digest-box").screenshot(path=str(SHOTS / f"digest-choice-{width}.png"))
        assert not [e for e in errors if "favicon" not in e], errors
    finally:
        context.close()
        with service.factory() as db:
            db.execute(MailOutbox.__table__.delete().where(MailOutbox.id.in_(ids)))
            db.commit()
