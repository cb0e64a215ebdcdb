"""Account email: verifying the address, changing it, and resetting a password by email.

The hub owns passwords (NativeAuthenticator); the LMS owns the address (``users.email``, taken
from the hub's ``user_info`` at the first sync, see ``users._sync``) and sends every email
through the outbox (``services/mail.py``). Each emailed link carries a random secret of 256
bits; only its SHA-256 is stored (``email_tokens``), so neither the database nor its backups
hold working links. A link is single use (a conditional UPDATE claims it, so two clicks at
once still use it once) and expires: verification after ``VERIFY_HOURS``, an address change
after ``CHANGE_HOURS``, a password reset after ``RESET_MINUTES``.

* Verify: sent once automatically for an address the LMS has not seen verified (at the LMS
  login, ``send_verification``), again on request from the profile. Following it records the
  address in ``verified_emails``; the address is verified while ``users.email`` equals it.
* Change: the hub checks the current password (``hub_config/auth.py`` ChangeEmailHandler), then
  ``request_change`` sends a link to the NEW address; only following it changes ``users.email``
  (through ``users.change_email``), and the old address gets a notice.
* Reset: ``request_password_reset`` answers nothing to its caller (the hub shows the same page
  whether or not the address exists) and sends a link to each live account with that address;
  the hub checks a link with ``check_reset``, sets the password, then ``consume_reset`` uses it
  and every other reset link of the account.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..errors import Gone, InvalidInput, NotFound, TooManyRequests
from ..models import User
from ..models.account_email import CHANGE, RESET, VERIFY, EmailToken, VerifiedEmail
from ..models.base import utcnow
from . import mail, users

VERIFY_HOURS = 48
CHANGE_HOURS = 24
RESET_MINUTES = 60  # the issue's "expires in 1 hour"
# emails of one kind one account may cause per hour (resend, change, reset): beyond it, the
# link already sent is the one to use
PER_HOUR = {VERIFY: 5, CHANGE: 5, RESET: 3}
# accounts one reset request may reach (an address may be on several accounts)
RESET_ACCOUNTS_MAX = 5

ADDRESS_MAX = 254
# one plain address: a local part without spaces, quotes or brackets, a dotted domain
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Links:
    """Absolute bases of the emailed links, from LMS_PUBLIC_URL (never a request's Host)."""
    lms: str  # https://lms.example.org/services/lms/
    hub: str  # https://lms.example.org/hub/

    @classmethod
    def from_config(cls, config) -> "Links":
        base = config.public_url.rstrip("/")
        return cls(lms=base + config.service_prefix, hub=base + config.hub_prefix)


@dataclass(frozen=True)
class EmailStatus:
    """What the profile shows about the account's address."""
    address: str
    verified: bool
    pending_address: str | None  # a change waiting for its link to be followed


# ------------------------------------------------------------------------------- addresses
def check_address(raw, *, field: str = "email") -> str:
    """``raw`` as one plain address (trimmed, domain in lower case), or InvalidInput: at most
    254 characters, no name part, no second address, nothing that could end a header line."""
    if not isinstance(raw, str):
        raise InvalidInput("enter an email address", field=field)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in raw):
        raise InvalidInput("an email address may not contain line breaks or control characters", field=field)
    address = raw.strip()
    if not address:
        raise InvalidInput("enter an email address", field=field)
    if len(address) > ADDRESS_MAX:
        raise InvalidInput(f"an email address has at most {ADDRESS_MAX} characters", field=field)
    if not ADDRESS.fullmatch(address):
        raise InvalidInput(f"{address!r} is not one email address, like ada@example.org", field=field)
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


# ------------------------------------------------------------------------------- status
def _verified_row(session: Session, user_id: int) -> VerifiedEmail | None:
    return session.get(VerifiedEmail, user_id)


def is_verified(session: Session, user: User) -> bool:
    row = _verified_row(session, user.id)
    return bool(user.email) and row is not None and _same(row.address, user.email)


def verified_ids(session: Session, people: list[User]) -> set[int]:
    """The ids among ``people`` whose current address is verified (the admin's user list)."""
    if not people:
        return set()
    rows = session.execute(select(VerifiedEmail.user_id, VerifiedEmail.address)
                           .where(VerifiedEmail.user_id.in_([u.id for u in people]))).all()
    verified = dict(rows)
    return {u.id for u in people if u.email and u.id in verified and _same(verified[u.id], u.email)}


def status(session: Session, user: User, *, now: datetime | None = None) -> EmailStatus:
    now = now or utcnow()
    pending = session.scalars(select(EmailToken.address).where(
        EmailToken.user_id == user.id, EmailToken.purpose == CHANGE, EmailToken.used_at.is_(None),
        EmailToken.expires_at > now).order_by(EmailToken.id.desc()).limit(1)).first()
    return EmailStatus(address=user.email or "", verified=is_verified(session, user), pending_address=pending)


