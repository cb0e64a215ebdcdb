"""Email: the outbox (one row per message to send), delivered over SMTP by `lms worker`.

Callers ``render`` a kind's templates and ``enqueue`` the message in their own transaction:
the email exists exactly when the change that caused it is committed. ``lms worker`` then
delivers due rows (``deliver_due``, in a loop by ``deliver_forever``):

* A worker claims a batch of due rows with a lease (one conditional UPDATE; PostgreSQL's
  ``FOR UPDATE SKIP LOCKED`` lets several workers claim different rows at once, SQLite's write
  lock serializes the claims), so two workers never hold the same row.
* It sends them over one SMTP connection, multipart/alternative (text + HTML), each with the
  Message-ID fixed when the row was made, and records each result in its own transaction
  right after the server's reply: ``sent``; ``queued`` again with exponential backoff after
  a temporary failure (connection refused or dropped, timeouts, 4xx replies); ``failed`` with
  the server's reply after a permanent one (5xx, e.g. recipient refused); ``dead`` after
  ``mail_max_attempts`` temporary failures. A refused row never blocks the others.
* A worker that dies (even SIGKILL) loses nothing: its rows stay ``sending`` until their lease
  expires, then any worker claims them again. A worker sends a row only while well inside
  its lease (the SMTP timeout is kept under a third of it) and records a result only while it
  still holds the lease.

Exactly once: what holds. SMTP cannot make "the server took the message" and "we recorded
it" one atomic step (the server takes responsibility when it reads the final "." of DATA).
The worker therefore splits DATA: it sends the whole message except the final ".", then
commits ``hand_over`` (``sent_at`` set on the still-``sending`` row, only while it holds an
unexpired lease), then writes the "." and reads the reply. A server discards a transaction
whose "." never came (RFC 5321 4.1.1.4: the connection closed inside DATA). So:

* Never twice. A row is sent again only if its hand-over was never committed, and then the
  server never got its "." and discarded it. A row found ``sending`` with ``sent_at`` set and
  its lease run out (the worker died after the hand-over) is never re-sent: ``settle_in_doubt``
  records it ``sent`` with ``last_error`` starting ``IN_DOUBT``; a connection that breaks after
  the "." went out does the same (``mark_in_doubt``). A worker whose lease was taken over
  cannot commit the hand-over and drops the connection instead of finishing the message.
* Not lost, except in one gap: a worker killed after the hand-over commit became durable and
  before the "." reached its socket (the rest of the commit call, then one ``send``). That
  message is counted as sent without having arrived - and it is listed by ``problems`` as in
  doubt, never silently gone. Once the "." is in the kernel's socket buffer, a SIGKILL still
  delivers it. With several connections per worker (``mail_connections``) a thread may wait
  for the GIL inside the gap, which widens it (see the figures below).
* Every attempt carries the Message-ID fixed when the row was made.

``tests/mail/test_worker_delivery.py`` kills real workers (one connection) with SIGKILL at
random moments and right after the server counted a message (the old duplicate window): 0
duplicates and 0 losses in our runs; one row per kill at most is noted in doubt (and it did
arrive). ``benchmarks/bench_fanout.py`` (10,000 emails, two SIGKILLs): 0 duplicates in every
run; 0 lost with 1 or 2 connections; with 4 connections (and results written through the
Session, before they went through a Core connection) 1 of the 8 rows in doubt per run had not
arrived. The hand-over commit also records the messages accepted since the previous one, so
delivery costs one commit per message.

A lease that runs out counts as an attempt of its row (the worker holding it died), so a
message that crashes every worker that sends it is dead after ``mail_max_attempts``. Admins
read ``outbox_counts`` and ``problems``; a page is a later step.
"""
from __future__ import annotations

import asyncio
import io
import logging
import random
import re
import smtplib
import socket
import ssl
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.policy import compat32
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from jinja2.exceptions import UndefinedError
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InvalidInput
from ..models.base import utcnow
from ..models.mail import DEAD, FAILED, QUEUED, SENDING, SENT, STATUSES, MailOutbox

