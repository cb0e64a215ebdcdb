"""Notifications: in-app notices per user, and each user's preferences per kind and channel.

The one writer of ``notifications`` and ``notification_preferences``. ``notify`` runs in the
caller's transaction: the event and its notices commit (or roll back) together. Email goes
through the mail outbox (``services/mail.py``), which ``lms worker`` delivers.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import User
from ..models.base import utcnow
from ..models.notifications import Notification, NotificationPreference
from . import mail, push

log = logging.getLogger("lms.notifications")

IN_APP, EMAIL, PUSH = "in_app", "email", "push"
MAX_ID = 2**31 - 1  # the ids are INTEGER: a larger number names no row (and would be a database error)
CHANNELS = {IN_APP: "In the LMS", EMAIL: "Email", PUSH: "Browser push"}  # push defaults as email does


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    in_app: bool = True
    email: bool = True

    def default(self, channel: str) -> bool:
        return self.in_app if channel == IN_APP else self.email


# every kind of notification, with what a user gets before choosing otherwise
KINDS: dict[str, Kind] = {k.key: k for k in [
    Kind("reply", "Replies to my posts and watched threads"),
    Kind("mention", "Someone mentions me"),
    Kind("answer_accepted", "My answer is accepted"),
    Kind("answer_endorsed", "My answer is endorsed by staff"),
    Kind("grade_released", "Grades and feedback released"),
    Kind("manual_grade_done", "Manual grading of my work is done"),
    Kind("deadline_24h", "A deadline is 24 hours away"),
    Kind("refund_decision", "Decision on my refund request"),
    Kind("certificate_issued", "A certificate is issued to me"),
    Kind("wishlist_price_drop", "A course on my wishlist is cheaper", email=False),
    Kind("coupon", "Coupons for courses I follow", email=False),
    Kind("announcement", "Course announcements"),
    Kind("new_review", "New reviews of my courses", email=False),
    Kind("application_decision", "Decision on my instructor application"),
    Kind("message", "Direct messages to me"),
]}


def _kind(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise InvalidInput(f"unknown notification kind {kind!r}") from None


# ------------------------------------------------------------------ one-click unsubscribe links
@dataclass(frozen=True)
class EmailLinks:
    """How emails link back: the service's public base URL (ends with '/') and the secret that
    signs unsubscribe tokens (the LMS cookie secret, shared by every replica and the worker)."""
    base_url: str
    secret: str

    def unsubscribe_url(self, user_id: int, kind: str) -> str:
        return f"{self.base_url}notifications/unsubscribe/{unsubscribe_token(self.secret, user_id, kind)}"


_links: EmailLinks | None = None


def configure_email_links(base_url: str, secret: str) -> None:
    """Set once at startup (web app, worker): notices sent by email carry signed links."""
    global _links
    _links = EmailLinks(base_url if base_url.endswith("/") else base_url + "/", secret)


def _signature(secret: str, payload: bytes) -> str:
    key = hashlib.sha256(b"lms-notifications-unsubscribe:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()[:20]).decode().rstrip("=")


def unsubscribe_token(secret: str, user_id: int, kind: str) -> str:
    payload = f"{user_id}:{kind}".encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _signature(secret, payload)


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str]:
    """(user id, kind) of a token this LMS signed; InvalidInput for anything else."""
    bad = InvalidInput("this unsubscribe link is not valid: it may have been cut short or altered")
    encoded, _, signature = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (ValueError, TypeError):
        raise bad from None
    if not signature or not hmac.compare_digest(signature, _signature(secret, payload)):
        raise bad
    uid, _, kind = payload.decode("utf-8", "replace").partition(":")
    if not uid.isdigit() or kind not in KINDS:
        raise bad
    return int(uid), kind


# ------------------------------------------------------------------ preferences
def preferences(session: Session, user_id: int) -> dict[str, dict[str, bool]]:
    """{kind: {channel: wanted}} for every kind, defaults filled in."""
    chosen = {(p.kind, p.channel): p.enabled for p in session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user_id))}
    return {k: {c: chosen.get((k, c), kind.default(c)) for c in CHANNELS} for k, kind in KINDS.items()}


def set_preference(session: Session, user_id: int, kind: str, channel: str, enabled: bool) -> None:
    _kind(kind)
    if channel not in CHANNELS:
        raise InvalidInput(f"unknown notification channel {channel!r}")
    row = session.get(NotificationPreference, (user_id, kind, channel))
    if row is None:
        session.add(NotificationPreference(user_id=user_id, kind=kind, channel=channel, enabled=enabled))
    else:
        row.enabled = enabled
    session.flush()


def save_preferences(session: Session, user_id: int, wanted: set[tuple[str, str]]) -> None:
    """The whole grid at once: ``wanted`` holds the (kind, channel) pairs that are on."""
    for pair in wanted:
        _kind(pair[0])
        if pair[1] not in CHANNELS:
            raise InvalidInput(f"unknown notification channel {pair[1]!r}")
    current = preferences(session, user_id)
    for kind, channels in current.items():
        for channel, on in channels.items():
            if on != ((kind, channel) in wanted):
                set_preference(session, user_id, kind, channel, not on)


def unsubscribe(session: Session, secret: str, token: str) -> tuple[User, str]:
    """Turn off the email of the token's kind for its user (the one-click link in emails)."""
    user_id, kind = read_unsubscribe_token(secret, token)
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise InvalidInput("this unsubscribe link belongs to an account that no longer exists")
    set_preference(session, user_id, kind, EMAIL, False)
    return user, kind


