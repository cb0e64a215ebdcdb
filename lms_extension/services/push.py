"""Web push: the browsers a user subscribed, and the push outbox that ``lms worker`` delivers.

The one writer of ``push_subscriptions`` and ``push_outbox``.

* A browser subscribes on the notification preferences page (the service worker ``sw.js``
  and ``PushManager.subscribe`` with the LMS's VAPID public key); ``subscribe`` checks and
  stores its endpoint and keys. What is refused (4xx, ``InvalidInput``): an endpoint that is
  not ``https://``, has credentials or a fragment, is longer than 1024 characters, or whose
  host resolves to a loopback, private, link-local or otherwise non-public address (the
  worker POSTs to it: no request of ours may reach the LMS's own network); keys that are not
  a point on P-256 (65 bytes) and a 16-byte auth secret. ``push_allow_local`` lifts the
  address rules (tests, closed networks). A user keeps at most ``MAX_PER_USER`` browsers: a
  new one pushes out the oldest.
* ``notifications.notify`` calls ``enqueue`` in the caller's transaction: one row per event
  for each of the user's browsers, once per browser and ``dedupe_key`` (a unique constraint),
  so retries of one browser never repeat the message to another.
* ``deliver_due`` leases due rows (as the mail outbox does, ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL), encrypts each payload for its browser (RFC 8291, aes128gcm) and signs a VAPID
  JWT (RFC 8292) with ``pywebpush``, and records the answer: 201 is ``sent``; 404 and 410
  mean the browser dropped the subscription, which is deleted (its waiting rows go with it);
  429, 5xx, timeouts and refused connections are ``queued`` again with exponential backoff
  (a Retry-After in seconds is honoured), ``dead`` after ``push_max_attempts``; other 4xx
  are ``failed`` for good with the answer kept. The address is checked again when the
  connection is made, so an endpoint whose name later resolves inward is refused then.
"""
from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InvalidInput, NotFound
from ..models import User
from ..models.base import utcnow
from ..models.push import DEAD, FAILED, QUEUED, SENDING, SENT, PushOutbox, PushSubscription

log = logging.getLogger("lms.push")

MAX_ENDPOINT = 1024
MAX_PER_USER = 10
MAX_BODY_CHARS = 1000  # the encrypted payload must stay under the push services' 4 KB
TTL_SECONDS = 24 * 3600  # a push the browser cannot take within a day is stale
MAX_BACKOFF_SECONDS = 6 * 3600.0


# ---------------------------------------------------------------------------------- subscriptions
def _b64url(value, name: str, size: int) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 2 * size:
        raise InvalidInput(f"keys.{name} must be a base64url string of {size} bytes")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise InvalidInput(f"keys.{name} is not base64url") from None
    if len(raw) != size:
        raise InvalidInput(f"keys.{name} must be {size} bytes, not {len(raw)}")
    return raw


def _check_keys(keys) -> tuple[str, str]:
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(keys, dict):
        raise InvalidInput("the subscription has no keys {p256dh, auth}")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    point = _b64url(p256dh, "p256dh", 65)
    _b64url(auth, "auth", 16)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidInput("keys.p256dh is not a P-256 public key") from None
    return p256dh.rstrip("="), auth.rstrip("=")


