"""The public certificate verification page in real Chromium: valid, shareable, then revoked."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lms_extension.db import make_engine, session_factory
from lms_extension.models import Course, User
from lms_extension.services import certificates
from tests.e2e.platform import Platform

ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"
COURSE = "python-for-beginners"


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    platform = Platform(tmp_path_factory.mktemp("cert-browser") / "data").start()
    engine = make_engine(f"sqlite:///{platform.data_dir / 'lms.sqlite'}")
    factory = session_factory(engine)
    platform.token("student")  # the hub user exists; the LMS mirrors it on first request
    platform.as_user(platform.token("student")).post(platform.lms + f"api/v1/courses/{COURSE}/enroll")
    with factory() as session:
        user = session.scalars(select(User).where(User.hub_name == "student")).one()
        user.display_name = "Grace Hopper"
        course = session.scalars(select(Course).where(Course.slug == COURSE)).one()
        cert = certificates.issue(session, user, course)
        session.commit()
        ids = cert.uid, user.id, course.id
    yield platform, factory, ids
    engine.dispose()
    platform.stop()


@pytest.mark.browser
def test_verification_page_valid_then_revoked(browser, issued):
    platform, factory, (uid, user_id, course_id) = issued
    page = browser.new_page()
    page.goto(platform.lms + f"certificates/{uid}")
    expect(page.locator("#status")).to_contain_text("Valid")
    expect(page.locator("#student")).to_have_text("Grace Hopper")
    expect(page.locator("#course")).to_have_text("Python for Beginners")
    assert page.locator('meta[property="og:title"]').get_attribute("content") == \
        "Grace Hopper completed Python for Beginners"
    pdf = page.request.get(platform.url + page.locator("#download-pdf").get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    assert page.locator("#add-to-linkedin").count() == 0  # visitors are not the owner
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "certificate-valid.png"), full_page=True)
    with factory() as session:
        certificates.revoke_for_course(session, user_id, course_id, "purchase refunded")
        session.commit()
    page.reload()
    expect(page.locator("#certificate")).to_have_attribute("data-status", "revoked")
    expect(page.locator("#status")).to_contain_text(re.compile("Revoked"))
    assert page.locator("#download-pdf").count() == 0
    page.goto(platform.lms + "certificates/" + "0" * 32)
    expect(page.locator("body")).to_contain_text("no certificate with this id")
    page.close()