# ------------------------------------------------------------------------------- tokens
def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite gives naive values back


def _issue(session: Session, user: User, purpose: str, address: str, lifetime: timedelta,
           now: datetime) -> str:
    """A new link's secret (returned once, stored hashed), after the hourly limit is checked."""
    recent = session.scalar(select(func.count()).select_from(EmailToken).where(
        EmailToken.user_id == user.id, EmailToken.purpose == purpose,
        EmailToken.created_at > now - timedelta(hours=1))) or 0
    if recent >= PER_HOUR[purpose]:
        raise TooManyRequests("several emails were sent in the last hour: use the newest one, or try again "
                              "in an hour", retry_after=3600)
    secret = secrets.token_urlsafe(32)
    session.add(EmailToken(user_id=user.id, purpose=purpose, token_hash=_hash(secret), address=address,
                           expires_at=now + lifetime, created_at=now))
    session.flush()
    return secret


def _expire_open(session: Session, user_id: int, purpose: str, now: datetime) -> None:
    """Every unused link of ``purpose`` stops working (an address change or a reset is done)."""
    session.execute(update(EmailToken).where(EmailToken.user_id == user_id, EmailToken.purpose == purpose,
                                             EmailToken.used_at.is_(None))
                    .values(used_at=now).execution_options(synchronize_session=False))


def _find(session: Session, secret, purpose: tuple[str, ...], now: datetime) -> EmailToken:
    """The live token of ``secret`` or a clear error: NotFound for a link that never existed
    (mistyped, cut, forged), Gone for one used or expired."""
    what = "password reset" if purpose == (RESET,) else "confirmation"
    if not isinstance(secret, str) or not SECRET.fullmatch(secret):
        raise NotFound(f"This {what} link is not valid. Check that you opened the whole link from the email.")
    token = session.scalars(select(EmailToken).where(EmailToken.token_hash == _hash(secret))).one_or_none()
    if token is None or token.purpose not in purpose:
        raise NotFound(f"This {what} link is not valid. Check that you opened the whole link from the email.")
    again = "Ask for a new one." if purpose == (RESET,) else "Ask for a new one on your profile page."
    if token.used_at is not None:
        raise Gone(f"This {what} link has already been used or replaced by a newer one. {again}")
    if _aware(token.expires_at) <= now:
        raise Gone(f"This {what} link has expired. {again}")
    user = session.get(User, token.user_id)
    if user is None or user.deleted_at is not None or user.deactivated_at is not None:
        raise Gone(f"This {what} link belongs to an account that can no longer be used.")
    return token


