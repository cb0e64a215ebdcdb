"""The admin console's pages and API on the real Tornado app (SQLite and PostgreSQL), in front
of a hub-like server: who may see them, each form's good and bad input, role changes that
really change the hub's groups, deactivation that locks the account out, deletion through
the hub, bulk dry runs and their application, the audit log and its CSV."""
from __future__ import annotations

import csv
import io
import re
import secrets

import pytest
import requests
from sqlalchemy import select

from lms_extension import permissions
from lms_extension.models import Enrollment
from lms_extension.models.admin import PlatformSetting
from lms_extension.services import audit, users
from tests.factories import make_course

PAGES = ["admin", "admin/users", "admin/settings", "admin/bulk", "admin/audit", "admin/audit.csv",
         "admin/users/delete?user=nobody"]
POSTS = ["admin/users/action", "admin/users/delete", "admin/settings", "admin/bulk"]
APIS = ["api/v1/admin/audit", "api/v1/admin/settings", "api/v1/admin/users"]


def tag() -> str:
    return secrets.token_hex(3)


def admin(console, name: str | None = None) -> requests.Session:
    return console.as_user(name or f"boss-{tag()}", groups=("lms-admins",))


def lms_user(console, name: str):
    with console.factory() as db:
        return users.by_name(db, name)


def entries(console, **search) -> list[dict]:
    with console.factory() as db:
        return [audit.decoded(e) for e in audit.search(db, limit=100, **search).entries]


def test_only_admins_get_in(console):
    student, teacher = console.as_user(f"stu-{tag()}"), console.as_user(f"tea-{tag()}", groups=("instructors",))
    for who in (student, teacher):
        for path in PAGES:
            r = who.get(console.url(path), allow_redirects=False)
            assert r.status_code == 403 and "admin console is for LMS admins" in r.text, path
        for path in POSTS:
            assert who.post(console.url(path), data={"user": "x"}).status_code == 403, path
        for path in APIS:
            r = who.get(console.url(path))
            assert r.status_code == 403 and r.json()["error"] == "forbidden", path
        assert who.patch(console.url("api/v1/admin/settings"), json={"refund_window_days": 1}).status_code == 403
    anonymous = requests.Session()
    assert anonymous.get(console.url("admin/users"), allow_redirects=False).status_code in (302, 303)
    assert anonymous.get(console.url("api/v1/admin/users")).status_code == 401
    boss = admin(console)
    for path in PAGES[:-1]:
        assert boss.get(console.url(path)).status_code == 200, path


def test_overview_counts_and_links(console):
    boss = admin(console)
    page = boss.get(console.url("admin")).text
    assert 'data-count="users"' in page and 'data-count="pending_refunds"' in page
    assert 'data-count="ungraded_submissions"' in page and 'data-count="pending_applications"' in page
    assert 'href="/hub/admin"' in page and 'href="/hub/authorize"' in page
    assert 'aria-current="page">Overview' in page


