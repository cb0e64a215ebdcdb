"""Account email on the real platform (``lms run``: hub + proxy + LMS service) with a real
``lms worker`` delivering over SMTP to aiosmtpd: the links are read from the received emails
and followed over HTTP, as a person would."""
from __future__ import annotations

import re
import secrets
import statistics
import time
from datetime import timedelta

import requests
from sqlalchemy import text

from lms_extension.models.base import utcnow
from tests.account_email.conftest import (PASSWORD, forgot, link_in, mails_to, next_mail, signup, without_tokens,
                                          xsrf)
from tests.mail.conftest import wait_for


def test_sign_up_sends_a_verification_link_that_confirms_the_address(hub, smtp):
    name = "ver" + secrets.token_hex(3)
    address = f"{name}@example.org"
    s = signup(hub, name, address)
    message = next_mail(smtp, address)
    assert "Confirm your email address" in message["Subject"]
    assert message.get_body(preferencelist=("html",)) is not None
    link = link_in(message, re.escape(hub.lms) + "email/confirm")
    profile = s.get(hub.lms + "profile").text
    assert 'id="email-unverified"' in profile and address in profile
    # followed from the mail client: no login needed
    assert link.startswith(hub.url)
    page = requests.get(link)
    assert page.status_code == 200 and "is confirmed" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'id="email-verified"' in s.get(hub.lms + "profile").text
    again = requests.get(link)
    assert again.status_code == 410 and "already been used" in again.text and "Traceback" not in again.text
    # logging in again sends nothing more
    s.get(hub.lms + "login")
    time.sleep(1)
    assert len(mails_to(smtp, address)) == 1
    # the admin sees it verified
    admin = hub.login("admin", hub.demo_password)
    row = re.search(rf'<tr data-user="{name}">.*?</tr>', admin.get(hub.lms + f"admin/users?q={name}").text, re.S)
    assert row and "email-verified" in row.group(0)
    api = admin.get(hub.lms + f"api/v1/admin/users?q={name}",
                    headers={"Authorization": f"token {hub.token('admin')}"}).json()
    assert api["users"][0]["email_verified"] is True


def test_forged_and_expired_links_get_a_clear_page(hub, smtp):
    for url in (hub.lms + "email/confirm?token=" + "A" * 43, hub.lms + "email/confirm",
                hub.lms + "email/confirm?token=" + "%00" * 50, hub.lms + "email/confirm?token=" + "x" * 5000):
        r = requests.get(url)
        assert r.status_code == 404 and "not valid" in r.text and "Traceback" not in r.text, url
    for url in (f"{hub.url}/hub/reset-password?token=" + "A" * 43, f"{hub.url}/hub/reset-password",
                f"{hub.url}/hub/reset-password?token=%0d%0aSet-Cookie:x=1"):
        r = requests.get(url)
        assert r.status_code == 404 and "not valid" in r.text and "Ask for a new link" in r.text, url
    name = "exp" + secrets.token_hex(3)
    signup(hub, name, f"{name}@example.org")
    hub_smtp = smtp
    next_mail(hub_smtp, f"{name}@example.org")
    forgot(hub, f"{name}@example.org")
    link = link_in(next_mail(hub_smtp, f"{name}@example.org", 1), re.escape(hub.url) + "/hub/reset-password")
    with hub.db.begin() as conn:  # an hour and a second later
        conn.execute(text("UPDATE email_tokens SET expires_at = :t WHERE purpose = 'reset'"),
                     {"t": utcnow() - timedelta(seconds=1)})
    r = requests.get(link)
    assert r.status_code == 410 and "expired" in r.text


def test_reset_answers_the_same_for_unknown_addresses(hub, smtp):
    name = "rst" + secrets.token_hex(3)
    known = f"{name}@example.org"
    signup(hub, name, known)
    next_mail(smtp, known)
    unknown = f"nobody-{secrets.token_hex(3)}@example.org"
    answers = {}
    timings = {"known": [], "unknown": []}
    for _ in range(8):
        for label, address in (("known", known), ("unknown", unknown)):
            s = requests.Session()
            token = xsrf(s, f"{hub.url}/hub/forgot-password")
            started = time.perf_counter()
            r = s.post(f"{hub.url}/hub/forgot-password", data={"email": address, "_xsrf": token})
            timings[label].append(time.perf_counter() - started)
            answers.setdefault(label, set()).add((r.status_code, without_tokens(r.text)))
    assert answers["known"] == answers["unknown"] and len(answers["known"]) == 1
    status, page = next(iter(answers["known"]))
    assert status == 200 and "If an account uses this address" in page
    known_ms, unknown_ms = (statistics.median(timings[k]) * 1000 for k in ("known", "unknown"))
    print(f"forgot-password answer, median: known {known_ms:.1f} ms, unknown {unknown_ms:.1f} ms")
    assert abs(known_ms - unknown_ms) < 50
    wait_for(lambda: len(mails_to(smtp, known)) == 4, 30, "three reset emails (the hourly limit of one account)")
    time.sleep(1)
    assert mails_to(smtp, unknown) == []