def _claim(session: Session, token: EmailToken, now: datetime) -> None:
    """Use ``token``: only one of two concurrent clicks gets here."""
    done = session.execute(update(EmailToken).where(EmailToken.id == token.id, EmailToken.used_at.is_(None))
                           .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Gone("This link has already been used.")


def _mark_verified(session: Session, user: User, address: str, now: datetime) -> None:
    row = _verified_row(session, user.id)
    if row is None:
        session.add(VerifiedEmail(user_id=user.id, address=address, verified_at=now))
    else:
        row.address, row.verified_at = address, now
    session.flush()


def _sendable(address: str) -> bool:
    try:
        check_address(address)
    except InvalidInput:
        return False
    return True


def _send(session: Session, user: User, kind: str, to: str, context: dict, key: str) -> None:
    subject, text, html = mail.render(kind, {"name": user.display_name or user.hub_name,
                                             "username": user.hub_name, **context})
    mail.enqueue(session, to=to, kind=kind, subject=subject, text=text, html=html, user_id=user.id,
                 dedupe_key=key)


# ------------------------------------------------------------------------------- verify
def send_verification(session: Session, user: User, links: Links, *, again: bool = False,
                      now: datetime | None = None) -> bool:
    """Email a verification link for the account's current address, unless it is verified.

    Without ``again`` (at each LMS login) only when no link was ever sent for this address, so
    an address nobody confirms is not mailed at every login; with it (the profile's "resend"),
    a new link, within the hourly limit. True when an email was queued."""
    now = now or utcnow()
    if not user.email or user.deleted_at is not None or is_verified(session, user):
        return False
    if not _sendable(user.email):  # an address from before these checks: no email can go there
        return False
    if not again:
        sent = session.scalar(select(EmailToken.id).where(
            EmailToken.user_id == user.id, EmailToken.purpose == VERIFY,
            func.lower(EmailToken.address) == user.email.lower()).limit(1))
        if sent is not None:
            return False
    secret = _issue(session, user, VERIFY, user.email, timedelta(hours=VERIFY_HOURS), now)
    _send(session, user, "account_verify", user.email,
          {"link": f"{links.lms}email/confirm?token={secret}", "hours": VERIFY_HOURS, "address": user.email},
          key=f"account_verify:{_hash(secret)}")
    return True


@dataclass(frozen=True)
class Confirmed:
    user: User
    address: str
    changed_from: str | None  # the previous address, when the link changed it


def confirm(session: Session, secret, links: Links, *, now: datetime | None = None) -> Confirmed:
    """Follow a verification or address-change link."""
    now = now or utcnow()
    token = _find(session, secret, (VERIFY, CHANGE), now)
    user = session.get(User, token.user_id)
    if token.purpose == VERIFY and not _same(token.address, user.email or ""):
        raise Gone("This confirmation link is for an address that is no longer on your account.")
    _claim(session, token, now)
    if token.purpose == VERIFY:
        _mark_verified(session, user, user.email, now)
        return Confirmed(user=user, address=user.email, changed_from=None)
    old = user.email or ""
    users.change_email(session, user, token.address)
    _mark_verified(session, user, token.address, now)
    _expire_open(session, user.id, CHANGE, now)
    _expire_open(session, user.id, VERIFY, now)
    _expire_open(session, user.id, RESET, now)  # reset links went to the old address
    if old and not _same(old, token.address) and _sendable(old):
        _send(session, user, "account_email_changed", old,
              {"old_address": old, "new_address": token.address, "reset_link": f"{links.hub}forgot-password"},
              key=f"account_email_changed:{token.id}")
    return Confirmed(user=user, address=token.address, changed_from=old or None)


# ------------------------------------------------------------------------------- change
def request_change(session: Session, user: User, raw_address, links: Links, *,
                   now: datetime | None = None) -> str:
    """After the hub checked the password: email a link to the new address; the address changes
    only when it is followed. Earlier pending changes stop working. The checked address."""
    now = now or utcnow()
    address = check_address(raw_address, field="new_email")
    if user.deleted_at is not None or user.deactivated_at is not None:
        raise InvalidInput("this account can no longer be changed")
    if user.email and _same(address, user.email):
        raise InvalidInput("this is already your address", field="new_email")
    _expire_open(session, user.id, CHANGE, now)
    secret = _issue(session, user, CHANGE, address, timedelta(hours=CHANGE_HOURS), now)
    _send(session, user, "account_email_change", address,
          {"link": f"{links.lms}email/confirm?token={secret}", "hours": CHANGE_HOURS, "new_address": address,
           "old_address": user.email or ""},
          key=f"account_email_change:{_hash(secret)}")
    return address


def account_of(session: Session, name: str, account_id: str | None) -> User:
    """The LMS account of a hub user (by its account id, else its name), for the hub's pages."""
    user = users.by_account(session, account_id) if account_id else None
    user = user or users.by_name(session, name)
    if user is None or user.deleted_at is not None:
        raise NotFound("this account is not known to the LMS yet: open the catalog once, then try again")
    return user


# ------------------------------------------------------------------------------- reset
def request_password_reset(session: Session, raw_address: str, links: Links, *,
                           now: datetime | None = None) -> int:
    """Email a reset link to each live account with this address; how many were sent.

    The caller must answer the same whatever this returns. A malformed address, an unknown
    one, a deactivated account and an account past its hourly limit all send nothing."""
    now = now or utcnow()
    try:
        address = check_address(raw_address)
    except InvalidInput:
        return 0
    accounts = session.scalars(select(User).where(
        func.lower(User.email) == address.lower(), User.deleted_at.is_(None), User.deactivated_at.is_(None))
        .order_by(User.id).limit(RESET_ACCOUNTS_MAX)).all()
    sent = 0
    for user in accounts:
        try:
            secret = _issue(session, user, RESET, user.email, timedelta(minutes=RESET_MINUTES), now)
        except TooManyRequests:
            continue
        _send(session, user, "password_reset", user.email,
              {"link": f"{links.hub}reset-password?token={secret}", "minutes": RESET_MINUTES,
               "forgot_link": f"{links.hub}forgot-password"},
              key=f"password_reset:{_hash(secret)}")
        sent += 1
    return sent


def check_reset(session: Session, secret, *, now: datetime | None = None) -> User:
    """The account a reset link is for, while it works (nothing is used)."""
    token = _find(session, secret, (RESET,), now or utcnow())
    return session.get(User, token.user_id)


def consume_reset(session: Session, secret, *, now: datetime | None = None) -> User:
    """Use a reset link, and every other reset link of its account; the account. Following
    it proved the address reads mail, so that address counts as verified."""
    now = now or utcnow()
    token = _find(session, secret, (RESET,), now)
    _claim(session, token, now)
    user = session.get(User, token.user_id)
    _expire_open(session, user.id, RESET, now)
    if user.email and _same(token.address, user.email):
        _mark_verified(session, user, user.email, now)
    return user
