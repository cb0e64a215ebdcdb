"""The account-email pages in real Chromium at 1280 and 390 px: sign-up, the profile's email
section, "Forgot password?", the reset form, the confirmation pages (done, used, forged), the
address change and the admin's user list. Screenshots go to LMS_SHOTS_DIR when it is set."""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest

from tests.account_email.conftest import PASSWORD, link_in, next_mail
from tests.browser.conftest import browser  # noqa: F401  (the shared Chromium fixture)

SHOTS = Path(os.environ["LMS_SHOTS_DIR"]) if os.environ.get("LMS_SHOTS_DIR") else None


def shot(page, name: str, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} at {width} px is {overflow} px wider than the window"
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_account_email_pages(browser, hub, smtp, width):  # noqa: F811
    name = f"br{width}" + secrets.token_hex(2)
    address = f"{name}@example.org"
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{hub.url}/hub/signup")
        page.fill("#email_input", address)
        page.fill("#display_name_input", "Ada Lovelace")
        page.fill("#username_input", name)
        page.fill("#password_input", PASSWORD)
        page.fill("#password_confirmation_input", PASSWORD)
        page.click("#signup_submit")
        page.wait_for_url(re.compile(re.escape(hub.lms) + ".*"))
        verify = link_in(next_mail(smtp, address), re.escape(hub.lms) + "email/confirm")

        page.goto(hub.lms + "profile")
        assert page.wait_for_selector("#email-unverified", state="visible") and page.is_visible("#resend-verification")
        shot(page, "profile-unverified", width)
        page.click("#resend-verification")
        assert "new confirmation link" in page.inner_text("#message")
        second = link_in(next_mail(smtp, address, 1), re.escape(hub.lms) + "email/confirm")
        assert second != verify

        page.goto(verify)
        assert "is confirmed" in page.inner_text("#link-done")
        shot(page, "confirm-done", width)
        page.goto(verify)
        assert "already been used" in page.inner_text("#link-error")
        shot(page, "confirm-used", width)
        page.goto(hub.lms + "email/confirm?token=" + "A" * 43)
        assert "not valid" in page.inner_text("#link-error")
        shot(page, "confirm-forged", width)

        page.goto(hub.lms + "profile")
        assert page.wait_for_selector("#email-verified", state="visible")
        shot(page, "profile-verified", width)

        # a new address: the password first, then the link sent there
        page.click("#change-email")
        page.wait_for_selector("#new_email_input")
        shot(page, "change-email", width)
        page.fill("#new_email_input", f"{name}@example.net")
        page.fill("#password_input", "wrong password")
        page.click("#change_email_submit")
        assert "not right" in page.inner_text("#change-email-error")
        shot(page, "change-email-error", width)
        page.fill("#password_input", PASSWORD)
        page.click("#change_email_submit")
        assert f"{name}@example.net" in page.inner_text("#change-email-sent")
        shot(page, "change-email-sent", width)
        change = link_in(next_mail(smtp, f"{name}@example.net"), re.escape(hub.lms) + "email/confirm")
        page.goto(hub.lms + "profile")
        assert page.wait_for_selector("#email-pending", state="visible")
        shot(page, "profile-pending", width)
        page.goto(change)
        assert "is now" in page.inner_text("#link-done")
        shot(page, "change-done", width)

        # forgotten password, logged out
        page.goto(f"{hub.url}/hub/logout")
        page.goto(f"{hub.url}/hub/login")
        assert page.wait_for_selector("#forgot-link", state="visible")
        shot(page, "login", width)
        page.click("#forgot-link a")
        page.wait_for_selector("#email_input")
        page.fill("#email_input", "not an address")
        page.click("#forgot_submit")
        assert page.wait_for_selector("#forgot-error", state="visible")
        shot(page, "forgot-error", width)
        page.fill("#email_input", f"{name}@example.net")
        page.click("#forgot_submit")
        assert "If an account uses this address" in page.inner_text("#forgot-sent")
        shot(page, "forgot-sent", width)
        reset = link_in(next_mail(smtp, f"{name}@example.net", 1), re.escape(hub.url) + "/hub/reset-password")
        page.goto(reset)
        assert name in page.inner_text("#reset-username")
        shot(page, "reset-form", width)
        page.fill("#password_input", "password123")
        page.fill("#password_confirmation_input", "password123")
        page.click("#reset_submit")
        assert "too common" in page.inner_text("#reset-error")
        shot(page, "reset-error", width)
        new = "another long passphrase " + secrets.token_hex(2)
        page.fill("#password_input", new)
        page.fill("#password_confirmation_input", new)
        page.click("#reset_submit")
        assert page.wait_for_selector("#reset-done", state="visible")
        shot(page, "reset-done", width)
        page.goto(reset)
        assert "already been used" in page.inner_text("#reset-link-error")
        shot(page, "reset-used", width)
        page.click("#reset-card a")
        page.wait_for_selector("#email_input")

        # the admin's list says which addresses are verified
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", "admin")
        page.fill("#password_input", hub.demo_password)
        page.click("#login_submit")
        page.wait_for_load_state()
        page.goto(hub.lms + "admin/users")
        row = page.locator(f'tr[data-user="{name}"]')
        assert row.locator(".email-verified").count() == 1
        shot(page, "admin-users", width)
    finally:
        context.close()
