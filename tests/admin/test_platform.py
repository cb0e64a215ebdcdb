"""The admin console on the real platform (``lms run``: JupyterHub, proxy, LMS service; SQLite):
the hub obeys the console's run-time settings and account states, and the LMS service's own
hub role lets it change groups, stop servers and delete users."""
from __future__ import annotations

import html
import re

import pytest

from tests.e2e.platform import Platform

PASSWORD = "copper-lantern-51-quiet"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("console-platform") / "data").start()
    yield p
    p.stop()
    errors = [line for line in p.log().splitlines() if re.search(r"\b500 (GET|POST|PUT|DELETE|PATCH)\b", line)]
    assert not errors, "the platform answered 500:\n" + "\n".join(errors)


def console_session(p: Platform, name: str):
    """``name``'s token, with the _xsrf a page of theirs gave (for the console's forms)."""
    s = p.as_user(p.token(name))
    found = re.search(r'name="_xsrf" value="([^"]+)"', s.get(p.lms + "profile").text)
    s.xsrf = html.unescape(found.group(1))
    return s


def post(s, url: str, **data):
    return s.post(url, data={"_xsrf": s.xsrf, **data}, allow_redirects=False)


def hub_login(p: Platform, name: str, password: str):
    import requests

    s = requests.Session()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', s.get(f"{p.url}/hub/login").text).group(1)
    return s.post(f"{p.url}/hub/login", data={"username": name, "password": password, "_xsrf": xsrf},
                  allow_redirects=False)


def test_the_hub_follows_the_console(hub):
    p = hub
    boss = console_session(p, "admin")
    # sign-up needs approval once the console says so (the platform started with open sign-up)
    r = boss.patch(p.lms + "api/v1/admin/settings", json={"signup_mode": "approved"})
    assert r.status_code == 200, r.text
    answer = p.signup("waiting-newbie", PASSWORD)
    assert "approval" in answer.text
    refused = hub_login(p, "waiting-newbie", PASSWORD)
    assert refused.status_code == 403 and "not been authorized" in refused.text
    boss.patch(p.lms + "api/v1/admin/settings", json={"signup_mode": "open"})
    assert hub_login(p, "student2", p.demo_password).status_code == 302

    # a deactivated account cannot log in nor use the LMS; reactivated, it can
    student = p.as_user(p.token("student"))
    assert student.get(p.lms + "purchases").status_code == 200
    assert post(boss, p.lms + "admin/users/action", user="student", action="deactivate").status_code == 303
    refused = hub_login(p, "student", p.demo_password)
    assert refused.status_code == 403 and "deactivated" in refused.text
    assert student.get(p.lms + "purchases").status_code == 403
    assert post(boss, p.lms + "admin/users/action", user="student", action="reactivate").status_code == 303
    assert hub_login(p, "student", p.demo_password).status_code == 302

    # two-factor authentication for everyone: a student is shown the key to enrol
    boss.patch(p.lms + "api/v1/admin/settings", json={"require_2fa": "everyone"})
    refused = hub_login(p, "student2", p.demo_password)
    assert refused.status_code == 403 and "Every account must use two-factor authentication" in refused.text
    boss.patch(p.lms + "api/v1/admin/settings", json={"require_2fa": "off"})

    # roles through the hub's groups, with the service's own hub role
    p.as_user(p.token("student2")).get(p.lms + "purchases")  # the LMS lists whom it has seen
    assert post(boss, p.lms + "admin/users/action", user="student2", action="make_instructor").status_code == 303
    assert "student2" in p.hub("GET", "groups/instructors").json()["users"]
    assert post(boss, p.lms + "admin/users/action", user="student2", action="make_admin").status_code == 303
    assert "student2" in p.hub("GET", "groups/lms-admins").json()["users"]
    assert post(boss, p.lms + "admin/users/action", user="student2", action="remove_admin").status_code == 303
    assert "student2" not in p.hub("GET", "groups/lms-admins").json()["users"]

    # deleting an account deletes the hub user, whose authenticator erases the LMS data
    p.token("leaving-soon")
    console_session(p, "leaving-soon")  # the LMS has seen them
    r = post(boss, p.lms + "admin/users/delete", user="leaving-soon", confirm="leaving-soon")
    assert r.status_code == 303, r.text[-2000:]
    assert p.hub("GET", "users/leaving-soon").status_code == 404
    log = boss.get(p.lms + "api/v1/admin/audit", params={"actor": "admin"}).json()
    assert {"user.delete", "user.deactivate", "user.reactivate", "settings.update"} <= {
        e["action"] for e in log["entries"]}
