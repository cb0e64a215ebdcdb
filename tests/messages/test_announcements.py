"""Announcements reach every enrolled student, in the bell and by email, as each one's preferences
say, and blocking the instructor does not hide them: posted through the real app's API, the
outbox delivered by the worker's own function to a real SMTP server (aiosmtpd)."""
from __future__ import annotations

from lms_extension.db import session_factory
from lms_extension.services import announcements, mail, messages, notifications, users
from tests.identity import token_client as as_user
from tests.mail.conftest import SMTPServer

from .conftest import SLUG


def test_an_announcement_reaches_every_enrolled_student_by_preference(served):
    base, engine = served
    factory = session_factory(engine)
    with factory() as s:
        ann, bob, cid = (users.by_name(s, n) for n in ("m-ann", "m-bob", "m-cid"))
        bob.email, cid.email = "bob@example.org", "cid@example.org"
        users.by_name(s, "m-eve").email = "eve@example.org"  # another course's student
        notifications.set_preference(s, cid.id, "announcement", notifications.EMAIL, False)
        messages.block(s, bob, "m-teacher")  # blocks concern messages, not the course's news
        s.commit()
    r = as_user("m-teacher").post(base + f"api/v1/courses/{SLUG}/announcements",
                                  json={"title": "Deadline moved", "body": "Lesson 1 is due **Friday**."}, timeout=30)
    assert r.status_code == 201, r.text
    # lms worker tells the students (services/announcements.py fan_out)
    assert announcements.fan_out(factory, r.json()["id"])["reached"] == 3

    for name in ("m-ann", "m-bob", "m-cid"):
        bell = as_user(name).get(base + "api/v1/me/notifications", timeout=30).json()["notifications"]
        assert [(n["kind"], n["url"]) for n in bell] == [
            ("announcement", f"courses/{SLUG}/announcements#announcement-{r.json()['id']}")], name
        assert SLUG in bell[0]["title"] or "Deadline moved" in bell[0]["title"]
    for name in ("m-eve", "m-teacher", "m-other-teacher"):
        assert as_user(name).get(base + "api/v1/me/notifications").json()["notifications"] == [], name
    # the notice's link: the course's announcements page, with this one on it (the course page shows three)
    page = as_user("m-ann").get(base + f"courses/{SLUG}/announcements", timeout=30)
    assert page.status_code == 200 and f'id="announcement-{r.json()["id"]}"' in page.text
    assert "<strong>Friday</strong>" in page.text
    assert as_user("m-ann").get(base + "courses/no-such-course/announcements", timeout=30).status_code == 404

    server = SMTPServer().start()
    try:
        report = mail.deliver_due(factory, mail.SMTPSettings(host="127.0.0.1", port=server.port, starttls=False),
                                  "test-worker")
        assert report.sent == 2
        got = {tuple(r["rcpt_tos"]): r for r in server.inbox.received}
        assert set(got) == {("ann@example.org",), ("bob@example.org",)}  # cid chose no email
        for record in got.values():
            msg = record["message"]
            assert "Deadline moved" in str(msg["Subject"]) and msg["List-Unsubscribe"]
        # again: nothing more is sent (once per student and channel)
        assert mail.deliver_due(factory, mail.SMTPSettings(host="127.0.0.1", port=server.port, starttls=False),
                                "test-worker").sent == 0
        assert server.inbox.count() == 2
    finally:
        server.stop()