def _refuse_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_endpoint(endpoint, *, allow_local: bool = False) -> str:
    """``endpoint`` as stored, or InvalidInput: a push service's https:// URL on a public host."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise InvalidInput("the subscription has no endpoint")
    endpoint = endpoint.strip()
    if len(endpoint) > MAX_ENDPOINT or any(ord(c) <= 32 or ord(c) == 127 for c in endpoint):
        raise InvalidInput(f"the endpoint is longer than {MAX_ENDPOINT} characters or contains spaces")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise InvalidInput("the endpoint is not a valid URL") from None
    if parts.scheme not in (("https", "http") if allow_local else ("https",)):
        raise InvalidInput("the endpoint must be an https:// address of a push service")
    if parts.username or parts.password or parts.fragment or not parts.hostname:
        raise InvalidInput("the endpoint must be a plain https:// address (a host, no credentials)")
    if not allow_local:
        try:
            infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise InvalidInput(f"the push service {parts.hostname[:100]!r} cannot be found") from None
        if any(_refuse_address(info[4][0]) for info in infos):
            raise InvalidInput("the endpoint is on a private or local network: pushes go only to public "
                               "push services")
    return endpoint


def subscribe(session: Session, user_id: int, subscription, *, user_agent: str = "",
              allow_local: bool = False) -> PushSubscription:
    """Store a browser's subscription (``PushSubscription.toJSON()``: endpoint and keys) for
    ``user_id``, in the caller's transaction. The same endpoint again updates its keys and
    owner (the browser's latest login); the user's oldest browsers beyond ``MAX_PER_USER`` go."""
    if not isinstance(subscription, dict):
        raise InvalidInput("send the browser's subscription: {endpoint, keys: {p256dh, auth}}")
    endpoint = check_endpoint(subscription.get("endpoint"), allow_local=allow_local)
    p256dh, auth = _check_keys(subscription.get("keys"))
    agent = user_agent[:200] if isinstance(user_agent, str) else ""
    row = session.scalars(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).first()
    if row is None:
        row = PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, user_agent=agent)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # the same browser subscribed twice at once: the other one won
            row = session.scalars(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).one()
    if (row.user_id, row.p256dh, row.auth) != (user_id, p256dh, auth):
        # new keys or another login: nothing waiting was encrypted for them
        session.execute(delete(PushOutbox).where(PushOutbox.subscription_id == row.id, PushOutbox.status == QUEUED))
        row.user_id, row.p256dh, row.auth = user_id, p256dh, auth
    row.user_agent = agent or row.user_agent
    session.flush()
    keep = select(PushSubscription.id).where(PushSubscription.user_id == user_id).order_by(
        PushSubscription.id.desc()).limit(MAX_PER_USER)
    session.execute(delete(PushSubscription).where(PushSubscription.user_id == user_id,
                                                   PushSubscription.id.not_in(keep.scalar_subquery()))
                    .execution_options(synchronize_session=False))
    return row


def unsubscribe(session: Session, user_id: int, *, endpoint: str | None = None, subscription_id: int | None = None) -> None:
    """Forget one of the user's browsers (by endpoint or id); NotFound for anyone else's."""
    query = delete(PushSubscription).where(PushSubscription.user_id == user_id)
    if isinstance(endpoint, str) and endpoint:
        query = query.where(PushSubscription.endpoint == endpoint.strip())
    elif isinstance(subscription_id, int) and 0 < subscription_id < 2**31:
        query = query.where(PushSubscription.id == subscription_id)
    else:
        raise InvalidInput("name the subscription: {endpoint}")
    if session.execute(query.execution_options(synchronize_session=False)).rowcount != 1:
        raise NotFound("this browser is not subscribed")


def subscriptions_of(session: Session, user_id: int) -> list[PushSubscription]:
    return list(session.scalars(select(PushSubscription).where(PushSubscription.user_id == user_id)
                                .order_by(PushSubscription.id)))


def as_dict(row: PushSubscription) -> dict:
    """What the user sees of a subscription: never the keys."""
    return {"id": row.id, "endpoint": row.endpoint, "push_service": urlsplit(row.endpoint).hostname,
            "user_agent": row.user_agent, "created_at": row.created_at.isoformat() if row.created_at else None,
            "last_success_at": row.last_success_at.isoformat() if row.last_success_at else None}


# ---------------------------------------------------------------------------------- enqueue
def enqueue(session: Session, *, user_ids, kind: str, title: str, body: str, url: str,
            dedupe_key: str | None = None) -> int:
    """One push of the event to each browser of ``user_ids`` (in the caller's transaction);
    how many were added. A browser that has the ``dedupe_key`` already gets nothing."""
    ids = sorted({int(u) for u in user_ids})
    if not ids:
        return 0
    subs = session.execute(select(PushSubscription.id, PushSubscription.user_id)
                           .join(User, User.id == PushSubscription.user_id)
                           .where(PushSubscription.user_id.in_(ids), User.deleted_at.is_(None),
                                  User.deactivated_at.is_(None))).all()
    if not subs:
        return 0
    now = utcnow()
    key = f"notify:{dedupe_key}"[:255] if dedupe_key else None
    rows = [dict(subscription_id=sid, user_id=uid, kind=kind, title=title[:200], body=body[:MAX_BODY_CHARS],
                 url=url[:500], dedupe_key=key, status=QUEUED, attempts=0, next_attempt_at=now, created_at=now)
            for sid, uid in subs]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    added = 0
    for start in range(0, len(rows), 500):
        stmt = insert(PushOutbox).values(rows[start:start + 500]).on_conflict_do_nothing(
            index_elements=["subscription_id", "dedupe_key"])
        added += len(session.scalars(stmt.returning(PushOutbox.id)).all())
    return added


def outbox_counts(session: Session) -> dict[str, int]:
    counts = dict.fromkeys((QUEUED, SENDING, SENT, FAILED, DEAD), 0)
    counts.update(session.execute(select(PushOutbox.status, func.count()).group_by(PushOutbox.status)).all())
    return counts


# ---------------------------------------------------------------------------------- keys
def application_server_key(config) -> str:
    """The VAPID public key browsers subscribe with; ConfigError (from ``config``) when it is
    not the configured private key's: pushes signed with one would be refused for the other."""
    from ..config import ConfigError, vapid_public_key_of

    public = config.vapid_public_key.strip().rstrip("=")
    if vapid_public_key_of(config.vapid_private_key) != public:
        raise ConfigError("LMS_VAPID_PUBLIC_KEY is not the public key of LMS_VAPID_PRIVATE_KEY")
    if not config.vapid_subject.startswith(("mailto:", "https://")):
        raise ConfigError(f"LMS_VAPID_SUBJECT={config.vapid_subject!r}: expected a mailto: or https:// URL")
    return public


# ---------------------------------------------------------------------------------- delivery
@dataclass(frozen=True)
class PushSettings:
    vapid_private_key: str
    vapid_subject: str
    base_url: str  # the LMS's public address with the service prefix, ending in '/'
    allow_local: bool = False
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config) -> "PushSettings":
        return cls(vapid_private_key=config.vapid_private_key, vapid_subject=config.vapid_subject,
                   base_url=config.public_url.rstrip("/") + config.service_prefix,
                   allow_local=config.push_allow_local, timeout=config.push_timeout_seconds)


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 20
    lease_seconds: float = 120.0
    max_attempts: int = 6
    retry_seconds: float = 30.0

    @classmethod
    def from_config(cls, config) -> "DeliveryPolicy":
        timeout = config.push_timeout_seconds
        return cls(max_attempts=config.push_max_attempts, retry_seconds=config.push_retry_seconds,
                   lease_seconds=max(120.0, 4 * timeout))

    def backoff(self, failures: int, retry_after: float | None = None) -> float:
        base = min(MAX_BACKOFF_SECONDS, self.retry_seconds * 2 ** max(0, failures - 1))
        if retry_after is not None:
            base = min(MAX_BACKOFF_SECONDS, max(base, retry_after))
        return base * (1 + random.random() / 10)


@dataclass(frozen=True)
class Outgoing:
    id: int
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str
    payload: bytes
    attempts: int
    lease_expires_at: datetime


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    expired: int = 0
    released: int = 0


def payload(row: PushOutbox, base_url: str) -> bytes:
    """What the service worker receives (JSON): the notification's title, body and address."""
    return json.dumps({"title": row.title, "body": row.body, "url": base_url + row.url.lstrip("/"),
                       "kind": row.kind, "tag": f"lms-{row.kind}-{row.id}"}, ensure_ascii=False).encode()


def _claimable(now: datetime):
    return or_(and_(PushOutbox.status == QUEUED, PushOutbox.next_attempt_at <= now),
               and_(PushOutbox.status == SENDING, PushOutbox.lease_expires_at < now))


def claim_due(session: Session, worker: str, policy: DeliveryPolicy, base_url: str, *,
              now: datetime | None = None) -> list[Outgoing]:
    """Lease up to ``batch_size`` due rows to ``worker``; commits. An expired lease counts as an
    attempt (its worker died), so a push that kills every worker ends up dead."""
    now = now or utcnow()
    expires = now + timedelta(seconds=policy.lease_seconds)
    candidates = (select(PushOutbox.id).where(_claimable(now))
                  .order_by(PushOutbox.next_attempt_at, PushOutbox.id).limit(policy.batch_size)
                  .with_for_update(skip_locked=True))
    ids = session.scalars(
        update(PushOutbox).where(PushOutbox.id.in_(candidates.scalar_subquery()), _claimable(now))
        .values(status=SENDING, lease_owner=worker, lease_expires_at=expires,
                attempts=case((PushOutbox.status == SENDING, PushOutbox.attempts + 1), else_=PushOutbox.attempts))
        .returning(PushOutbox.id).execution_options(synchronize_session=False)).all()
    session.commit()
    if not ids:
        return []
    rows = session.execute(select(PushOutbox, PushSubscription).join(
        PushSubscription, PushSubscription.id == PushOutbox.subscription_id)
        .where(PushOutbox.id.in_(ids), PushOutbox.lease_owner == worker)
        .order_by(PushOutbox.next_attempt_at, PushOutbox.id)
        .execution_options(populate_existing=True)).all()
    out = []
    for row, sub in rows:
        if row.attempts >= policy.max_attempts:
            row.status, row.lease_owner, row.lease_expires_at = DEAD, None, None
            row.last_error = f"the worker sending it stopped; given up after {row.attempts} attempts"
            continue
        out.append(Outgoing(id=row.id, subscription_id=sub.id, endpoint=sub.endpoint, p256dh=sub.p256dh,
                            auth=sub.auth, payload=payload(row, base_url), attempts=row.attempts,
                            lease_expires_at=expires))
    session.commit()
    return out


def _held(row_id: int, worker: str):
    return and_(PushOutbox.id == row_id, PushOutbox.status == SENDING, PushOutbox.lease_owner == worker)


def mark_sent(session: Session, row: Outgoing, worker: str) -> bool:
    done = session.execute(update(PushOutbox).where(_held(row.id, worker))
                           .values(status=SENT, sent_at=utcnow(), lease_owner=None, lease_expires_at=None,
                                   last_error=None, attempts=PushOutbox.attempts + 1)
                           .execution_options(synchronize_session=False)).rowcount
    session.execute(update(PushSubscription).where(PushSubscription.id == row.subscription_id)
                    .values(last_success_at=utcnow()).execution_options(synchronize_session=False))
    session.commit()
    return done == 1


def mark_temporary(session: Session, row: Outgoing, worker: str, error: str, policy: DeliveryPolicy,
                   retry_after: float | None = None) -> str:
    """Queued again after a backoff, or dead after ``max_attempts``; the new status ('' when
    the lease was lost)."""
    failures = row.attempts + 1
    status = DEAD if failures >= policy.max_attempts else QUEUED
    values = dict(status=status, attempts=failures, last_error=error[:2000], lease_owner=None, lease_expires_at=None)
    if status == QUEUED:
        values["next_attempt_at"] = utcnow() + timedelta(seconds=policy.backoff(failures, retry_after))
    done = session.execute(update(PushOutbox).where(_held(row.id, worker), PushOutbox.attempts == row.attempts)
                           .values(**values).execution_options(synchronize_session=False)).rowcount
    session.commit()
    return status if done == 1 else ""


def mark_failed(session: Session, row: Outgoing, worker: str, error: str) -> bool:
    done = session.execute(update(PushOutbox).where(_held(row.id, worker))
                           .values(status=FAILED, last_error=error[:2000], lease_owner=None, lease_expires_at=None,
                                   attempts=PushOutbox.attempts + 1)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done == 1


def expire_subscription(session: Session, subscription_id: int) -> None:
    """The push service no longer knows the browser's subscription (404/410): it goes, with
    everything still waiting for it."""
    session.execute(delete(PushOutbox).where(PushOutbox.subscription_id == subscription_id)
                    .execution_options(synchronize_session=False))
    session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id)
                    .execution_options(synchronize_session=False))
    session.commit()


