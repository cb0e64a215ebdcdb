"""The digest choice, the digest's unsubscribe link, and the admin's email pages (outbox with
retry now; templates with preview, test send, save, reset) on the real app, both databases."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select, update

from lms_extension.models.digests import EmailTemplate
from lms_extension.models.mail import DEAD, FAILED, QUEUED, SENT, MailOutbox
from lms_extension.services import digests, mail
from tests.factories import make_user
from tests.pageclient import serve_app


@pytest.fixture
def service(engine, tmp_path, monkeypatch):
    yield from serve_app(engine, tmp_path, monkeypatch, form_page="notifications/preferences")


def _user(service, name, **kw):
    with service.factory() as db:
        user = make_user(db, name, **kw)
        user.email = f"{name}@example.org"
        db.commit()
        return user.id


def test_the_digest_choice_is_saved_from_the_preferences_page(service, tag):
    uid = _user(service, f"dp-{tag}")
    me = service.client(f"dp-{tag}")
    page = me.get("notifications/preferences")
    assert page.status_code == 200 and 'id="digest-off" checked' in page.text.replace('"\n', '"')
    done = me.follow(me.post("notifications/digest", {"digest": "weekly"}))
    assert "weekly digest" in done.text and 'value="weekly" id="digest-weekly" checked' in done.text
    with service.factory() as db:
        assert digests.frequency(db, uid) == "weekly"
    bad = me.post("notifications/digest", {"digest": "hourly"})
    assert bad.status_code == 400 and "choose no digest" in bad.text and "Traceback" not in bad.text
    assert service.client(None).post("notifications/digest", {"digest": "daily"}).status_code in (302, 403)


def test_the_digest_unsubscribe_link_asks_then_stops_it_without_a_login(service, tag):
    uid = _user(service, f"du-{tag}")
    with service.factory() as db:
        digests.set_frequency(db, uid, "daily")
        db.commit()
    token = digests.unsubscribe_token(service.config.cookie_secret, uid)
    visitor = service.client(None)
    page = visitor.get(f"notifications/digest/unsubscribe/{token}")
    assert page.status_code == 200 and 'id="confirm-unsubscribe"' in page.text
    # a mail client's one-click POST: no cookie, no xsrf token
    import requests
    r = requests.post(service.base + f"notifications/digest/unsubscribe/{token}",
                      data={"List-Unsubscribe": "One-Click"}, timeout=30)
    assert r.status_code == 200 and 'id="unsubscribed"' in r.text
    with service.factory() as db:
        assert digests.frequency(db, uid) == "off"
    forged = visitor.get(f"notifications/digest/unsubscribe/{token[:-3]}xyz")
    assert forged.status_code == 400 and "not valid" in forged.text


def test_the_outbox_page_counts_lists_problems_and_retries_them(service, tag):
    _user(service, f"oa-{tag}", admin=True)
    with service.factory() as db:
        rows = [mail.enqueue(db, to=f"p{i}-{tag}@example.org", kind="test", subject=f"Problem {i} {tag}", text="x")
                for i in range(3)]
        db.flush()
        db.execute(update(MailOutbox).where(MailOutbox.id == rows[0].id).values(status=FAILED, attempts=1,
                                                                                last_error="550 no such user"))
        db.execute(update(MailOutbox).where(MailOutbox.id == rows[1].id).values(status=DEAD, attempts=8,
                                                                                last_error="421 try later"))
        db.execute(update(MailOutbox).where(MailOutbox.id == rows[2].id).values(status=SENT))
        db.commit()
        ids = [r.id for r in rows]
    admin = service.client(f"oa-{tag}", "admin")
    page = admin.get("admin/email")
    assert page.status_code == 200 and "550 no such user" in page.text and f"Problem 2 {tag}" not in page.text
    assert 'href="/services/lms/admin/email" aria-current="page"' in page.text  # the console's navigation
    one = admin.follow(admin.post("admin/email", {"id": str(ids[0])}))
    assert "1 email queued again" in one.text
    assert admin.follow(admin.post("admin/email", {"id": str(ids[2])})).text.count("Nothing to retry") == 1
    everything = admin.follow(admin.post("admin/email", {"all": "1"}))
    assert "queued again" in everything.text
    with service.factory() as db:
        got = {r.id: (r.status, r.attempts) for r in db.scalars(select(MailOutbox).where(MailOutbox.id.in_(ids)))}
        assert got == {ids[0]: (QUEUED, 0), ids[1]: (QUEUED, 0), ids[2]: (SENT, 0)}
        db.execute(MailOutbox.__table__.delete().where(MailOutbox.id.in_(ids)))
        db.commit()
    for bad in ("", "abc", "99999999999999"):
        r = admin.post("admin/email", {"id": bad})
        assert r.status_code in (303, 400) and "Traceback" not in r.text
    _user(service, f"on-{tag}")
    assert service.client(f"on-{tag}").get("admin/email").status_code == 403


def test_the_template_editor_previews_saves_test_sends_and_resets(service, tag):
    uid = _user(service, f"ta-{tag}", admin=True)
    admin = service.client(f"ta-{tag}", "admin")
    listing = admin.get("admin/email/templates")
    assert listing.status_code == 200 and "Daily and weekly digest" in listing.text
    page = admin.get("admin/email/templates/reply")
    assert page.status_code == 200 and 'id="preview-subject"' in page.text and "Ada Lovelace" in page.text
    form = {"subject": "Reply: {{ title }}", "text": "Hi {{ name }}: {{ body }}",
            "html": '{% extends "layout.html" %}{% block content %}<p>Hi {{ name }}</p>{% endblock %}'}
    preview = admin.post("admin/email/templates/reply", {**form, "action": "preview"})
    assert preview.status_code == 200 and "Reply: Grace replied" in html.unescape(preview.text)
    live = admin.post("admin/email/templates/reply/preview", form)
    assert live.status_code == 200 and live.json()["subject"].startswith("Reply: Grace replied")
    broken = admin.post("admin/email/templates/reply/preview", {**form, "text": "{{ ''.__class__.__mro__ }}"})
    assert broken.json()["field"] == "text" and "not allowed" in broken.json()["error"]
    # hostile input on the page: a clear message, the typed source kept, nothing stored, never a 500
    for bad, says in [("{{ ''.__class__.__mro__ }}", "not allowed"), ("{% if name %}open", "Text body, line 1"),
                      ("{{ secret_key }}", "unknown value secret_key")]:
        r = admin.post("admin/email/templates/reply", {**form, "text": bad, "action": "save"})
        assert r.status_code == 400 and says in html.unescape(r.text) and "Traceback" not in r.text
        assert bad in html.unescape(r.text)  # what was typed is kept for fixing
    with service.factory() as db:
        assert db.get(EmailTemplate, "reply") is None
    saved = admin.follow(admin.post("admin/email/templates/reply", {**form, "action": "save"}))
    assert "Template saved" in saved.text and "edited" in saved.text
    sent = admin.post("admin/email/templates/reply", {**form, "action": "test", "to": f"qa-{tag}@example.org"})
    assert sent.status_code == 200 and 'id="test-sent"' in sent.text
    refused = admin.post("admin/email/templates/reply", {**form, "action": "test", "to": "a@b.c\r\nBcc: x@y.z"})
    assert refused.status_code == 400 and "Traceback" not in refused.text
    with service.factory() as db:
        test_mail = db.scalars(select(MailOutbox).where(MailOutbox.to_addr == f"qa-{tag}@example.org")).one()
        assert test_mail.subject.startswith("[Test] Reply: ") and test_mail.user_id == uid
        db.delete(test_mail)
        db.commit()
    reset = admin.follow(admin.post("admin/email/templates/reply", {"action": "reset"}))
    assert "Back to the default" in reset.text
    with service.factory() as db:
        assert db.get(EmailTemplate, "reply") is None
    assert admin.get("admin/email/templates/nope").status_code == 404
    _user(service, f"tn-{tag}")
    student = service.client(f"tn-{tag}")
    assert student.get("admin/email/templates/reply").status_code == 403
    assert student.post("admin/email/templates/reply/preview", form).status_code == 403
