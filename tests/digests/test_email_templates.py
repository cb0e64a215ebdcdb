"""Admin-edited email templates: checked before they are stored, rendered in the sandbox, used
by the notifications' emails, reset to the files' version. Hostile sources get a clear message."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from lms_extension.errors import InvalidInput, NotFound
from lms_extension.models.digests import EmailTemplate
from lms_extension.models.mail import MailOutbox
from lms_extension.services import email_templates as et, notifications
from tests.factories import make_user

LABELS = {k: kind.label for k, kind in notifications.KINDS.items()}
CATALOGUE = et.catalogue(LABELS)
REPLY = CATALOGUE["reply"]
GOOD = {"subject": "Re: {{ title }}", "text": "Hi {{ name }}\n{{ body }}\n{{ link }}",
        "html": '{% extends "layout.html" %}{% block content %}<p>Hi {{ name }}</p>{{ body }}{% endblock %}'}


def with_(**parts):
    return {**GOOD, **parts}


def test_every_kind_and_the_digest_are_editable_and_their_defaults_render():
    assert set(CATALOGUE) == set(notifications.KINDS) | {"digest"}
    for spec in CATALOGUE.values():
        subject, text, html = et.preview(spec, **et.default_sources(spec))
        assert subject and text.strip() and html.lstrip().lower().startswith("<!doctype html>")


def test_an_edited_template_is_used_by_notification_emails_and_reset_restores_the_default(session, tag):
    admin = make_user(session, f"adm-{tag}", admin=True)
    reader = make_user(session, f"rd-{tag}")
    reader.email = f"rd-{tag}@example.org"
    et.save(session, admin, REPLY, **with_(subject="Custom: {{ title }}", text="Custom {{ name }} <b>{{ body }}</b>"))
    notifications.notify(session, user_ids=[reader.id], kind="reply", title="T1", body="<script>x</script>",
                         url="forum/threads/1", dedupe_key=f"t-{tag}-1")
    row = session.scalars(select(MailOutbox).where(MailOutbox.user_id == reader.id)).one()
    assert row.subject == "Custom: T1" and row.text_body.startswith(f"Custom rd-{tag} <b><script>")
    assert "&lt;script&gt;" in row.html_body and "<script>" not in row.html_body  # the HTML stays escaped
    # another kind keeps the files' version
    notifications.notify(session, user_ids=[reader.id], kind="mention", title="T2", body="b", url="x",
                         dedupe_key=f"t-{tag}-2")
    other = session.scalars(select(MailOutbox).where(MailOutbox.user_id == reader.id, MailOutbox.kind == "mention")).one()
    assert other.subject == "T2" and "Custom" not in other.text_body
    assert et.reset(session, admin, REPLY) is True and et.reset(session, admin, REPLY) is False
    notifications.notify(session, user_ids=[reader.id], kind="reply", title="T3", body="b", url="x",
                         dedupe_key=f"t-{tag}-3")
    third = session.scalars(select(MailOutbox).where(MailOutbox.subject == "T3")).one()
    assert "Custom" not in third.text_body


@pytest.mark.parametrize("parts, says", [
    ({"text": "{{ ''.__class__.__mro__ }}"}, "not allowed"),
    ({"html": "{{ name.__class__.__init__.__globals__ }}"}, "not allowed"),
    ({"text": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"}, "unknown value cycler"),
    ({"text": "{{ lipsum.__globals__ }}"}, "unknown value lipsum"),
    ({"subject": "{{ range.__self__ }}"}, "Subject: cannot render"),
    ({"text": "{% for i in range(10**9) %}{% endfor %}"}, "sandbox blocks ranges"),
    ({"text": "{{ 'x' * 100000000 }}"}, "not allowed"),
    ({"text": "{{ name "}, "Text body, line 1"),
    ({"html": "<p>\n{% if name %}unclosed"}, "HTML body, line 2"),
    ({"text": "{% for x in courses %}"}, "Text body"),
    ({"subject": "Hello {{ password }}"}, "Subject: unknown value password"),
    ({"text": "{% include '../../config.py' %}"}, "cannot render"),
    ({"html": "{% extends 'missing.html' %}"}, "cannot render"),
    ({"text": "{{ name | attr('__class__') }}"}, "not allowed"),
    ({"text": ""}, "write something"),
    ({"text": "x" * 20_001}, "at most 20,000"),
    ({"text": "{{ 1 / 0 }}"}, "ZeroDivisionError"),
])
def test_hostile_and_broken_sources_get_a_clear_message_and_nothing_is_stored(session, tag, parts, says):
    admin = make_user(session, f"adm-{tag}", admin=True)
    with pytest.raises(InvalidInput) as caught:
        et.save(session, admin, REPLY, **with_(**parts))
    assert says in caught.value.message
    assert caught.value.details["field"] in ("subject", "text", "html")
    assert session.get(EmailTemplate, "reply") is None


def test_unknown_template_names_are_not_found():
    for key in ("nope", None, 3, "../notification"):
        with pytest.raises(NotFound):
            et.find(CATALOGUE, key)


def test_a_stored_template_that_stops_rendering_falls_back_to_the_files(session, tag):
    """A value a caller stopped giving must not cost anyone their email nor undo the event."""
    admin = make_user(session, f"adm-{tag}", admin=True)
    reader = make_user(session, f"rd-{tag}")
    reader.email = f"rd-{tag}@example.org"
    et.save(session, admin, REPLY, **GOOD)
    row = session.get(EmailTemplate, "reply")
    row.text_body = "{{ name.missing_attribute.deeper }}"  # as if a variable went away
    session.flush()
    notifications.notify(session, user_ids=[reader.id], kind="reply", title="T", body="b", url="x",
                         dedupe_key=f"fb-{tag}")
    sent = session.scalars(select(MailOutbox).where(MailOutbox.user_id == reader.id)).one()
    assert sent.subject == "T" and "Open it:" in sent.text_body


def test_the_digest_uses_an_edited_digest_template(session, tag, due_course):
    from lms_extension.services import digests, enrollments
    admin = make_user(session, f"adm-{tag}", admin=True)
    et.save(session, admin, CATALOGUE["digest"], subject="{{ total }} things for {{ name }}",
            text="{% for c in courses %}{{ c.title }}{% endfor %}", html="<p>{{ period_label }}</p>")
    course, _, _ = due_course(30)
    ann = make_user(session, f"dt-{tag}")
    ann.email = f"dt-{tag}@example.org"
    enrollments.enroll(session, ann, course.slug)
    digests.set_frequency(session, ann.id, "daily")
    assert digests.send(session, ann.id) == digests.SENT
    row = session.scalars(select(MailOutbox).where(MailOutbox.user_id == ann.id, MailOutbox.kind == "digest")).one()
    assert row.subject == f"1 things for dt-{tag}" and row.text_body == course.title + "\n"
    assert row.html_body == "<p>Your daily digest</p>"