# -- settings ------------------------------------------------------------------------------------
def test_settings_form_saves_audits_and_refuses_bad_input(console):
    boss = admin(console)
    page = boss.get(console.url("admin/settings"))
    assert page.status_code == 200 and 'name="refund_window_days"' in page.text and "_xsrf" in page.text
    bad = boss.post(console.url("admin/settings"), data={"signup_mode": "open", "require_2fa": "staff",
                                                          "refund_window_days": "two weeks",
                                                          "instructor_share_percent": "150"})
    assert bad.status_code == 400
    assert 'id="problem-refund_window_days"' in bad.text and 'id="problem-instructor_share_percent"' in bad.text
    assert 'value="two weeks"' in bad.text and 'value="150"' in bad.text  # what was typed stays
    hostile = boss.post(console.url("admin/settings"), data={"signup_mode": "<script>alert(1)</script>"})
    assert hostile.status_code == 400 and "<script>alert(1)" not in hostile.text
    with console.factory() as db:
        assert db.get(PlatformSetting, "refund_window_days") is None
    ok = boss.post(console.url("admin/settings"), data={"signup_mode": "approved", "require_2fa": "everyone",
                                                         "refund_window_days": "14", "instructor_share_percent": "75"},
                   allow_redirects=False)
    assert ok.status_code == 303
    shown = boss.get(console.url("admin/settings")).text
    assert "Settings saved." in shown and 'value="14"' in shown
    api = boss.get(console.url("api/v1/admin/settings")).json()
    assert api["settings"] == {"signup_mode": "approved", "require_2fa": "everyone", "refund_window_days": 14,
                               "instructor_share_percent": 75}
    (entry,) = [e for e in entries(console, action="settings.update") if e["after"].get("refund_window_days") == 14]
    assert entry["before"]["refund_window_days"] == 30 and entry["after"]["require_2fa"] == "everyone"
    # the API: typed JSON, every problem named, nothing stored on a refusal
    r = boss.patch(console.url("api/v1/admin/settings"), json={"refund_window_days": "7", "signup_mode": "x"})
    assert r.status_code == 400 and set(r.json()["problems"]) == {"refund_window_days", "signup_mode"}
    assert boss.patch(console.url("api/v1/admin/settings"), json=[1]).status_code == 400
    assert boss.patch(console.url("api/v1/admin/settings"), data=b"{not json").status_code == 400
    r = boss.patch(console.url("api/v1/admin/settings"), json={"refund_window_days": 30})
    assert r.status_code == 200 and r.json()["settings"]["refund_window_days"] == 30


# -- users ---------------------------------------------------------------------------------------
def test_search_and_filters(console):
    t = tag()
    console.user(f"find-{t}-ada", email=f"ada-{t}@uni.example")
    console.as_user(f"find-{t}-ada").get(console.url("admin"))  # first sight: the LMS row is made
    boss = admin(console)
    page = boss.get(console.url("admin/users"), params={"q": f"ada-{t}@uni"}).text
    assert f'data-user="find-{t}-ada"' in page and "1 user" in page
    assert boss.get(console.url("admin/users"), params={"q": f"find-{t}", "role": "instructor"}).text.count(
        'data-user="') == 0
    r = boss.get(console.url("admin/users"), params={"role": "king"})
    assert r.status_code == 400 and "role must be one of" in r.text
    assert boss.get(console.url("admin/users"), params={"page": "-1"}).status_code == 400
    api = boss.get(console.url("api/v1/admin/users"), params={"q": f"find-{t}"}).json()
    assert api["total"] == 1 and api["users"][0]["email"] == f"ada-{t}@uni.example"
    assert boss.get(console.url("api/v1/admin/users"), params={"limit": "lots"}).status_code == 400


def act(boss, console, name: str, action: str) -> requests.Response:
    return boss.post(console.url("admin/users/action"), data={"user": name, "action": action}, allow_redirects=False)


def test_roles_change_the_hubs_groups(console):
    name = f"role-{tag()}"
    learner = console.as_user(name)
    assert learner.get(console.url("teach/apply")).status_code in (200, 404)  # seen by the LMS
    boss = admin(console)
    assert act(boss, console, name, "make_instructor").status_code == 303
    assert name in console.hub.groups["instructors"]
    assert lms_user(console, name).is_instructor
    assert permissions.TEACH in console.hub.model(name)["scopes"]
    assert act(boss, console, name, "make_admin").status_code == 303
    assert name in console.hub.groups["lms-admins"] and lms_user(console, name).is_admin
    assert console.relogin(name).get(console.url("admin")).status_code == 200  # an admin now
    assert act(boss, console, name, "remove_admin").status_code == 303
    user = lms_user(console, name)
    assert name not in console.hub.groups["lms-admins"] and not user.is_admin and user.is_instructor
    assert act(boss, console, name, "remove_instructor").status_code == 303
    assert name not in console.hub.groups["instructors"] and not lms_user(console, name).is_instructor
    assert [e["summary"] for e in entries(console, action="user.roles", target_id=name)][-1].startswith("Make instructor")