def release(session: Session, row_ids: list[int], worker: str) -> int:
    if not row_ids:
        return 0
    done = session.execute(update(PushOutbox).where(PushOutbox.id.in_(row_ids), PushOutbox.status == SENDING,
                                                    PushOutbox.lease_owner == worker)
                           .values(status=QUEUED, lease_owner=None, lease_expires_at=None)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done


class RefusedAddress(OSError):
    """The push service's name resolved to an address pushes may not go to."""


def _guarded_session(allow_local: bool):
    """A requests session that connects only to public addresses (the check is made on the
    connected socket, so a second DNS answer cannot slip by), follows no redirect and ignores
    proxy variables."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def checked(conn_class):
        class Checked(conn_class):
            def _new_conn(self):
                sock = super()._new_conn()
                if not allow_local and _refuse_address(sock.getpeername()[0]):
                    sock.close()
                    raise RefusedAddress(f"{self.host} is on a private or local network")
                return sock
        return Checked

    class HTTPPool(HTTPConnectionPool):
        ConnectionCls = checked(HTTPConnection)

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = checked(HTTPSConnection)

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}

    http = requests.Session()
    http.trust_env = False
    http.max_redirects = 0
    adapter = Adapter(max_retries=0)
    http.mount("https://", adapter)
    if allow_local:
        http.mount("http://", adapter)
    else:
        http.mount("http://", HTTPAdapter(max_retries=0))  # never used: check_endpoint refuses http
    return http


@dataclass(frozen=True)
class Answer:
    status: int  # the push service's HTTP status; 0 when none came (timeout, refused connection)
    text: str = ""
    retry_after: float | None = None
    refused: bool = False  # an address or URL pushes may not go to: never retried


class WebPushTransport:
    """Sends pushes with ``pywebpush`` (aes128gcm payload, VAPID ``vapid t=..,k=..``) over one
    guarded HTTP session; the real implementation."""

    def __init__(self, settings: PushSettings):
        from py_vapid import Vapid

        self.settings = settings
        self.vapid = Vapid.from_raw(settings.vapid_private_key.encode())
        self.http = _guarded_session(settings.allow_local)

    def send(self, row: Outgoing) -> Answer:
        import requests
        from pywebpush import WebPushException, webpush

        try:
            check_endpoint(row.endpoint, allow_local=self.settings.allow_local)
        except InvalidInput as exc:
            return Answer(0, f"refused: {exc.message}", refused=True)
        parts = urlsplit(row.endpoint)
        claims = {"sub": self.settings.vapid_subject, "aud": f"{parts.scheme}://{parts.netloc}",
                  "exp": int(time.time()) + 12 * 3600}
        subscription = {"endpoint": row.endpoint, "keys": {"p256dh": row.p256dh, "auth": row.auth}}
        try:
            response = webpush(subscription, data=row.payload, vapid_private_key=self.vapid, vapid_claims=claims,
                               ttl=TTL_SECONDS, timeout=self.settings.timeout, requests_session=self.http,
                               headers={"Urgency": "normal"})
        except WebPushException as exc:
            if exc.response is None:
                return Answer(0, f"refused: {exc.message}", refused=True)
            return Answer(exc.response.status_code, exc.response.text[:500], _seconds(exc.retry_after))
        except requests.TooManyRedirects:
            return Answer(0, "refused: the push service answered with a redirect", refused=True)
        except requests.ConnectionError as exc:
            if any(isinstance(e, RefusedAddress) for e in _causes(exc)):
                return Answer(0, f"refused: {exc}", refused=True)
            return Answer(0, f"{type(exc).__name__}: {exc}")
        except requests.RequestException as exc:  # timeouts and the like: try later
            return Answer(0, f"{type(exc).__name__}: {exc}")
        return Answer(response.status_code, response.text[:500])

    def close(self) -> None:
        self.http.close()


def _causes(exc: BaseException):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException)
                                                    else getattr(exc, "reason", None))
    return seen


def _seconds(retry_after) -> float | None:
    try:
        return max(0.0, float(retry_after)) if retry_after is not None else None
    except ValueError:
        return None  # an HTTP date: our own backoff


def deliver_due(factory: sessionmaker[Session], settings: PushSettings, worker: str,
                policy: DeliveryPolicy = DeliveryPolicy(), *, transport=WebPushTransport) -> DeliveryReport:
    """Claim one batch of due pushes and send each; what happened."""
    report = DeliveryReport()
    with factory() as session:
        batch = claim_due(session, worker, policy, settings.base_url)
    report.claimed = len(batch)
    if not batch:
        return report
    sender = transport(settings)
    margin = timedelta(seconds=min(settings.timeout + 1, policy.lease_seconds / 2))
    expired: set[int] = set()
    try:
        for index, row in enumerate(batch):
            if row.subscription_id in expired:  # its row went with the subscription
                continue
            if utcnow() + margin > row.lease_expires_at:
                with factory() as session:
                    report.released += release(session, [r.id for r in batch[index:]], worker)
                break
            answer = sender.send(row)
            with factory() as session:
                if answer.status in (200, 201, 202):
                    report.sent += mark_sent(session, row, worker)
                elif answer.status in (404, 410):
                    expire_subscription(session, row.subscription_id)
                    expired.add(row.subscription_id)
                    report.expired += 1
                    log.info("push subscription %s expired (%s)", row.subscription_id, answer.status)
                elif answer.refused or (400 <= answer.status < 500 and answer.status != 429):
                    mark_failed(session, row, worker, f"{answer.status or ''} {answer.text}".strip())
                    report.failed += 1
                    log.warning("push %s refused: %s", row.id, f"{answer.status or ''} {answer.text[:200]}".strip())
                else:
                    status = mark_temporary(session, row, worker, f"{answer.status or ''} {answer.text}".strip(),
                                            policy, answer.retry_after)
                    if status == DEAD:
                        report.dead += 1
                        log.error("push %s is dead after %d attempts: %s", row.id, row.attempts + 1, answer.text)
                    elif status:
                        report.retried += 1
    finally:
        sender.close()
    return report


async def deliver_forever(factory: sessionmaker[Session], config, worker: str, stopping: asyncio.Event) -> int:
    """``lms worker``'s push loop: deliver until ``stopping`` is set; pushes sent."""
    settings, policy = PushSettings.from_config(config), DeliveryPolicy.from_config(config)
    sent = 0
    while not stopping.is_set():
        report = None
        try:
            report = await asyncio.to_thread(deliver_due, factory, settings, worker, policy)
            sent += report.sent
        except Exception:  # the database away for a moment: try again after a pause
            log.exception("push delivery failed")
        if report is None or report.claimed == report.released:
            try:
                await asyncio.wait_for(stopping.wait(), config.worker_poll_seconds)
            except asyncio.TimeoutError:
                pass
    return sent
