"""The outbox API (enqueue, render) and one delivery pass against a real SMTP server, in-process."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms_extension.errors import InvalidInput
from lms_extension.models.base import utcnow
from lms_extension.models.mail import MailOutbox
from lms_extension.services import mail
from tests.mail.conftest import SENDER, free_port

WORKER = "test-worker"


def settings(port: int, **kw) -> mail.SMTPSettings:
    return mail.SMTPSettings(**{"host": "127.0.0.1", "port": port, "sender": SENDER, "starttls": False,
                                "timeout": 5.0, **kw})


def queue(factory, n=1, **kw):
    with factory() as s:
        rows = []
        for i in range(n):
            args = {"to": f"student{i}@example.org", "kind": "test", "subject": f"Hello {i}",
                    "text": f"plain text {i}", "html": f"<p>html {i}</p>", **kw}
            rows.append(mail.enqueue(s, **args))
        s.commit()
        return [r.id for r in rows]


def rows(factory) -> dict[int, MailOutbox]:
    with factory() as s:
        return {r.id: r for r in s.scalars(select(MailOutbox))}


def test_message_arrives_with_both_parts_and_headers(factory, smtp_server):
    server = smtp_server()
    subject, text, html = mail.render("test", {"name": "Ada <script>", "unsubscribe_url": "https://lms.test/u/1"})
    with factory() as s:
        row = mail.enqueue(s, to="Ada Lovelace <ada@example.org>", kind="test", subject=subject, text=text,
                           html=html, unsubscribe_url="https://lms.test/u/1?t=abc")
        s.commit()
        key = row.message_key
    report = mail.deliver_due(factory, settings(server.port), WORKER)
    assert (report.claimed, report.sent) == (1, 1)
    [got] = server.inbox.received
    msg = got["message"]
    assert got["mail_from"] == "noreply@lms.test" and got["rcpt_tos"] == ["ada@example.org"]
    assert msg["From"] == SENDER and msg["To"] == "Ada Lovelace <ada@example.org>"
    assert msg["Subject"] == "Test email from Jupyter LMS"
    assert msg["Message-ID"] == f"<{key}@lms.test>"
    assert msg["List-Unsubscribe"] == "<https://lms.test/u/1?t=abc>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    rich = msg.get_body(("html",)).get_content()
    assert "Hello Ada <script>," in plain and "<p>" not in plain  # real text, not stripped HTML
    assert "Ada &lt;script&gt;" in rich and "<script>" not in rich  # autoescaped
    assert 'href="https://lms.test/u/1"' in rich  # the layout's unsubscribe link
    assert rows(factory)[row.id].status == "sent" and rows(factory)[row.id].sent_at is not None
    # nothing left to send: a second pass sends nothing
    assert mail.deliver_due(factory, settings(server.port), WORKER).claimed == 0
    assert server.inbox.count() == 1


def test_starttls_and_auth_when_configured(factory, smtp_server, server_tls, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test's self-signed certificate
    server = smtp_server(tls=server_tls, credentials=("lms", "s3cret"))
    queue(factory, 2)
    report = mail.deliver_due(factory, settings(server.port, starttls=True, user="lms", password="s3cret"), WORKER)
    assert report.sent == 2
    assert all(r["tls"] for r in server.inbox.received)
    assert all(r["authenticated"] and r["login"] == b"lms" for r in server.inbox.received)


def test_wrong_password_is_a_temporary_failure_with_the_reply(factory, smtp_server, server_tls, certificate,
                                                             monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    server = smtp_server(tls=server_tls, credentials=("lms", "s3cret"))
    [row_id] = queue(factory)
    report = mail.deliver_due(factory, settings(server.port, starttls=True, user="lms", password="wrong"), WORKER)
    assert (report.sent, report.retried) == (0, 1)
    row = rows(factory)[row_id]
    assert row.status == "queued" and row.attempts == 1 and "535" in row.last_error
    assert server.inbox.count() == 0


def test_starttls_refuses_an_untrusted_certificate(factory, smtp_server, server_tls):
    server = smtp_server(tls=server_tls)
    [row_id] = queue(factory)
    report = mail.deliver_due(factory, settings(server.port, starttls=True), WORKER)
    assert report.retried == 1 and server.inbox.count() == 0
    assert "CERTIFICATE_VERIFY_FAILED" in rows(factory)[row_id].last_error


def test_recipient_refused_5xx_fails_that_row_only(factory, smtp_server):
    server = smtp_server()
    server.inbox.refuse["student1@example.org"] = "550 5.1.1 No such user here"
    ids = queue(factory, 3)
    report = mail.deliver_due(factory, settings(server.port), WORKER)
    assert (report.sent, report.failed) == (2, 1)
    got = rows(factory)
    assert got[ids[1]].status == "failed" and got[ids[1]].last_error == "550 5.1.1 No such user here"
    assert got[ids[0]].status == got[ids[2]].status == "sent"
    assert sorted(r["rcpt_tos"][0] for r in server.inbox.received) == ["student0@example.org", "student2@example.org"]
    assert mail.outbox_counts(factory())["failed"] == 1
    assert [p.id for p in mail.problems(factory())] == [ids[1]]
    # a failed row is never retried
    server.inbox.refuse.clear()
    assert mail.deliver_due(factory, settings(server.port), WORKER).claimed == 0


def test_4xx_is_retried_with_backoff(factory, smtp_server):
    server = smtp_server()
    server.inbox.refuse["student0@example.org"] = "450 4.2.1 Mailbox busy, try later"
    [row_id] = queue(factory)
    policy = mail.DeliveryPolicy(retry_seconds=60, max_attempts=5)
    before = utcnow()
    assert mail.deliver_due(factory, settings(server.port), WORKER, policy).retried == 1
    row = rows(factory)[row_id]
    assert row.status == "queued" and row.attempts == 1 and row.last_error.startswith("450")
    assert timedelta(seconds=59) < row.next_attempt_at.replace(tzinfo=before.tzinfo) - before < timedelta(seconds=70)
    assert mail.deliver_due(factory, settings(server.port), WORKER, policy).claimed == 0  # not due yet


def test_server_down_backoff_doubles_then_dead(factory):
    port = free_port()  # nothing listens here
    [row_id] = queue(factory)
    policy = mail.DeliveryPolicy(retry_seconds=10, max_attempts=3)
    waits = []
    for attempt in (1, 2):
        start = utcnow()
        report = mail.deliver_due(factory, settings(port), WORKER, policy)
        assert report.retried == 1
        row = rows(factory)[row_id]
        assert row.status == "queued" and row.attempts == attempt and "refused" in row.last_error.lower()
        waits.append((row.next_attempt_at.replace(tzinfo=start.tzinfo) - start).total_seconds())
        with factory() as s:  # make it due now instead of sleeping
            s.get(MailOutbox, row_id).next_attempt_at = utcnow()
            s.commit()
    assert 10 <= waits[0] < 12 and 20 <= waits[1] < 23
    assert mail.deliver_due(factory, settings(port), WORKER, policy).dead == 1
    assert rows(factory)[row_id].status == "dead"
    assert mail.outbox_counts(factory())["dead"] == 1


def test_dedupe_key_enqueue_twice_is_one_message(factory, smtp_server):
    server = smtp_server()
    with factory() as s:
        first = mail.enqueue(s, to="a@example.org", kind="test", subject="S", text="t", dedupe_key="grade:7")
        again = mail.enqueue(s, to="a@example.org", kind="test", subject="S", text="t", dedupe_key="grade:7")
        assert again.id == first.id
        s.commit()
    with factory() as s:  # also in a later transaction
        assert mail.enqueue(s, to="a@example.org", kind="test", subject="S", text="t", dedupe_key="grade:7").id == first.id
        s.commit()
    assert mail.deliver_due(factory, settings(server.port), WORKER).sent == 1
    assert server.inbox.count() == 1


def test_dedupe_key_under_concurrent_callers(factory):
    barrier, ids, errors = threading.Barrier(6), [], []

    def caller():
        try:
            with factory() as s:
                barrier.wait()
                row = mail.enqueue(s, to="a@example.org", kind="test", subject="S", text="t", dedupe_key="race")
                s.commit()
                ids.append(row.id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=caller) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(ids) == 6 and len(set(ids)) == 1
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(MailOutbox)) == 1


@pytest.mark.parametrize("field,value", [
    ("to", "victim@example.org\r\nBcc: everyone@example.org"),
    ("to", "victim@example.org\nBcc: everyone@example.org"),
    ("to", "a@example.org, b@example.org"),
    ("to", "not an address"),
    ("subject", "Hello\r\nBcc: everyone@example.org"),
    ("subject", "Hello\nX-Injected: yes"),
    ("unsubscribe_url", "https://lms.test/u\r\nBcc: x@example.org"),
    ("unsubscribe_url", "javascript:alert(1)"),
    ("kind", "../../etc/passwd"),
])
def test_header_injection_is_refused_and_nothing_queued(factory, field, value):
    args = {"to": "a@example.org", "kind": "test", "subject": "S", "text": "t", field: value}
    with factory() as s:
        with pytest.raises(InvalidInput) as refused:
            mail.enqueue(s, **args)
        s.commit()
        assert s.scalar(select(func.count()).select_from(MailOutbox)) == 0
    assert refused.value.message  # a sentence for the caller


def test_render_subject_is_one_line_and_missing_templates_are_clear():
    subject, text, html = mail.render("test", {"site_name": "Evil\r\nBcc: x@example.org"})
    assert "\n" not in subject and "\r" not in subject
    with pytest.raises(InvalidInput, match="no email template"):
        mail.render("no-such-kind", {})


def test_a_message_whose_worker_keeps_dying_ends_dead(factory):
    """Each expired lease counts as an attempt: a message that crashes its workers stops being retried."""
    [row_id] = queue(factory)
    policy = mail.DeliveryPolicy(lease_seconds=-1, max_attempts=3)  # every lease has already run out
    claims = 0
    while True:
        with factory() as s:
            if not mail.claim_due(s, f"doomed-{claims}", policy):
                break
        claims += 1
        assert claims < 10
    row = rows(factory)[row_id]
    assert row.status == "dead" and row.attempts == 3 and "stopped" in row.last_error
    assert claims == 3  # claimed three times (attempts 0, 1, 2), the fourth claim gives up


def test_non_ascii_names_and_subjects_arrive_intact(factory, smtp_server):
    server = smtp_server()
    with factory() as s:
        mail.enqueue(s, to="Zoë Ångström <zoe@example.org>", kind="test", subject="Grüße: " + "ü" * 120,
                     text="Grüße, Zoë\n" + "long line " * 40, html="<p>Grüße</p>",
                     unsubscribe_url="https://lms.test/unsubscribe?token=" + "a" * 150)
        s.commit()
    assert mail.deliver_due(factory, settings(server.port), WORKER).sent == 1
    [got] = server.inbox.received
    msg = got["message"]
    assert msg["To"] == "Zoë Ångström <zoe@example.org>" and got["rcpt_tos"] == ["zoe@example.org"]
    assert msg["Subject"] == "Grüße: " + "ü" * 120
    assert msg["List-Unsubscribe"] == "<https://lms.test/unsubscribe?token=" + "a" * 150 + ">"
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # CRLF: canonical line ends on the wire
    assert plain.startswith("Grüße, Zoë\n" + "long line " * 40)
    assert "Grüße" in msg.get_body(("html",)).get_content()