log = logging.getLogger("lms.mail")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_SUBJECT = 500
MAX_BACKOFF_SECONDS = 6 * 3600.0
IN_DOUBT = "in doubt: "  # last_error of a row counted as sent without the server's reply


# ---------------------------------------------------------------------------------- enqueue
def _clean_header(name: str, value: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"the email's {name} is empty")
    if CONTROL.search(value):
        raise InvalidInput(f"the email's {name} contains a line break or control character; "
                           "header values must be a single line")
    if len(value) > limit:
        raise InvalidInput(f"the email's {name} is longer than {limit} characters")
    return value.strip()


def envelope_address(to: str) -> str:
    """The bare address of a ``To`` value (``Ann <ann@example.org>`` or ``ann@example.org``)."""
    return parseaddr(to)[1]


def check_recipient(to: str) -> str:
    """``to`` as stored, or InvalidInput: one address, one line, nothing a header could hide."""
    to = _clean_header("recipient", to, 320)
    address = envelope_address(to)
    if "," in to or ";" in to or not address or not ADDRESS.match(address):
        raise InvalidInput(f"{to!r} is not one email address")
    return to


def _checked(to, kind, subject, text, html, unsubscribe_url) -> tuple[str, str, str | None]:
    """(to, subject, unsubscribe_url) as stored, or InvalidInput for a message not to queue."""
    to = check_recipient(to)
    subject = _clean_header("subject", subject, MAX_SUBJECT)
    if not isinstance(kind, str) or not KIND.match(kind):
        raise InvalidInput(f"{kind!r} is not an email kind (lower-case letters, digits, . _ -)")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the email has no text part")
    if html is not None and not isinstance(html, str):
        raise InvalidInput("the email's HTML part must be text")
    if unsubscribe_url is not None:
        unsubscribe_url = _clean_header("unsubscribe link", unsubscribe_url, 900)
        if not re.match(r"^(https?://|mailto:)\S+$", unsubscribe_url) or ">" in unsubscribe_url:
            raise InvalidInput("the unsubscribe link must be one http(s):// or mailto: URL")
    return to, subject, unsubscribe_url


def enqueue(session: Session, *, to: str, kind: str, subject: str, text: str, html: str | None = None,
            user_id: int | None = None, dedupe_key: str | None = None,
            unsubscribe_url: str | None = None) -> MailOutbox:
    """Add one message to the outbox in the caller's transaction (no commit); the row.

    A second call with the same ``dedupe_key`` adds nothing and returns the first row, also
    when two transactions race (the key is unique; the loser reads the winner's row).
    ``unsubscribe_url`` becomes ``List-Unsubscribe`` with one-click unsubscribe (RFC 8058).
    Header injection (CR/LF in ``to``, ``subject`` or the URL) is refused with InvalidInput.
    """
    to, subject, unsubscribe_url = _checked(to, kind, subject, text, html, unsubscribe_url)
    if dedupe_key is not None:
        dedupe_key = _clean_header("dedupe key", dedupe_key, 255)
        existing = _by_key(session, dedupe_key)
        if existing is not None:
            return existing
    row = MailOutbox(to_addr=to, kind=kind, subject=subject, text_body=text, html_body=html, user_id=user_id,
                     dedupe_key=dedupe_key, unsubscribe_url=unsubscribe_url, message_key=uuid.uuid4().hex,
                     status=QUEUED, attempts=0, next_attempt_at=utcnow(), created_at=utcnow())
    if dedupe_key is None:
        session.add(row)
        session.flush()
        return row
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # another transaction committed the same key first
        existing = _by_key(session, dedupe_key)
        if existing is None:
            raise
        return existing
    return row


