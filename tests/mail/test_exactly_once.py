"""The hand-over that keeps a message from being sent twice, in-process against real aiosmtpd
servers: a connection that breaks after the end of data, a lease lost before it, a killed
worker's handed-over row, and bulk enqueueing with dedupe keys."""
from __future__ import annotations

from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from lms_extension.models.base import utcnow
from lms_extension.models.mail import MailOutbox
from lms_extension.services import mail
from tests.mail.conftest import Inbox, free_port
from tests.mail.test_outbox import WORKER, queue, rows, settings

POLICY = mail.DeliveryPolicy(batch_size=10, lease_seconds=60)


class DropsTheConnectionAfterData(Inbox):
    """Takes the message (counts it) and closes the connection before its 250."""

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)
        server.transport.abort()
        return "250 OK"


def test_a_connection_lost_after_the_end_of_data_is_in_doubt_and_never_resent(factory):
    inbox = DropsTheConnectionAfterData()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        [row_id] = queue(factory)
        report = mail.deliver_due(factory, settings(port), WORKER, POLICY)
        assert report.sent == 1 and report.retried == 0
        row = rows(factory)[row_id]
        assert row.status == "sent" and row.last_error.startswith(mail.IN_DOUBT) and row.sent_at is not None
        with factory() as s:
            assert [p.id for p in mail.problems(s)] == [row_id]
        assert mail.deliver_due(factory, settings(port), WORKER, POLICY).claimed == 0
        assert inbox.count() == 1
    finally:
        controller.stop()


def test_a_killed_workers_handed_over_row_is_settled_not_resent(factory, smtp_server):
    server = smtp_server()
    before, handed = queue(factory, 2)
    with factory() as s:  # a worker held both and died: one before its end of data, one after
        s.execute(update(MailOutbox).values(status="sending", lease_owner="dead-worker",
                                            lease_expires_at=utcnow() - timedelta(seconds=1)))
        s.execute(update(MailOutbox).where(MailOutbox.id == handed).values(sent_at=utcnow()))
        s.commit()
    report = mail.deliver_due(factory, settings(server.port), WORKER, POLICY)
    assert report.claimed == 1 and report.sent == 1
    got = rows(factory)
    assert got[before].status == "sent" and got[before].last_error is None
    assert got[handed].status == "sent" and got[handed].last_error.startswith(mail.IN_DOUBT)
    assert server.inbox.count() == 1  # only the one whose end of data never went out


def test_a_lost_lease_stops_the_message_before_its_end_of_data(factory, smtp_server):
    server = smtp_server()
    [row_id] = queue(factory)
    with factory() as s:
        [claimed] = mail.claim_due(s, WORKER, POLICY)
        # another worker took it over meanwhile
        s.execute(update(MailOutbox).values(lease_owner="other-worker"))
        s.commit()
    conn = mail.SMTPTransport(settings(server.port)).open()
    try:
        with factory() as s:
            try:
                conn.send(mail.build_message(claimed, settings(server.port)), claimed.to_addr,
                          lambda: mail.hand_over(s, row_id, WORKER))
            except mail.LeaseLost:
                conn.drop()
            else:
                raise AssertionError("the message was completed without the lease")
    finally:
        conn.close()
    assert server.inbox.count() == 0  # the server discarded the unfinished message
    assert rows(factory)[row_id].sent_at is None


def test_enqueue_many_adds_each_key_once_and_leaves_out_refused_addresses(factory):
    refused = []
    messages = [dict(to=f"s{i}@example.org", kind="test", subject="Hi", text="t", dedupe_key=f"many:{i}")
                for i in range(3)] + [dict(to="bad\r\nBcc: x@example.org", kind="test", subject="Hi", text="t",
                                           dedupe_key="many:bad")]
    with factory() as s:
        assert mail.enqueue_many(s, messages, on_invalid=lambda m, exc: refused.append(m["dedupe_key"])) == 3
        assert mail.enqueue_many(s, messages[:3] + [dict(messages[0], dedupe_key="many:9")]) == 1
        s.commit()
        keys = sorted(s.scalars(select(MailOutbox.dedupe_key)))
    assert refused == ["many:bad"] and keys == ["many:0", "many:1", "many:2", "many:9"]