def test_a_hub_that_refuses_changes_nothing_in_the_lms(console):
    name = f"refused-{tag()}"
    console.as_user(name).get(console.url("admin"))
    boss = admin(console)
    console.hub.fail_groups = True
    try:
        r = act(boss, console, name, "make_instructor")
    finally:
        console.hub.fail_groups = False
    assert r.status_code == 503 and "JupyterHub answered 500" in r.text and 'id="users-error"' in r.text
    assert not lms_user(console, name).is_instructor and not entries(console, action="user.roles", target_id=name)


def test_bad_user_actions(console):
    boss = admin(console)
    r = act(boss, console, "whoever", "promote_to_god")
    assert r.status_code == 400 and "choose what to change" in r.text
    assert act(boss, console, "no-such-user-here", "deactivate").status_code == 404
    me = f"self-{tag()}"
    myself = admin(console, me)
    myself.get(console.url("admin"))
    r = act(myself, console, me, "deactivate")
    assert r.status_code == 409 and "your own account" in r.text
    assert act(myself, console, me, "remove_admin").status_code == 409


def test_a_deactivated_user_is_locked_out_until_reactivated(console):
    name = f"locked-{tag()}"
    them = console.as_user(name)
    assert them.get(console.url("purchases")).status_code == 200
    console.hub.running.add(name)
    boss = admin(console)
    assert act(boss, console, name, "deactivate").status_code == 303
    assert name not in console.hub.running  # their JupyterLab was stopped through the hub
    for path in ("purchases", "my-learning"):
        r = them.get(console.url(path))
        assert r.status_code == 403 and "deactivated" in r.text, path
    r = them.get(console.url("api/v1/me/enrollments"))
    assert r.status_code in (403, 404)
    page = boss.get(console.url("admin/users"), params={"q": name, "state": "deactivated"}).text
    assert f'data-user="{name}"' in page
    assert act(boss, console, name, "reactivate").status_code == 303
    assert them.get(console.url("purchases")).status_code == 200
    assert [e["action"] for e in entries(console, target_id=name, action="user.")] == ["user.reactivate",
                                                                                        "user.deactivate"]


def test_delete_asks_for_confirmation_then_deletes_through_the_hub(console):
    name = f"leaving-{tag()}"
    them = console.as_user(name)
    them.get(console.url("purchases"))
    boss = admin(console)
    confirm = boss.get(console.url("admin/users/delete"), params={"user": name})
    assert confirm.status_code == 200 and 'id="kept-invoices"' in confirm.text and "0 orders" in confirm.text
    wrong = boss.post(console.url("admin/users/delete"), data={"user": name, "confirm": "someone-else"})
    assert wrong.status_code == 400 and f"type the username {name}" in wrong.text
    assert name in console.hub.users and lms_user(console, name).deleted_at is None
    ok = boss.post(console.url("admin/users/delete"), data={"user": name, "confirm": name}, allow_redirects=False)
    assert ok.status_code == 303
    assert name not in console.hub.users and ("DELETE", f"users/{name}") in console.hub.calls
    with console.factory() as db:
        assert users.by_name(db, name) is None  # a tombstone now, under another name
    (entry,) = entries(console, action="user.delete", target_id=name)
    assert entry["before"]["name"] == name
    assert boss.get(console.url("admin/users/delete"), params={"user": name}).status_code == 404


# -- bulk ----------------------------------------------------------------------------------------
def bulk_post(boss, console, **data) -> requests.Response:
    files = data.pop("files", None)
    return boss.post(console.url("admin/bulk"), data=data, files=files, allow_redirects=False)