def enqueue_many(session: Session, messages: list[dict], *, on_invalid=None) -> int:
    """Add many messages at once (each a dict of ``enqueue``'s keyword arguments) in the
    caller's transaction; how many were new. One bulk INSERT: a ``dedupe_key`` already
    there, also one a concurrent transaction inserts, is skipped by the unique constraint. A
    message ``enqueue`` would refuse raises InvalidInput before anything is added, or, with
    ``on_invalid(message, error)``, is left out."""
    now = utcnow()
    rows = []
    for m in messages:
        try:
            to, subject, url = _checked(m["to"], m["kind"], m["subject"], m["text"], m.get("html"),
                                        m.get("unsubscribe_url"))
            key = m.get("dedupe_key")
            key = _clean_header("dedupe key", key, 255) if key is not None else None
        except InvalidInput as exc:
            if on_invalid is None:
                raise
            on_invalid(m, exc)
            continue
        rows.append(dict(to_addr=to, kind=m["kind"], subject=subject, text_body=m["text"], html_body=m.get("html"),
                         user_id=m.get("user_id"), dedupe_key=key,
                         unsubscribe_url=url, message_key=uuid.uuid4().hex, status=QUEUED, attempts=0,
                         next_attempt_at=now, created_at=now))
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    if not rows:
        return 0
    table = MailOutbox.__table__  # Core, executemany: compiled once, sent in batches by the driver
    stmt = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    return len(session.execute(stmt, rows).scalars().all())


def _by_key(session: Session, dedupe_key: str) -> MailOutbox | None:
    return session.scalars(select(MailOutbox).where(MailOutbox.dedupe_key == dedupe_key)).first()


# ---------------------------------------------------------------------------------- render
class _Undefined(StrictUndefined):
    """A missing value may be tested (``{% if name %}``) but not printed: a template that
    prints what its caller did not give fails instead of sending a gap."""

    def __bool__(self) -> bool:
        return False


_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                   undefined=_Undefined, auto_reload=False)


def render(kind: str, context: dict, session: Session | None = None,
           template_key: str | None = None) -> tuple[str, str, str]:
    """(subject, text, html) of ``kind`` from ``templates/email/<kind>.subject.txt``, ``.txt``
    and ``.html`` (which extends ``layout.html``); the HTML is autoescaped, the text part is
    written as text. The subject is one line whatever the context holds.

    With a ``session``, an admin's version of the email (``email_templates``, by ``template_key``,
    e.g. a notification kind; default ``kind``) is used instead of the files, rendered in the
    sandbox."""
    if not isinstance(kind, str) or not KIND.match(kind):
        raise InvalidInput(f"{kind!r} is not an email kind")
    if session is not None:
        from . import email_templates  # imported here: it is the one part of this module that needs it
        override = email_templates.render_stored(session, template_key or kind, context)
        if override is not None:
            return override
    try:
        subject = _env.get_template(f"{kind}.subject.txt").render(context)
        text = _env.get_template(f"{kind}.txt").render(context)
        html = _env.get_template(f"{kind}.html").render(context)
    except TemplateNotFound as exc:
        raise InvalidInput(f"no email template {exc.name} for the kind {kind!r}") from None
    except UndefinedError as exc:
        raise InvalidInput(f"the email {kind!r} needs a value the caller did not give: {exc}") from None
    return " ".join(subject.split())[:MAX_SUBJECT], text.strip() + "\n", html


# ---------------------------------------------------------------------------------- admin
def outbox_counts(session: Session) -> dict[str, int]:
    """Rows per status (every status present, 0 when none): ``failed`` and ``dead`` are the ones
    an admin looks at."""
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(session.execute(select(MailOutbox.status, func.count()).group_by(MailOutbox.status)).all())
    return counts


def problems(session: Session, limit: int = 50) -> list[MailOutbox]:
    """The latest failed and dead messages, with the server's reply in ``last_error``, and the
    messages counted as sent although their worker or connection stopped before the server's
    reply (``last_error`` starts with ``IN_DOUBT``; almost always delivered, never sent twice)."""
    return list(session.scalars(select(MailOutbox).where(or_(
        MailOutbox.status.in_((FAILED, DEAD)),
        and_(MailOutbox.status == SENT, MailOutbox.last_error.like(IN_DOUBT + "%"))))
        .order_by(MailOutbox.id.desc()).limit(limit)))