def test_reset_link_sets_the_password_once_and_kills_the_older_links(hub, smtp):
    name = "pw" + secrets.token_hex(3)
    address = f"{name}@example.org"
    signup(hub, name, address)
    next_mail(smtp, address)
    forgot(hub, address)
    older = link_in(next_mail(smtp, address, 1), re.escape(hub.url) + "/hub/reset-password")
    forgot(hub, address.upper())  # the address matches whatever its case
    link = link_in(next_mail(smtp, address, 2), re.escape(hub.url) + "/hub/reset-password")
    s = requests.Session()
    form = s.get(link)
    assert form.status_code == 200 and name in form.text
    token = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    secret = link.split("token=")[1]

    def submit(password, confirmation=None):
        return s.post(f"{hub.url}/hub/reset-password", data={"_xsrf": token, "token": secret, "password": password,
                                                             "password_confirmation": confirmation or password})
    r = submit("password123")  # on the leaked-password list, as at sign-up
    assert r.status_code == 400 and "too common" in r.text
    r = submit("short")
    assert r.status_code == 400 and "at least" in r.text
    r = submit("a new and long passphrase", "something else entirely")
    assert r.status_code == 400 and "differ" in r.text
    r = submit("x" * 73)
    assert r.status_code == 400 and "at most 72 bytes" in r.text
    new = "a new and long passphrase " + secrets.token_hex(2)
    r = submit(new)
    assert r.status_code == 200 and "Password changed" in r.text
    assert hub.login(name, new)  # the new password works
    old = requests.Session()
    bad = old.post(f"{hub.url}/hub/login", allow_redirects=False,
                   data={"username": name, "password": PASSWORD, "_xsrf": xsrf(old, f"{hub.url}/hub/login")})
    assert bad.status_code == 403
    assert submit("yet another passphrase 42").status_code == 410  # used
    for dead in (link, older):
        r = requests.get(dead)
        assert r.status_code == 410 and "already been used" in r.text


def test_change_email_needs_the_password_and_the_new_address(hub, smtp):
    name = "chg" + secrets.token_hex(3)
    old, new = f"{name}@example.org", f"{name}-new@example.net"
    s = signup(hub, name, old)
    requests.get(link_in(next_mail(smtp, old), re.escape(hub.lms) + "email/confirm"))
    page = s.get(f"{hub.url}/hub/change-email")
    assert page.status_code == 200 and old in page.text
    token = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)

    def change(address, password=PASSWORD):
        return s.post(f"{hub.url}/hub/change-email", data={"_xsrf": token, "new_email": address, "password": password})
    r = change(new, "not my password")
    assert r.status_code == 403 and "not right" in r.text
    for hostile in (f"{new}\r\nBcc: victim@example.org", "x" * 10_000 + "@example.org", f"Eve <{new}>",
                    f"{new},victim@example.org", "", old):
        r = change(hostile)
        assert r.status_code == 400 and 'id="change-email-error"' in r.text, hostile
    r = change(new)
    assert r.status_code == 200 and "changes when you open it" in r.text
    message = next_mail(smtp, new)
    profile = s.get(hub.lms + "profile").text
    assert old in profile and 'id="email-pending"' in profile  # not changed yet
    done = requests.get(link_in(message, re.escape(hub.lms) + "email/confirm"))
    assert done.status_code == 200 and "is now" in done.text
    notice = next_mail(smtp, old, 1)
    assert "was changed" in notice["Subject"] and new in notice.get_body(preferencelist=("plain",)).get_content()
    # the hub still holds the sign-up address in user_info: the next sync keeps the new one
    profile = s.get(hub.lms + "profile").text
    assert new in profile and 'id="email-verified"' in profile
    # password resets now go to the new address only
    forgot(hub, old)
    forgot(hub, new)
    next_mail(smtp, new, 1)
    time.sleep(1)
    assert len(mails_to(smtp, old)) == 2


def test_hostile_reset_requests_send_nothing(hub, smtp):
    before = smtp.inbox.count()
    for hostile in ("a@example.org\r\nBcc: victim@example.org", "x" * 100_000, "<script>@example.org", ""):
        r = forgot(hub, hostile)
        assert r.status_code == 400 and 'id="forgot-error"' in r.text and "<script>@" not in r.text
    time.sleep(1)
    assert smtp.inbox.count() == before


def test_sign_up_refuses_an_address_no_email_could_go_to(hub):
    for hostile in ('"Eve" <eve@example.org>', "eve@example.org\r\nBcc: victim@example.org", "eve<x>@example.org",
                    "eve@example.org,victim@example.org", "e" * 300 + "@example.org"):
        s = requests.Session()
        r = s.post(f"{hub.url}/hub/signup", data={
            "username": "eve" + secrets.token_hex(3), "signup_password": PASSWORD,
            "signup_password_confirmation": PASSWORD, "email": hostile, "display_name": "Eve",
            "_xsrf": xsrf(s, f"{hub.url}/hub/signup")})
        assert r.status_code == 400 and "Enter your email address" in r.text, hostile


def test_reset_requests_per_address_are_limited(hub):
    s = requests.Session()
    token = xsrf(s, f"{hub.url}/hub/forgot-password")
    statuses = [s.post(f"{hub.url}/hub/forgot-password", data={"email": "limit@example.org", "_xsrf": token}).status_code
                for _ in range(45)]
    assert statuses[0] == 200 and statuses[-1] == 429
    assert "Too many requests" in s.post(f"{hub.url}/hub/forgot-password",
                                         data={"email": "limit@example.org", "_xsrf": token}).text
