"""The roster pages, the extension form, the downloads and the API, served by the real Tornado app
on a real database; the hub's answer to "who is this token?" is the one thing faked (no hub here)."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import requests
from sqlalchemy import select

from lms_extension.db import session_factory
from lms_extension.models.audit import AuditEntry
from lms_extension.models.base import utcnow
from lms_extension.models.roster import DeadlineExtension
from lms_extension.services import enrollments, grading_queue as queue, users
from lms_extension.services.course_import import import_course, load_course_folder
from tests.identity import token_client
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import NB, WRITTEN, course_with_policy, grade

from .conftest import DEADLINE, POLICY, SLUG

ROLES = {"roster-teacher": dict(instructor=True), "roster-other-teacher": dict(instructor=True),
         "roster-admin": dict(admin=True), "roster-student": {}, "roster-bob": {}}


def seed(tmp_path):
    def run(engine):
        with session_factory(engine)() as s:
            for name, roles in ROLES.items():
                make_user(s, name, **roles)
            import_course(s, load_course_folder(course_with_policy(
                tmp_path, SLUG, POLICY, instructor="roster-teacher", notebook=WRITTEN, lessons=2)))
            import_course(s, load_course_folder(write_course(tmp_path / "o", "otherc", instructor="roster-other-teacher")))
            ada = users.update_profile(s, users.by_name(s, "roster-student"), display_name="Ada <b>Lovelace</b>")
            for name in ("roster-student", "roster-bob"):
                enrollments.enroll(s, users.by_name(s, name), SLUG)
            sub = queue.enqueue(s, ada, SLUG, "l1", {"l1.ipynb": NB})
            s.commit()
            grade(s, sub.id, test_points=2.0)
            s.commit()
    return run


as_user = token_client


def stored_extensions(engine) -> list:
    with session_factory(engine)() as s:
        return [(e.user_id, e.deadline) for e in s.scalars(select(DeadlineExtension))]


def test_roster_api(served):
    base, _ = served
    teacher = as_user("roster-teacher")
    r = teacher.get(base + f"api/v1/teach/courses/{SLUG}/roster", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["enrolled"], [ls["lesson"] for ls in body["lessons"]]) == (2, 2, ["l1", "l2"])
    ada = next(s for s in body["students"] if s["username"] == "roster-student")
    assert ada["lessons"][0]["score"] == 1.2 and ada["lessons"][0]["late_penalty_percent"] == 40
    assert ada["lessons"][0]["attempts"] == 1 and ada["has_ungraded"] is True  # the written answer waits
    r = teacher.get(base + f"api/v1/teach/courses/{SLUG}/roster?status=not_started&sort=activity&order=desc")
    assert [s["username"] for s in r.json()["students"]] == ["roster-bob"]
    assert as_user("roster-admin").get(base + f"api/v1/teach/courses/{SLUG}/roster").status_code == 200
    for who, query, status in [("roster-other-teacher", "", 403), ("roster-student", "", 403), ("nobody", "", 401),
                               ("roster-teacher", "?sort=password", 400), ("roster-teacher", "?page=-1", 400),
                               ("roster-teacher", "?per_page=99999", 400)]:
        r = as_user(who).get(base + f"api/v1/teach/courses/{SLUG}/roster{query}", timeout=30)
        assert r.status_code == status, (who, query, r.text)
        assert r.json()["message"] and "Traceback" not in r.text
    assert teacher.get(base + "api/v1/teach/courses/nope/roster").status_code == 404
    assert teacher.get(base + "api/v1/teach/courses/nope%00/roster").status_code == 404
    assert teacher.get(base + f"api/v1/teach/courses/{SLUG}/roster?q=%00").status_code == 200  # Tornado drops it
    assert teacher.get(base + f"teach/courses/{SLUG}/roster/roster-student%00").status_code == 404


def test_gradebook_csv_api(served):
    base, _ = served
    r = as_user("roster-teacher").get(base + f"api/v1/teach/courses/{SLUG}/gradebook.csv", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0][0] == "username" and sorted(row[0] for row in table[1:]) == ["roster-bob", "roster-student"]
    for who, status in [("roster-other-teacher", 403), ("roster-student", 403), ("nobody", 401)]:
        assert as_user(who).get(base + f"api/v1/teach/courses/{SLUG}/gradebook.csv").status_code == status
    doc = requests.get(base + "api/v1/openapi.json", timeout=30).json()
    assert "/teach/courses/{slug}/roster" in doc["paths"] and "/teach/courses/{slug}/gradebook.csv" in doc["paths"]
    assert "Roster" in doc["components"]["schemas"]


def test_roster_page(served):
    base, _ = served
    teacher = as_user("roster-teacher")
    r = teacher.get(base + f"teach/courses/{SLUG}/roster?sort=progress&order=desc", timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert 'id="roster"' in r.text and "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in r.text and "<b>Lovelace" not in r.text
    assert 'aria-sort="descending"' in r.text and "gradebook.csv" in r.text and "gradebook.db" in r.text
    assert f'href="/services/lms/teach/courses/{SLUG}/roster/roster-student"' in r.text
    r = teacher.get(base + f"teach/courses/{SLUG}/roster?q=bob")
    assert "roster-bob" in r.text and "roster-student" not in r.text
    r = teacher.get(base + f"teach/courses/{SLUG}/roster?status=nonsense&page=x")
    assert r.status_code == 400 and "status must be one of" in r.text and 'id="roster"' in r.text
    for who, status in [("roster-other-teacher", 403), ("roster-student", 403)]:
        r = as_user(who).get(base + f"teach/courses/{SLUG}/roster")
        assert r.status_code == status and "Traceback" not in r.text
    r = requests.get(base + f"teach/courses/{SLUG}/roster", allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303)  # to the hub's login


def xsrf_of(page: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)


def test_extension_form(served):
    base, engine = served
    teacher = as_user("roster-teacher")
    student_url = base + f"teach/courses/{SLUG}/roster/roster-student"
    r = teacher.get(student_url, timeout=30)
    assert r.status_code == 200 and 'id="extension-form"' in r.text
    token = xsrf_of(r.text)
    post = lambda who, url, **data: who.post(url, data={"_xsrf": token, **data}, allow_redirects=False,  # noqa: E731
                                             timeout=30)
    for data, message in [({"lesson": "l1", "deadline": "next friday"}, "not a date and time"),
                          ({"lesson": "l1", "deadline": ""}, "date and time"),
                          ({"lesson": "l1", "deadline": (DEADLINE - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")},
                           "after the lesson"),
                          ({"lesson": "l2", "deadline": "2099-01-01T10:00"}, "no deadline"),
                          ({"lesson": "../l1", "deadline": "2099-01-01T10:00"}, "choose one of the lessons"),
                          ({"lesson": "l1", "deadline": "2099-01-01T10:00", "action": "delete-all"}, "save or to remove")]:
        r = post(teacher, student_url + "/extensions", action=data.pop("action", "grant"), **data)
        assert r.status_code == 400 and message in r.text, (data, r.text[-2000:])
        assert 'id="extension-form"' in r.text and f'value="{data["deadline"]}"' in r.text  # what was typed
    assert stored_extensions(engine) == []
    new = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    for who, url, status in [(as_user("roster-other-teacher"), student_url, 403),
                             (as_user("roster-student"), student_url, 403),
                             (teacher, base + f"teach/courses/{SLUG}/roster/nobody", 404),
                             (teacher, base + "teach/courses/otherc/roster/roster-student", 403)]:
        who.cookies.update(teacher.cookies)
        r = post(who, url + "/extensions", lesson="l1", deadline=new, action="grant")
        assert r.status_code == status, (url, r.text[-1000:])
    assert stored_extensions(engine) == []
    r = post(teacher, student_url + "/extensions", lesson="l1", deadline=new, reason="flu", action="grant")
    assert r.status_code == 303 and r.headers["Location"].endswith("/roster/roster-student")
    page = teacher.get(student_url).text
    assert "Extension saved." in page and "extended" in page and "flu" in page
    ((_, stored),) = stored_extensions(engine)
    assert stored.strftime("%Y-%m-%dT%H:%M") == new
    # the late submission is re-scored: no penalty within the student's own deadline
    body = teacher.get(base + f"api/v1/teach/courses/{SLUG}/roster?q=roster-student").json()
    assert body["students"][0]["lessons"][0]["score"] == 2.0
    assert body["students"][0]["lessons"][0]["deadline_extended"] is True
    r = post(teacher, student_url + "/extensions", lesson="l1", action="remove")
    assert r.status_code == 303 and stored_extensions(engine) == []
    with session_factory(engine)() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("extension.%"))
                                               .order_by(AuditEntry.id))]
    assert actions == ["extension.grant", "extension.remove"]


def test_downloads(served, tmp_path):
    base, _ = served
    teacher = as_user("roster-teacher")
    r = teacher.get(base + f"teach/courses/{SLUG}/gradebook.csv", timeout=30)
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    assert r.text.splitlines()[0].startswith("username,display_name,l1 raw")
    r = teacher.get(base + f"teach/courses/{SLUG}/gradebook.db", timeout=120)
    assert r.status_code == 200 and r.content.startswith(b"SQLite format 3"), r.text[:300]
    assert as_user("roster-other-teacher").get(base + f"teach/courses/{SLUG}/gradebook.db").status_code == 403
    assert as_user("roster-student").get(base + f"teach/courses/{SLUG}/gradebook.csv").status_code == 403


def test_extension_api(served):
    base, engine = served
    url = base + f"api/v1/teach/courses/{SLUG}/students/roster-student/extensions/l1"
    teacher = as_user("roster-teacher")
    for body, status, message in [("not json", 400, "malformed JSON"), ("[1]", 400, "JSON object"),
                                  ('{"deadline": "soon"}', 400, "not a date and time"),
                                  ('{"deadline": "2099-01-01T00:00Z", "owner": "me"}', 400, "unknown field"),
                                  ('{"deadline": 5}', 400, "date and time"),
                                  ('{"deadline": "2099-01-01T00:00Z"}', 400, "at most a year")]:
        r = teacher.put(url, data=body, timeout=30)
        assert r.status_code == status and message in r.json()["message"], (body, r.text)
    new = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    good = {"deadline": new.isoformat(), "reason": "jury duty"}
    for who, target, status in [("roster-other-teacher", url, 403), ("roster-student", url, 403), ("nobody", url, 401),
                                ("roster-teacher", url.replace("roster-student", "nobody"), 404),
                                ("roster-teacher", url.replace("/l1", "/l9"), 400)]:
        assert as_user(who).put(target, json=good, timeout=30).status_code == status, (who, target)
    assert stored_extensions(engine) == []
    r = teacher.put(url, json=good, timeout=30)
    assert r.status_code == 200 and r.json()["deadline"] == new.isoformat() and r.json()["reason"] == "jury duty"
    assert len(stored_extensions(engine)) == 1
    assert as_user("roster-other-teacher").delete(url, timeout=30).status_code == 403
    assert teacher.delete(url, timeout=30).json()["removed"] is True
    assert teacher.delete(url, timeout=30).json()["removed"] is False
    assert stored_extensions(engine) == []
    doc = requests.get(base + "api/v1/openapi.json", timeout=30).json()
    assert set(doc["paths"]["/teach/courses/{slug}/students/{student}/extensions/{lesson}"]) == {"put", "delete"}