def retry(session: Session, row_ids=None) -> int:
    """An admin's "retry now": failed and dead rows (``row_ids``, or all of them) are queued again,
    due at once, with a fresh count of attempts; how many. Sent rows, in doubt ones included,
    are never queued again (that would send them twice)."""
    stmt = update(MailOutbox).where(MailOutbox.status.in_((FAILED, DEAD)))
    if row_ids is not None:
        ids = [int(i) for i in row_ids if 0 < int(i) <= 2**31 - 1]
        if not ids:
            return 0
        stmt = stmt.where(MailOutbox.id.in_(ids))
    done = session.execute(stmt.values(status=QUEUED, attempts=0, next_attempt_at=utcnow(), lease_owner=None,
                                       lease_expires_at=None)
                           .execution_options(synchronize_session=False)).rowcount
    session.flush()
    return done or 0


# ---------------------------------------------------------------------------------- delivery
@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int = 587
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = "Jupyter LMS <noreply@localhost>"
    starttls: bool = True
    timeout: float = 20.0

    @classmethod
    def from_config(cls, config) -> "SMTPSettings":
        return cls(host=config.smtp_host, port=config.smtp_port, user=config.smtp_user,
                   password=config.smtp_password, sender=config.smtp_from, starttls=config.smtp_starttls,
                   timeout=config.smtp_timeout_seconds)


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 50
    lease_seconds: float = 60.0
    max_attempts: int = 8
    retry_seconds: float = 30.0  # the first backoff; doubled after each further failure

    @classmethod
    def from_config(cls, config) -> "DeliveryPolicy":
        return cls(batch_size=config.mail_batch_size, lease_seconds=config.mail_lease_seconds,
                   max_attempts=config.mail_max_attempts, retry_seconds=config.mail_retry_seconds)

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th temporary failure in a row (jittered 0-10 %)."""
        base = min(MAX_BACKOFF_SECONDS, self.retry_seconds * 2 ** max(0, failures - 1))
        return base * (1 + random.random() / 10)


@dataclass(frozen=True)
class Outgoing:
    """What a worker needs of a claimed row to send it (no session while talking SMTP)."""
    id: int
    to_addr: str
    subject: str
    text_body: str
    html_body: str | None
    unsubscribe_url: str | None
    message_key: str
    created_at: datetime
    attempts: int
    lease_expires_at: datetime


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0


def _claimable(now: datetime):
    # a row whose end of DATA was handed to the server (sent_at set while sending) is never
    # claimed again: it may have been delivered (see the module docstring)
    return or_(and_(MailOutbox.status == QUEUED, MailOutbox.next_attempt_at <= now),
               and_(MailOutbox.status == SENDING, MailOutbox.lease_expires_at < now, MailOutbox.sent_at.is_(None)))


def settle_in_doubt(session: Session, *, now: datetime | None = None) -> int:
    """Rows whose worker died (lease ran out) after handing the end of DATA to the server and
    before recording its reply: taken as sent, never sent again, and noted (``IN_DOUBT``) so
    that ``problems`` lists them. Does not commit; how many."""
    now = now or utcnow()
    return session.execute(
        update(MailOutbox)
        .where(MailOutbox.status == SENDING, MailOutbox.lease_expires_at < now, MailOutbox.sent_at.is_not(None))
        .values(status=SENT, lease_owner=None, lease_expires_at=None, attempts=MailOutbox.attempts + 1,
                last_error=IN_DOUBT + "the worker stopped after handing the message to the server and before "
                "reading its reply; counted as sent and not sent again")
        .execution_options(synchronize_session=False)).rowcount or 0


def claim_due(session: Session, worker: str, policy: DeliveryPolicy, *, now: datetime | None = None) -> list[Outgoing]:
    """Lease up to ``batch_size`` due rows (queued and due, or sending with an expired lease) to
    ``worker``; commits. Oldest due first."""
    now = now or utcnow()
    expires = now + timedelta(seconds=policy.lease_seconds)
    settled = settle_in_doubt(session, now=now)
    if settled:
        log.warning("%d email(s) in doubt (their worker stopped after the end of DATA): counted as sent", settled)
    candidates = (select(MailOutbox.id).where(_claimable(now))
                  .order_by(MailOutbox.next_attempt_at, MailOutbox.id).limit(policy.batch_size)
                  .with_for_update(skip_locked=True))
    ids = session.scalars(
        update(MailOutbox)
        .where(MailOutbox.id.in_(candidates.scalar_subquery()), _claimable(now))
        # a lease that ran out means the worker holding the row died: that counts as an attempt,
        # so a message that kills its worker every time ends up dead instead of looping forever
        .values(status=SENDING, lease_owner=worker, lease_expires_at=expires,
                attempts=case((MailOutbox.status == SENDING, MailOutbox.attempts + 1), else_=MailOutbox.attempts))
        .returning(MailOutbox.id)
        .execution_options(synchronize_session=False)).all()
    session.commit()
    if not ids:
        return []
    rows = session.scalars(select(MailOutbox).where(MailOutbox.id.in_(ids), MailOutbox.lease_owner == worker)
                           .order_by(MailOutbox.next_attempt_at, MailOutbox.id)
                           .execution_options(populate_existing=True)).all()
    spent = [r for r in rows if r.attempts >= policy.max_attempts]
    for r in spent:
        r.status, r.lease_owner, r.lease_expires_at = DEAD, None, None
        r.last_error = f"the worker sending it stopped; given up after {r.attempts} attempts"
    if spent:
        session.commit()
        log.error("emails %s are dead: their workers stopped while sending them", [r.id for r in spent])
    return [Outgoing(id=r.id, to_addr=r.to_addr, subject=r.subject, text_body=r.text_body, html_body=r.html_body,
                     unsubscribe_url=r.unsubscribe_url, message_key=r.message_key, created_at=r.created_at,
                     attempts=r.attempts, lease_expires_at=expires) for r in rows if r.status == SENDING]


def _held(row_id: int, worker: str):
    return and_(MailOutbox.id == row_id, MailOutbox.status == SENDING, MailOutbox.lease_owner == worker)


def mark_sent(session: Session, row_id: int, worker: str) -> bool:
    """Record that the server accepted the row (its own transaction); False if the lease was lost."""
    done = _record_sent(session, [row_id], worker)
    session.commit()
    return done == 1


def _record_sent(session: Session, row_ids: list[int], worker: str) -> int:
    """The server accepted ``row_ids`` (its 250 after the end of DATA); no commit."""
    if not row_ids:
        return 0
    return session.execute(update(MailOutbox)
                           .where(MailOutbox.id.in_(row_ids), MailOutbox.status == SENDING,
                                  MailOutbox.lease_owner == worker)
                           .values(status=SENT, lease_owner=None, lease_expires_at=None,
                                   last_error=None, attempts=MailOutbox.attempts + 1,
                                   sent_at=func.coalesce(MailOutbox.sent_at, utcnow()))
                           .execution_options(synchronize_session=False)).rowcount or 0


def hand_over(session: Session, row_id: int, worker: str, accepted: list[int] = ()) -> bool:
    """One commit before the end of DATA of ``row_id`` goes to the server: ``sent_at`` marks it
    handed over while its lease is still held (from here on it is never sent again), and the
    rows ``accepted`` since the last commit are recorded sent. False (nothing changed for
    ``row_id``) when the lease was lost or ran out: the caller must then drop the connection,
    which makes the server discard the message."""
    now = utcnow()
    _record_sent(session, list(accepted), worker)
    done = session.execute(update(MailOutbox)
                           .where(_held(row_id, worker), MailOutbox.lease_expires_at > now)
                           .values(sent_at=now)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done == 1


def mark_in_doubt(session: Session, row_id: int, worker: str, error: str) -> bool:
    """The connection broke after the end of DATA was handed over and before the reply: the
    server may have the message, so it is counted as sent (noted ``IN_DOUBT``) and not retried."""
    done = session.execute(update(MailOutbox).where(_held(row_id, worker), MailOutbox.sent_at.is_not(None))
                           .values(status=SENT, lease_owner=None, lease_expires_at=None,
                                   attempts=MailOutbox.attempts + 1,
                                   last_error=(IN_DOUBT + "the connection broke before the server's reply to the "
                                               f"end of the message ({error}); counted as sent, not sent again")[:2000])
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done == 1


def mark_temporary(session: Session, row: Outgoing, worker: str, error: str, policy: DeliveryPolicy) -> str:
    """A temporary failure: queued again after a backoff, or dead after ``max_attempts``; the
    new status (or '' when the lease was lost)."""
    failures = row.attempts + 1
    status = DEAD if failures >= policy.max_attempts else QUEUED
    values = dict(status=status, attempts=failures, last_error=error[:2000], lease_owner=None, lease_expires_at=None,
                  sent_at=None)
    if status == QUEUED:
        values["next_attempt_at"] = utcnow() + timedelta(seconds=policy.backoff(failures))
    done = session.execute(update(MailOutbox).where(_held(row.id, worker), MailOutbox.attempts == row.attempts)
                           .values(**values).execution_options(synchronize_session=False)).rowcount
    session.commit()
    return status if done == 1 else ""


def mark_failed(session: Session, row_id: int, worker: str, reply: str) -> bool:
    """A permanent failure (5xx): kept with the server's reply, never retried."""
    done = session.execute(update(MailOutbox).where(_held(row_id, worker))
                           .values(status=FAILED, last_error=reply[:2000], lease_owner=None, lease_expires_at=None,
                                   sent_at=None, attempts=MailOutbox.attempts + 1)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done == 1


def release(session: Session, row_ids: list[int], worker: str) -> int:
    """Give rows back unsent and uncounted (the worker stops before their turn)."""
    if not row_ids:
        return 0
    done = session.execute(update(MailOutbox)
                           .where(MailOutbox.id.in_(row_ids), MailOutbox.status == SENDING,
                                  MailOutbox.lease_owner == worker)
                           .values(status=QUEUED, lease_owner=None, lease_expires_at=None)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done


# compat32 folds a long unbreakable header (a long unsubscribe URL) onto a line of its own,
# which leaves a leading space in the value; lines up to SMTP's limit are never folded
_POLICY = compat32.clone(max_line_length=998)
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable source, safe for 7-bit relays


def _address_header(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def _text_header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def build_message(row: Outgoing, settings: SMTPSettings) -> Message:
    """The email of ``row``: multipart/alternative (text, then HTML) when it has HTML, with
    its stable Message-ID. Built with the classic ``email.mime`` classes, about three times
    faster than ``EmailMessage`` here, which counts when an announcement mails a whole class."""
    domain = envelope_address(settings.sender).rpartition("@")[2] or "localhost"
    parts = [MIMEText(row.text_body, "plain", _UTF8)]
    if row.html_body:
        parts.append(MIMEText(row.html_body, "html", _UTF8))
    if len(parts) > 1:
        msg = MIMEMultipart("alternative", _subparts=parts, policy=_POLICY)
        for part in parts:
            del part["MIME-Version"]
    else:
        msg = parts[0]
        msg.policy = _POLICY
    msg["From"] = _address_header(settings.sender)
    msg["To"] = _address_header(row.to_addr)
    msg["Subject"] = _text_header(row.subject)
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
    msg["Date"] = format_datetime(created)
    msg["Message-ID"] = f"<{row.message_key}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    if row.unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{row.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg


class LeaseLost(Exception):
    """The row's lease was lost before the end of its DATA: the message must not be completed."""


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _flatten(msg: Message, international: bool) -> bytes:
    """The message as sent inside DATA: CRLF lines, leading dots doubled, ending in CRLF (the
    end-of-data "." is sent separately, see ``SMTPTransport.send``)."""
    with io.BytesIO() as out:
        if international:
            BytesGenerator(out, policy=msg.policy.clone(utf8=True)).flatten(msg, linesep="\r\n")
        else:
            BytesGenerator(out).flatten(msg, linesep="\r\n")
        data = _LEADING_DOT.sub(b"..", out.getvalue())
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class SMTPTransport:
    """One SMTP connection (STARTTLS and AUTH as configured), reused for many messages; the real
    implementation."""

    def __init__(self, settings: SMTPSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> "SMTPTransport":
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            # the end of data is a small write right after the message's: without this, Nagle's
            # algorithm holds it until the server's delayed ACK (tens of ms per message)
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password)
        except BaseException:
            smtp.close()
            raise
        self.smtp = smtp
        return self

    def _abort(self) -> None:
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            pass

    def send(self, msg: Message, to_addr: str, hand_over=None) -> None:
        """One transaction (MAIL, RCPT, DATA). Everything but the final "." is sent first; then
        ``hand_over()`` records durably that the message is about to be complete, and only if it
        returns True is the "." sent (else LeaseLost, and the caller drops the connection, so
        the server discards the unfinished message). Raises smtplib's exceptions as ``sendmail``
        does: SMTPSenderRefused, SMTPRecipientsRefused, SMTPDataError (with the reply to the
        end of data), SMTPServerDisconnected and OSError."""
        smtp = self.smtp
        sender, recipient = envelope_address(self.settings.sender), envelope_address(to_addr)
        international = not (sender + recipient).isascii()
        if international and not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("the address needs SMTPUTF8, which the server does not offer")
        data = _flatten(msg, international)
        smtp.ehlo_or_helo_if_needed()
        code, reply = smtp.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"] if international else [])
        if code != 250:
            if code == 421:
                smtp.close()
            else:
                self._abort()
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            if code == 421:
                smtp.close()
            else:
                self._abort()
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            self._abort()
            raise smtplib.SMTPDataError(code, reply)
        smtp.send(data)
        if hand_over is not None and not hand_over():
            raise LeaseLost()
        # nothing between the hand-over's commit and this write: a kill in that gap loses the message
        smtp.send(b".\r\n")
        code, reply = smtp.getreply()
        if code != 250:
            if code == 421:
                smtp.close()
            raise smtplib.SMTPDataError(code, reply)

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def drop(self) -> None:
        """Close without QUIT: the server discards a message whose end of data it did not get."""
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}"


def deliver_due(factory: sessionmaker[Session], settings: SMTPSettings, worker: str,
                policy: DeliveryPolicy = DeliveryPolicy(), *, transport=SMTPTransport) -> DeliveryReport:
    """Claim one batch of due messages and send it over one connection; what happened.

    One commit per message: just before a message's end of DATA, ``hand_over`` marks it and
    records the messages accepted since the previous commit."""
    report = DeliveryReport()
    with factory() as session:
        batch = claim_due(session, worker, policy)
    report.claimed = len(batch)
    if not batch:
        return report

    # results are written through a Core connection (the mark functions only execute and
    # commit): a commit is then little more than the database's own, which keeps the gap
    # between a hand-over and its end of data short
    with factory.kw["bind"].connect() as session:
        accepted: list[int] = []  # 250 received, recorded with the next commit

        def record_accepted() -> None:
            report.sent += _record_sent(session, accepted, worker)
            accepted.clear()

        def temporary(row: Outgoing, error: str) -> None:
            record_accepted()
            status = mark_temporary(session, row, worker, error, policy)
            if status == DEAD:
                report.dead += 1
                log.error("email %s is dead after %d attempts: %s", row.id, row.attempts + 1, error)
            elif status:
                report.retried += 1

        def failed(row: Outgoing, reply: str) -> None:
            record_accepted()
            mark_failed(session, row.id, worker, reply)
            report.failed += 1

        def release_from(index: int) -> None:
            record_accepted()
            report.released += release(session, [r.id for r in batch[index:]], worker)

        try:
            conn = transport(settings).open()
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("SMTP server %s:%s unavailable: %s", settings.host, settings.port, exc)
            error = (_reply(exc.smtp_code, exc.smtp_error) if isinstance(exc, smtplib.SMTPResponseException)
                     else f"{type(exc).__name__}: {exc}")
            for row in batch:
                temporary(row, f"connecting: {error}")
            return report
        # never start a send that could still run when the lease ends (a send is a few commands,
        # each bounded by the timeout; a lease shorter than that still sends, with half its time)
        margin = timedelta(seconds=min(2 * settings.timeout + 1, policy.lease_seconds / 2))
        try:
            for index, row in enumerate(batch):
                if utcnow() + margin > row.lease_expires_at:
                    release_from(index)
                    break
                handed: list[bool] = []

                def handing_over(row=row, handed=handed) -> bool:
                    ok = hand_over(session, row.id, worker, accepted)
                    report.sent += len(accepted)
                    accepted.clear()
                    handed.append(ok)
                    return ok
                try:
                    conn.send(build_message(row, settings), row.to_addr, handing_over)
                except LeaseLost:
                    log.warning("lease on email %s was lost before its end of data; not completed", row.id)
                    conn.drop()
                    release_from(index + 1)
                    break
                except smtplib.SMTPRecipientsRefused as exc:
                    code, message = next(iter(exc.recipients.values()))
                    if code >= 500:
                        failed(row, _reply(code, message))
                    else:
                        temporary(row, _reply(code, message))
                except smtplib.SMTPResponseException as exc:  # sender refused, data refused
                    if exc.smtp_code >= 500:
                        failed(row, _reply(exc.smtp_code, exc.smtp_error))
                    else:
                        temporary(row, _reply(exc.smtp_code, exc.smtp_error))
                    if conn.smtp is None or exc.smtp_code == 421:  # the server closed the connection
                        release_from(index + 1)
                        break
                except (smtplib.SMTPException, OSError) as exc:  # the connection broke
                    if handed and handed[0]:  # ... after the end of data went out: maybe delivered
                        record_accepted()
                        mark_in_doubt(session, row.id, worker, f"{type(exc).__name__}: {exc}")
                        report.sent += 1
                        log.warning("email %s is in doubt: %s", row.id, exc)
                    else:
                        temporary(row, f"{type(exc).__name__}: {exc}")
                    release_from(index + 1)
                    break
                else:
                    accepted.append(row.id)
        finally:
            try:
                record_accepted()
                session.commit()
            finally:
                conn.close()
    return report


async def deliver_forever(factory: sessionmaker[Session], config, worker: str, stopping: asyncio.Event) -> int:
    """``lms worker``'s email loop: deliver until ``stopping`` is set, over ``mail_connections``
    connections at once (each claims its own batches, under its own lease name); messages sent."""
    settings, policy = SMTPSettings.from_config(config), DeliveryPolicy.from_config(config)
    if not settings.host:
        log.warning("LMS_SMTP_HOST is not set: emails wait in the outbox until a worker has it")
        return 0

    async def connection(name: str) -> int:
        sent = 0
        while not stopping.is_set():
            report = None
            try:
                report = await asyncio.to_thread(deliver_due, factory, settings, name, policy)
                sent += report.sent
            except Exception:  # the database away for a moment: try again after a pause
                log.exception("email delivery failed")
            if report is None or report.claimed == report.released:
                try:
                    await asyncio.wait_for(stopping.wait(), config.worker_poll_seconds)
                except asyncio.TimeoutError:
                    pass
        return sent
    count = max(1, getattr(config, "mail_connections", 1))
    # The one gap that can lose a message is from a hand-over commit's return to the write of
    # the end of data; with several threads, getting the GIL back can take the whole switch
    # interval (5 ms by default). A short interval keeps that gap short.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0002))
    return sum(await asyncio.gather(*(connection(worker if count == 1 else f"{worker}/{i}") for i in range(count))))
