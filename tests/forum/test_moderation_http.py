"""Moderation over HTTP, served by the real app on SQLite and PostgreSQL: the API refuses every
hostile try with the right status and a sentence; the pages' forms work without the API (the
moderation page, the admins' reports page, report / hide / duplicate / level buttons) and a
refused form comes back with the reason, never a traceback."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from lms_extension.db import session_factory
from lms_extension.models.audit import AuditEntry
from tests.identity import token_client as as_user

from .conftest import SLUG
from .test_api import new_thread, reply
from .test_pages import form_post


def api(who, method, url, **body):
    return as_user(who).request(method, url, json=body if body else None, timeout=30)


def test_api_refuses_hostile_moderation(served):
    base, engine = served
    tid = new_thread(base, "f-ann")
    other = new_thread(base, "f-bob")
    bobs = reply(base, "f-bob", tid, "rude words")
    v1 = base + "api/v1/"
    # a student cannot hide, mark duplicates, dismiss, read the queue, suspend or lift
    for method, url, body in [
        ("POST", f"posts/{bobs}/hide", {"reason": "no"}),
        ("POST", f"threads/{other}/duplicate", {"of": tid}),
        ("POST", f"posts/{bobs}/dismiss-reports", {}),
        ("GET", f"courses/{SLUG}/forum/reports", {}),
        ("GET", f"courses/{SLUG}/forum/suspensions", {}),
        ("POST", f"courses/{SLUG}/forum/suspensions", {"user": "f-bob", "days": 3, "reason": "x"}),
        ("GET", "forum/reports", {}),
    ]:
        r = api("f-ann", method, v1 + url, **body)
        assert r.status_code == 403, (url, r.status_code, r.text)
        assert r.json()["message"] and "Traceback" not in r.text
    assert api("f-teacher", "GET", v1 + "forum/reports").status_code == 403  # every course's: admins only
    # a non-member gets 403 for everything of the course
    assert api("f-eve", "POST", v1 + f"posts/{bobs}/report", reason="spam").status_code == 403
    assert api("f-eve", "PUT", v1 + f"courses/{SLUG}/forum/level", level="watching").status_code == 403
    assert api("f-eve", "PUT", v1 + f"threads/{tid}/level", level="watching").status_code == 403
    # reporting: not one's own, once, with a reason
    r = api("f-bob", "POST", v1 + f"posts/{bobs}/report", reason="mine")
    assert r.status_code == 400 and "your own post" in r.json()["message"]
    r = api("f-ann", "POST", v1 + f"posts/{bobs}/report", reason="")
    assert r.status_code == 400 and r.json()["field"] == "reason"
    assert api("f-ann", "POST", v1 + f"posts/{bobs}/report", reason="Rude").status_code == 201
    r = api("f-ann", "POST", v1 + f"posts/{bobs}/report", reason="Rude!")
    assert r.status_code == 409 and "already" in r.json()["message"]
    r = api("f-ann", "POST", v1 + f"posts/{bobs}/report", reason="x", extra=1)
    assert r.status_code == 400 and "unknown field" in r.json()["message"]
    assert api("f-ann", "POST", v1 + "posts/99999999/report", reason="x").status_code == 404
    assert api("f-ann", "POST", v1 + "posts/abc/report", reason="x").status_code == 404
    # the staff see it in the queue, hide it; the student then sees a stub
    queue = api("f-teacher", "GET", v1 + f"courses/{SLUG}/forum/reports").json()["reports"]
    assert [q["post"] for q in queue] == [bobs] and queue[0]["reports"][0]["reason"] == "Rude"
    assert api("f-admin", "GET", v1 + "forum/reports").json()["reports"][0]["post"] == bobs
    r = api("f-teacher", "POST", v1 + f"posts/{bobs}/hide", reason="Rude", hidden="yes")
    assert r.status_code == 400
    r = api("f-teacher", "POST", v1 + f"posts/{bobs}/hide", reason="Rude")
    assert r.json() == {"id": bobs, "hidden": True, "reason": "Rude"}
    view = api("f-ann", "GET", v1 + f"threads/{tid}").json()
    assert "rude words" not in str(view)
    assert api("f-teacher", "GET", v1 + f"courses/{SLUG}/forum/reports").json()["reports"] == []
    # duplicates
    r = api("f-teacher", "POST", v1 + f"threads/{other}/duplicate", of="not a thread")
    assert r.status_code == 400 and "link or its number" in r.json()["message"]
    assert api("f-teacher", "POST", v1 + f"threads/{other}/duplicate", of=f"#{tid}").json()["duplicate_of"] == tid
    assert api("f-bob", "GET", v1 + f"threads/{other}").json()["duplicate_of"]["id"] == tid
    assert api("f-bob", "GET", v1 + f"threads/{tid}").json()["duplicates"][0]["id"] == other
    # levels
    assert api("f-bob", "PUT", v1 + f"threads/{tid}/level", level="loud").status_code == 400
    assert api("f-bob", "PUT", v1 + f"threads/{tid}/level", level="muted").json() == {"level": "muted"}
    assert api("f-bob", "PUT", v1 + f"courses/{SLUG}/forum/level", level="watching").json() == {"level": "watching"}
    assert api("f-bob", "GET", v1 + f"courses/{SLUG}/forum/level").json() == {"level": "watching"}
    listed = api("f-bob", "GET", v1 + f"courses/{SLUG}/threads").json()["threads"]
    assert tid not in [t["id"] for t in listed]  # muted


def test_a_suspended_member_gets_a_clear_403(served):
    base, engine = served
    tid = new_thread(base, "f-ann")
    v1 = base + "api/v1/"
    bad = api("f-teacher", "POST", v1 + f"courses/{SLUG}/forum/suspensions", user="f-bob", days="3", reason="x")
    assert bad.status_code == 400 and "days" in bad.json()["message"]
    bad = api("f-teacher", "POST", v1 + f"courses/{SLUG}/forum/suspensions", days=3, reason="x")
    assert bad.status_code == 400 and "either user" in bad.json()["message"]
    r = api("f-teacher", "POST", v1 + f"courses/{SLUG}/forum/suspensions", user="f-bob", days=3,
            reason="Posting answers to graded work.")
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    for method, url, body in [("POST", f"threads/{tid}/posts", {"body": "hi"}),
                              ("POST", f"courses/{SLUG}/threads", {"title": "T", "body": "b"})]:
        r = api("f-bob", method, v1 + url, **body)
        assert r.status_code == 403, r.text
        assert "You are suspended from the Q&A" in r.json()["message"]
        assert "Posting answers to graded work." in r.json()["message"] and r.json()["suspended_until"]
    assert api("f-bob", "GET", v1 + f"threads/{tid}").status_code == 200  # reading stays open
    # the page says so too, and has no reply form
    page = as_user("f-bob").get(base + f"forum/threads/{tid}", timeout=30)
    assert 'id="suspended"' in page.text and 'id="reply-form"' not in page.text
    listing = as_user("f-bob").get(base + f"courses/{SLUG}/forum", timeout=30)
    assert "You are suspended" in unescape(listing.text)
    suspensions = api("f-teacher", "GET", v1 + f"courses/{SLUG}/forum/suspensions").json()["suspensions"]
    assert [s["username"] for s in suspensions] == ["f-bob"]
    assert api("f-ann", "DELETE", v1 + f"courses/{SLUG}/forum/suspensions/{sid}").status_code == 403
    assert api("f-teacher", "DELETE", v1 + f"courses/{SLUG}/forum/suspensions/{sid}").status_code == 204
    assert api("f-bob", "POST", v1 + f"threads/{tid}/posts", body="back").status_code == 201
    with session_factory(engine)() as s:
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("forum.user.%"))
                         .order_by(AuditEntry.id)).all() == ["forum.user.suspend", "forum.user.unsuspend"]


def test_moderation_through_the_pages(served):
    base, engine = served
    ann, bob, teacher = as_user("f-ann"), as_user("f-bob"), as_user("f-teacher")
    tid = new_thread(base, "f-ann")
    other = new_thread(base, "f-newbie")
    bobs = reply(base, "f-bob", tid, "zzrude words")
    thread_url = base + f"forum/threads/{tid}"
    page = ann.get(thread_url, timeout=30)
    assert f'action="/services/lms/forum/posts/{bobs}/report"' in page.text
    r = form_post(ann, base + f"forum/posts/{bobs}/report", page.text, reason="Rude to me")
    assert r.status_code == 302
    page = ann.get(thread_url)
    assert "the course staff will look at your report" in page.text and "You reported this post" in page.text
    r = form_post(ann, base + f"forum/posts/{bobs}/report", page.text, reason="Again")
    assert r.status_code == 409 and "You reported this post already" in unescape(r.text)
    assert 'id="action-error"' in r.text and "Traceback" not in r.text
    r = form_post(bob, base + f"forum/posts/{bobs}/report", bob.get(thread_url).text, reason="me")
    assert r.status_code == 400 and "your own post" in r.text
    # a student posting the staff's forms is refused
    r = form_post(ann, base + f"forum/posts/{bobs}/hide", page.text, reason="x")
    assert r.status_code == 403 and "only the course" in unescape(r.text)
    r = form_post(ann, base + f"forum/threads/{other}/duplicate", page.text, of=str(tid))
    assert r.status_code == 403
    r = ann.get(base + f"courses/{SLUG}/forum/moderation")
    assert r.status_code == 403 and "Traceback" not in r.text
    r = form_post(ann, base + f"courses/{SLUG}/forum/moderation", page.text, action="suspend", user="f-bob",
                  days="3", reason="x")
    assert r.status_code == 403
    # the staff: the list links to the queue with its count; the queue shows the report
    listing = teacher.get(base + f"courses/{SLUG}/forum")
    assert 'id="moderation-link"' in listing.text and '<span class="unread-count">1</span>' in listing.text
    queue = teacher.get(base + f"courses/{SLUG}/forum/moderation")
    assert queue.status_code == 200 and f'data-report-post="{bobs}"' in queue.text and "Rude to me" in queue.text
    r = form_post(teacher, base + f"courses/{SLUG}/forum/moderation", queue.text, action="hide", post=str(bobs),
                  reason="Rude")
    assert r.status_code == 302
    queue = teacher.get(base + f"courses/{SLUG}/forum/moderation")
    assert 'id="no-reports"' in queue.text and "The post is hidden" in queue.text
    staff_view = teacher.get(thread_url).text
    assert "is-hidden" in staff_view and "Reason: Rude" in staff_view and "Show to students again" in staff_view
    student_view = ann.get(thread_url).text
    assert "zzrude" not in student_view and f'data-post="{bobs}"' not in student_view  # no comments: no stub
    # suspension form: a refused one keeps what was typed
    r = form_post(teacher, base + f"courses/{SLUG}/forum/moderation", queue.text, action="suspend", user="f-bob",
                  days="0", reason="Keep this text")
    assert r.status_code == 400 and "days must be" in r.text and 'value="Keep this text"' in r.text
    r = form_post(teacher, base + f"courses/{SLUG}/forum/moderation", queue.text, action="suspend", user="nobody",
                  days="2", reason="x")
    assert r.status_code == 400 and "has no member" in unescape(r.text)
    pre = teacher.get(base + f"courses/{SLUG}/forum/moderation?post={bobs}")
    assert "The author of a post in" in pre.text and f'name="post" value="{bobs}"' in pre.text
    r = form_post(teacher, base + f"courses/{SLUG}/forum/moderation", pre.text, action="suspend", post=str(bobs),
                  days="2", reason="Rude again")
    assert r.status_code == 302
    queue = teacher.get(base + f"courses/{SLUG}/forum/moderation")
    assert "Suspended from this Q&amp;A until" in queue.text and 'data-suspension="' in queue.text
    sid = re.search(r'data-suspension="(\d+)"', queue.text).group(1)
    r = form_post(teacher, base + f"courses/{SLUG}/forum/moderation", queue.text, action="lift", suspension=sid)
    assert r.status_code == 302
    assert "Nobody is suspended" in teacher.get(base + f"courses/{SLUG}/forum/moderation").text
    # duplicate through the thread page; a bad reference comes back with the sentence and what was typed
    page = teacher.get(base + f"forum/threads/{other}")
    assert 'id="dup-choices"' in page.text and f'value="#{tid} · ' in unescape(page.text)
    r = form_post(teacher, base + f"forum/threads/{other}/duplicate", page.text, of="that one")
    assert r.status_code == 400 and "link or its number" in r.text and 'value="that one"' in r.text
    r = form_post(teacher, base + f"forum/threads/{other}/duplicate", page.text, of=f"#{tid} · whatever")
    assert r.status_code == 302
    assert 'id="duplicate-of"' in ann.get(base + f"forum/threads/{other}").text
    assert 'id="duplicates"' in ann.get(thread_url).text
    # the level forms
    page = ann.get(thread_url)
    assert '<option value="watching" selected>' in page.text  # she asked it
    r = form_post(ann, thread_url + "/level", page.text, level="muted")
    assert r.status_code == 302 and '<option value="muted" selected>' in ann.get(thread_url).text
    r = form_post(ann, thread_url + "/level", page.text, level="shouting")
    assert r.status_code == 400 and "level must be one of" in r.text
    listing = ann.get(base + f"courses/{SLUG}/forum")
    assert f'data-thread="{tid}"' not in listing.text and 'id="show-muted"' in listing.text
    assert f'data-thread="{tid}"' in ann.get(base + f"courses/{SLUG}/forum?muted=1").text
    r = form_post(ann, base + f"courses/{SLUG}/forum/level", listing.text, level="watching")
    assert r.status_code == 302
    # the admins' page of every course's reports, linked from the admin console
    reply_id = reply(base, "f-newbie", other, "spam spam")
    as_user("f-ann").post(base + f"api/v1/posts/{reply_id}/report", json={"reason": "Spam"}, timeout=30)
    admin = as_user("f-admin")
    admin_page = admin.get(base + "forum/moderation")
    assert admin_page.status_code == 200 and f'data-report-post="{reply_id}"' in admin_page.text
    assert 'href="/services/lms/forum/moderation" aria-current="page"' in admin_page.text
    assert as_user("f-teacher").get(base + "forum/moderation").status_code == 403
    r = form_post(admin, base + f"courses/{SLUG}/forum/moderation", admin_page.text, action="dismiss",
                  post=str(reply_id), back="all")
    assert r.status_code == 302 and r.headers["Location"].endswith("/forum/moderation")
