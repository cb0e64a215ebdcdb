"""Roles: students, instructors and admins get exactly their scopes; approval of sign-ups."""
import pytest
import requests

from tests.e2e.platform import Platform


def hub_scopes(p, token):
    return set(requests.get(f"{p.url}/hub/api/user", headers={"Authorization": f"token {token}"}).json()["scopes"])


def test_scopes_by_role(platform):
    student, instructor, admin = (platform.token(n) for n in ("student", "instructor", "admin"))
    assert "custom:lms:teach" not in hub_scopes(platform, student)
    assert "custom:lms:admin" not in hub_scopes(platform, student)
    assert "access:services!service=lms" in hub_scopes(platform, student)
    assert "custom:lms:teach" in hub_scopes(platform, instructor)
    assert "custom:lms:admin" not in hub_scopes(platform, instructor)
    assert {"custom:lms:teach", "custom:lms:admin"} <= hub_scopes(platform, admin)
    # a student may not administer the hub
    r = requests.get(f"{platform.url}/hub/api/users", headers={"Authorization": f"token {student}"})
    assert r.status_code == 403


def test_teaching_page_by_role(platform):
    page = lambda name: platform.as_user(platform.token(name)).get(platform.lms + "teach")
    assert page("student").status_code == 403
    mine = page("instructor")
    assert mine.status_code == 200 and "Python for Beginners" in mine.text
    assert page("admin").status_code == 200
    nav = platform.as_user(platform.token("instructor")).get(platform.lms).text
    assert 'href="/services/lms/teach"' in nav
    assert 'href="/services/lms/admin"' not in nav
    admin = platform.as_user(platform.token("admin"))
    assert 'href="/services/lms/admin"' in admin.get(platform.lms).text  # the LMS's admin console
    console = admin.get(platform.lms + "admin")
    assert console.status_code == 200 and 'href="/hub/admin"' in console.text  # and from it, the hub's


@pytest.fixture(scope="module")
def approval_platform(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("approval") / "data", extra_env={"LMS_OPEN_SIGNUP": "0"}).start()
    yield p
    p.stop()


def test_signup_waits_for_admin_approval(approval_platform):
    p = approval_platform
    r = p.signup("newbie", "newbie-password-1")
    assert r.status_code == 200 and "sent to the admin" in r.text
    with pytest.raises(AssertionError):
        p.login("newbie", "newbie-password-1")
    admin = p.login("admin", p.demo_password)
    assert admin.get(f"{p.url}/hub/authorize/newbie").status_code == 200
    session = p.login("newbie", "newbie-password-1")
    assert session.get(p.lms + "login").status_code == 200


ADMIN_ONLY = [  # (method, path, body, the message the LMS answers to non-admins)
    ("post", "api/v1/payments/coupons", {"code": "X", "percent_off": 10}, "only admins create coupons"),
    ("post", "api/v1/payments/bundles", {"slug": "b"}, "only admins create bundles"),
    ("put", "api/v1/featured", {"courses": []}, "curating featured courses needs the LMS admin role"),
    ("get", "api/v1/moderation/reports", None, "moderating reviews needs the LMS admin role"),
]


@pytest.mark.parametrize("method,path,body,message", ADMIN_ONLY)
def test_admin_only_endpoints(platform, method, path, body, message):
    for name in ("student", "instructor"):
        r = platform.as_user(platform.token(name)).request(method, platform.lms + path, json=body)
        assert r.status_code == 403 and r.json()["message"] == message, (name, r.status_code, r.text[:300])
    r = requests.request(method, platform.lms + path, json=body)
    assert r.status_code == 401, r.text[:300]


def test_moderation_page_by_role(platform):
    page = lambda name: platform.as_user(platform.token(name)).get(platform.lms + "moderation")
    for name in ("student", "instructor"):
        r = page(name)
        assert r.status_code == 403 and "moderating reviews needs the LMS admin role" in r.text, name
    assert page("admin").status_code == 200