def hidden(page: str, name: str) -> str:
    import html

    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def test_bulk_dry_run_changes_nothing_and_apply_changes_exactly_its_list(console):
    t = tag()
    names = [f"bulk-{t}-{i}" for i in range(3)]
    for n in names:
        console.as_user(n).get(console.url("purchases"))
    boss = admin(console)
    dry = bulk_post(boss, console, action="deactivate", source="list",
                    names="\n".join(names[:2]) + f"\nghost-{t}", mode="dry_run")
    assert dry.status_code == 200 and 'id="plan-changes"' in dry.text
    assert dry.text.count("→</td><td>deactivated") == 2 and "no such user" in dry.text
    assert not any(lms_user(console, n).deactivated_at for n in names)
    # meanwhile a third user is named in nothing: apply touches only the dry run's two
    crlf = lambda text: text.replace("\n", "\r\n")  # noqa: E731 - as a browser sends a form's lines
    done = bulk_post(boss, console, action=hidden(dry.text, "action"), course=hidden(dry.text, "course"),
                     resolved=crlf(hidden(dry.text, "resolved")), expected=crlf(hidden(dry.text, "expected")),
                     mode="apply")
    assert done.status_code == 303
    assert [bool(lms_user(console, n).deactivated_at) for n in names] == [True, True, False]
    assert {c for c in console.hub.calls if c[1].endswith("/server") and f"bulk-{t}-" in c[1]} == {
        ("DELETE", f"users/{n}/server") for n in names[:2]}
    (run,) = [e for e in entries(console, action="bulk.apply") if names[0] in str(e["after"])]
    assert [c["user"] for c in run["after"]["changes"]] == names[:2]
    # applying the same dry run again: the plan changed (they are deactivated now), nothing happens
    again = bulk_post(boss, console, action="deactivate", resolved=hidden(dry.text, "resolved"),
                      expected=hidden(dry.text, "expected"), mode="apply")
    assert again.status_code == 409 and "dry run" in again.text


def test_bulk_enroll_from_a_csv_file_and_instructors_from_a_filter(console, tmp_path):
    t = tag()
    with console.factory() as db:
        make_course(db, tmp_path, f"bulk-course-{t}", price_cents=1900, instructor=f"bulk-teacher-{t}")
        db.commit()
    names = [f"csv-{t}-{i}" for i in range(2)]
    for n in names:
        console.as_user(n).get(console.url("purchases"))
    boss = admin(console)
    upload = "username,email\n" + "".join(f"{n},{n}@example.org\n" for n in names)
    dry = bulk_post(boss, console, action="enroll", course=f"bulk-course-{t}", source="list", names="",
                    mode="dry_run", files={"csv": ("people.csv", upload.encode(), "text/csv")})
    assert dry.status_code == 200 and dry.text.count("→</td><td>enrolled") == 2
    done = bulk_post(boss, console, action="enroll", course=hidden(dry.text, "course"),
                     resolved=hidden(dry.text, "resolved"), expected=hidden(dry.text, "expected"), mode="apply")
    assert done.status_code == 303
    with console.factory() as db:
        ids = {lms_user(console, n).id for n in names}
        held = set(db.scalars(select(Enrollment.user_id).where(Enrollment.user_id.in_(ids),
                                                                Enrollment.source == "admin")))
    assert held == ids
    dry = bulk_post(boss, console, action="add_instructor", source="filter", q=f"csv-{t}", role="", state="",
                    mode="dry_run")
    assert dry.status_code == 200 and dry.text.count("→</td><td>instructor") == 2
    bulk_post(boss, console, action="add_instructor", resolved=hidden(dry.text, "resolved"),
              expected=hidden(dry.text, "expected"), mode="apply")
    assert set(names) <= console.hub.groups["instructors"]
    assert all(lms_user(console, n).is_instructor for n in names)


@pytest.mark.parametrize("data, message", [
    ({"action": "explode", "source": "list", "names": "a"}, "choose an action"),
    ({"action": "deactivate", "source": "list", "names": ""}, "at least one user"),
    ({"action": "enroll", "source": "list", "names": "a", "course": ""}, "choose the course"),
    ({"action": "deactivate", "source": "list", "names": "\n".join(f"u{i}" for i in range(1001))}, "at most 1,000"),
    ({"action": "deactivate", "source": "teleport", "names": "a"}, "choose who"),
    ({"action": "deactivate", "source": "filter", "role": "king"}, "choose a role"),
])
def test_bad_bulk_input_is_a_400_with_the_form_kept(console, data, message):
    boss = admin(console)
    r = bulk_post(boss, console, mode="dry_run", **data)
    assert r.status_code == 400 and message in r.text and 'id="bulk-form"' in r.text
    if data.get("names") and len(data["names"]) < 100:
        assert data["names"] in r.text