def describe_token(session: Session, secret: str, token: str) -> tuple[User, str]:
    """Whose and which kind the token is, without changing anything (the confirm page)."""
    user_id, kind = read_unsubscribe_token(secret, token)
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise InvalidInput("this unsubscribe link belongs to an account that no longer exists")
    return user, kind


# ------------------------------------------------------------------ sending
def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> set[int]:
    """Insert the notices in one statement; the users whose row is new. A (user, dedupe_key)
    already there, also one another transaction inserted concurrently, is skipped: the
    unique constraint decides, on SQLite and PostgreSQL alike."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = Notification.__table__  # Core, executemany: compiled once (a VALUES list of 500 rows is not cached)
    stmt = insert(table).on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
    return set(session.execute(stmt.returning(table.c.user_id), rows).scalars().all())


def _wanted(session: Session, user_ids: list[int], kind: Kind, channel: str) -> set[int]:
    overrides = dict(session.execute(
        select(NotificationPreference.user_id, NotificationPreference.enabled).where(
            NotificationPreference.user_id.in_(user_ids), NotificationPreference.kind == kind.key,
            NotificationPreference.channel == channel)).all())
    return {u for u in user_ids if overrides.get(u, kind.default(channel))}


def notify(session: Session, *, user_ids, kind: str, title: str, body: str, url: str,
           dedupe_key: str | None = None, actor_id: int | None = None) -> dict[str, int]:
    """Tell ``user_ids`` about an event, on the channels each wants for ``kind``: a notice in
    the bell, and an email (through the outbox) for those with an address. With a
    ``dedupe_key``, each user gets the event once per channel however often it is reported.
    Runs in the caller's transaction; the actor is not told of their own act. Returns how
    many notices and emails were made."""
    spec = _kind(kind)
    ids = sorted({int(u) for u in user_ids if u is not None and u != actor_id})
    made = {"in_app": 0, "email": 0, "push": 0}
    if not ids:
        return made
    title = title[:200]
    url = url.lstrip("/")[:500]
    now = utcnow()
    in_app = _wanted(session, ids, spec, IN_APP)
    inserted: set[int] = set()
    rows = [dict(user_id=uid, kind=kind, title=title, body=body, url=url, actor_id=actor_id,
                 dedupe_key=dedupe_key, created_at=now) for uid in sorted(in_app)]
    for start in range(0, len(rows), 500):
        inserted |= _insert_ignoring_duplicates(session, rows[start:start + 500])
    made["in_app"] = len(inserted)
    already = in_app - inserted  # told before: this event was handled already
    made["push"] = push.enqueue(session, user_ids=[u for u in _wanted(session, ids, spec, PUSH) if u not in already],
                                kind=kind, title=title, body=body, url=url, dedupe_key=dedupe_key)
    email_to = [u for u in _wanted(session, ids, spec, EMAIL) if u not in already]
    if email_to:
        users = session.scalars(select(User).where(User.id.in_(email_to), User.email != "",
                                                   User.deleted_at.is_(None), User.deactivated_at.is_(None)))
        emails = []
        for user in users:
            unsubscribe_url = _links.unsubscribe_url(user.id, kind) if _links else None
            base = _links.base_url if _links else ""
            subject, text, html = mail.render("notification", {
                "name": user.display_name or user.hub_name, "title": title, "body": body, "link": base + url,
                "kind_label": spec.label, "unsubscribe_url": unsubscribe_url,
                "preferences_url": base + "notifications/preferences"}, session=session, template_key=kind)
            emails.append(dict(to=user.email, kind=kind, subject=subject, text=text, html=html, user_id=user.id,
                               dedupe_key=f"notify:{dedupe_key}:{user.id}" if dedupe_key else None,
                               unsubscribe_url=unsubscribe_url))
        # in bulk (an announcement mails a whole class); an address the outbox refuses must not
        # undo the event itself
        made["email"] = mail.enqueue_many(session, emails, on_invalid=lambda m, exc: log.warning(
            "no %s email to user %s: %s", kind, m["user_id"], exc))
    session.flush()
    return made


# ------------------------------------------------------------------ reading
def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def as_dict(n: Notification) -> dict:
    return {"id": n.id, "kind": n.kind, "kind_label": KINDS[n.kind].label if n.kind in KINDS else n.kind,
            "title": n.title, "body": n.body, "url": n.url, "read": n.read_at is not None,
            "created_at": n.created_at.isoformat() if n.created_at else None}


def list_for(session: Session, user_id: int, *, limit: int = 20, before: int | None = None,
             unread_only: bool = False) -> dict:
    """A page of the user's notices, newest first; ``before`` is the last id of the previous
    page (``next_before`` gives it), so new notices never shift a page."""
    if not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100")
    query = select(Notification).where(Notification.user_id == user_id)
    if before is not None and before > MAX_ID:
        before = None  # beyond every id: from the newest
    if before is not None:
        query = query.where(Notification.id < before)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    rows = list(session.scalars(query.order_by(Notification.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"notifications": [as_dict(n) for n in rows], "unread": unread_count(session, user_id),
            "next_before": rows[-1].id if more else None}


def mark_read(session: Session, user_id: int, *, ids=None, everything: bool = False) -> int:
    """Mark the user's own notices read (ids of anyone else's are ignored); how many changed."""
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if not everything:
        ids = [int(i) for i in ids or [] if 0 < int(i) <= MAX_ID]
        if not ids:
            return 0
        stmt = stmt.where(Notification.id.in_(ids))
    result = session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0


def open_one(session: Session, user_id: int, notification_id: int) -> str:
    """Mark one of the user's notices read and give the path it points at ("" for none);
    anyone else's is NotFound, as a notice that does not exist."""
    n = session.get(Notification, notification_id) if 0 < notification_id <= MAX_ID else None
    if n is None or n.user_id != user_id:
        raise NotFound("no such notification")
    if n.read_at is None:
        n.read_at = utcnow()
        session.flush()
    return n.url


def latest_change(session: Session, user_id: int) -> tuple[int, int]:
    """(unread count, newest id): what the live bell compares between polls."""
    row = session.execute(select(func.count(Notification.id).filter(Notification.read_at.is_(None)),
                                 func.coalesce(func.max(Notification.id), 0))
                          .where(Notification.user_id == user_id)).one()
    return int(row[0]), int(row[1])
