"""On the real platform (JupyterHub, proxy, the LMS service as the hub runs it): a new user
signs up, applies in the browser, an admin approves, and the REAL hub's ``instructors`` group
and scopes change through the service's own token and role (hub_config/roles.py
``lms-service``). The applicant's LMS session predates the role; signing in again from the
status page gives it."""
from __future__ import annotations

import re
import uuid

import requests

from .conftest import png


def xsrf_of(page: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)


def test_apply_approve_and_the_real_hub_group(sqlite_platform):
    p = sqlite_platform
    name = f"applicant-{uuid.uuid4().hex[:6]}"
    browser = requests.Session()
    r = p.signup(name, "a-long-enough-password-42", display_name="Real Applicant", session=browser)
    assert r.status_code == 200 and r.url == p.lms, (r.url, r.text[:300])
    form = browser.get(p.lms + "teach/apply")
    assert form.status_code == 200 and 'id="apply-form"' in form.text
    sent = browser.post(p.lms + "teach/apply", data={
        "_xsrf": xsrf_of(form.text), "display_name": "Real Applicant", "headline": "Teaches on a real hub",
        "bio": "Ten years of *notebooks*.", "payout_country": "NL"},
        files={"photo": ("me.png", png(), "image/png")})
    assert sent.status_code == 200 and 'data-status="pending"' in sent.text, sent.text[:500]
    assert name not in p.hub("GET", "groups/instructors").json()["users"]

    admin = p.login("admin", p.demo_password)
    listing = admin.get(p.lms + "admin/applications")
    assert listing.status_code == 200, listing.text[:300]
    app_id = re.search(rf'id="application-(\d+)"(?:(?!</article>).)*?\({re.escape(name)}\)', listing.text, re.S).group(1)
    decided = admin.post(p.lms + f"admin/applications/{app_id}/decision",
                         data={"_xsrf": xsrf_of(listing.text), "decision": "approve", "reason": "Welcome aboard"})
    assert decided.status_code == 200 and decided.url == p.lms + "admin/applications", decided.text[:500]
    assert "application is approved" in decided.text

    # the hub's own group and the scopes it gives now
    assert name in p.hub("GET", "groups/instructors").json()["users"]
    token = p.token(name)
    scopes = requests.get(f"{p.url}/hub/api/user", headers={"Authorization": f"token {token}"}).json()["scopes"]
    assert "custom:lms:teach" in scopes

    # the applicant's session was signed in before the role: the status page says so ...
    status = browser.get(p.lms + "teach/apply")
    assert 'data-status="approved"' in status.text and "Welcome aboard" in status.text
    assert 'id="refresh-role"' in status.text
    # ... and signing in again (through the hub's OAuth, no password) opens Teaching
    again = browser.post(p.lms + "teach/apply/refresh", data={"_xsrf": xsrf_of(status.text)})
    assert again.status_code == 200 and again.url == p.lms + "teach", (again.url, again.text[:300])
    assert 'href="/services/lms/teach"' in again.text  # the header's Teaching link
    person = requests.get(p.lms + f"instructors/{name}")
    assert person.status_code == 200 and "Teaches on a real hub" in person.text and "<em>notebooks</em>" in person.text