def test_bulk_refuses_a_binary_csv_and_an_unknown_course(console):
    boss = admin(console)
    r = bulk_post(boss, console, action="deactivate", source="list", names="", mode="dry_run",
                  files={"csv": ("x.csv", b"\xff\xfe\x00bad", "text/csv")})
    assert r.status_code == 400 and "UTF-8" in r.text
    r = bulk_post(boss, console, action="enroll", source="list", names="a", course="no-such-course", mode="dry_run")
    assert r.status_code == 404 and "no such course" in r.text


# -- audit log -----------------------------------------------------------------------------------
def test_audit_log_search_diff_csv_and_api(console):
    t = tag()
    name = f"aud-{t}"
    console.as_user(name).get(console.url("purchases"))
    boss_name = f"auditor-{t}"
    boss = admin(console, boss_name)
    act(boss, console, name, "deactivate")
    act(boss, console, name, "reactivate")
    page = boss.get(console.url("admin/audit"), params={"actor": boss_name})
    assert page.status_code == 200 and page.text.count('data-action="user.') == 2
    assert page.text.index("user.reactivate") < page.text.index("user.deactivate")  # newest first
    assert "<del>true</del>" in page.text and "<ins>false</ins>" in page.text
    only = boss.get(console.url("admin/audit"), params={"actor": boss_name, "action": "user.de"}).text
    assert only.count('data-action="') == 1
    assert boss.get(console.url("admin/audit"), params={"text": name, "since": "2000-01-01", "until": "2999-12-31"}
                    ).text.count('data-action="user.') == 2
    assert 'data-action="' not in boss.get(console.url("admin/audit"),
                                           params={"actor": boss_name, "until": "2000-01-01"}).text
    for bad in ({"since": "yesterday"}, {"since": "2026-12-31", "until": "2026-01-01"}, {"page": "0"},
                {"text": "x" * 201}):
        r = boss.get(console.url("admin/audit"), params=bad)
        assert r.status_code == 400 and 'id="audit-error"' in r.text, bad
    exported = boss.get(console.url("admin/audit.csv"), params={"actor": boss_name})
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["action"] for r in rows] == ["user.reactivate", "user.deactivate"] and rows[0]["target_id"] == name
    api = boss.get(console.url("api/v1/admin/audit"), params={"actor": boss_name, "limit": 1}).json()
    assert api["total"] == 2 and api["entries"][0]["action"] == "user.reactivate"
    assert api["entries"][0]["after"] == {"active": True}
    assert boss.get(console.url("api/v1/admin/audit"), params={"limit": 0}).status_code == 400
    assert boss.get(console.url("api/v1/admin/audit"), params={"since": "soon"}).status_code == 400


def test_hostile_text_is_escaped_in_the_log_and_formulas_are_defused_in_the_csv(console):
    t = tag()
    boss_name = f"xss-{t}"
    boss = admin(console, boss_name)
    boss.get(console.url("admin"))
    with console.factory() as db:
        actor = users.by_name(db, boss_name)
        audit.record(db, actor, "course.update", "course", f"c-{t}", before={"title": "<b>old</b>"},
                     after={"title": "<script>alert(1)</script>"}, summary="=HYPERLINK(\"http://evil\")")
        db.commit()
    page = boss.get(console.url("admin/audit"), params={"actor": boss_name}).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    rows = list(csv.DictReader(io.StringIO(boss.get(console.url("admin/audit.csv"), params={"actor": boss_name}).text)))
    assert rows[0]["summary"].startswith("'=")


def test_the_openapi_document_lists_the_admin_endpoints(console):
    from openapi_spec_validator import validate

    from lms_extension.web.api import admin as admin_api, openapi

    validate(openapi.document("/services/lms/", [admin_api]))
    doc = requests.get(console.url("api/v1/openapi.json")).json()
    assert {"/admin/audit", "/admin/settings", "/admin/users"} <= set(doc["paths"])
    assert set(doc["paths"]["/admin/settings"]) == {"get", "patch"}
