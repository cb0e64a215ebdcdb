"""Users mirrored from JupyterHub, which owns identity.

An LMS row belongs to a hub *account*, not to a name. The hub's authenticator
(``hub_config.auth.LMSAuthenticator.add_user``) gives every hub user a random account id
when the hub creates it and keeps it in the user's ``user_info``, which the hub includes in
the identity model (``/hub/api/user``) of OAuth and API tokens alike. The hub's own numeric
user id is not in that model, and SQLite hands a deleted user's id to the next user anyway.

So: a renamed account keeps its rows; a deleted account's name taken by a new sign-up gets
a fresh, empty row; a deleted account's identity (a cached token) cannot come back.
"""
from __future__ import annotations

import secrets
import unicodedata
from datetime import timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import Forbidden, InvalidInput, NotAuthenticated
from ..models import Instructor, User
from ..models.base import utcnow

# the key of the account id in the hub user's ``user_info``
ACCOUNT_ID_KEY = "lms_account_id"
# the display name chosen at sign-up, in the same ``user_info``
DISPLAY_NAME_KEY = "display_name"
# No hub name contains "/" (JupyterHub refuses it), so these never meet a real user.
DELETED_NAME = "deleted/{id}"
DETACHED_NAME = "detached/{id}"
LAST_SEEN_PRECISION = timedelta(minutes=1)  # users.last_seen_at is kept to the minute


def new_account_id() -> str:
    return secrets.token_hex(16)


def account_id_of(model: dict) -> str | None:
    info = model.get("user_info")
    value = info.get(ACCOUNT_ID_KEY) if isinstance(info, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def by_name(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.hub_name == name)).one_or_none()


def by_account(session: Session, account_id: str) -> User | None:
    return session.scalars(select(User).where(User.hub_account_id == account_id)).one_or_none()


def _detach(session: Session, user: User) -> None:
    """Move a row out of a name another account now holds.

    Its account is gone from the hub (deleted while the LMS could not hear of it) or renamed
    (then it finds its row again by its id). Not erased on a guess: only a deletion the hub
    reports erases data.
    """
    user.hub_name = DETACHED_NAME.format(id=user.id)
    session.flush()


def _resolve(session: Session, name: str, account_id: str | None) -> User:
    named = by_name(session, name)
    if account_id is None:
        # an identity without an account id: another authenticator in front of the hub
        return named or _create(session, name, None)
    user = by_account(session, account_id)
    if user is not None:
        if user.deleted_at is not None:
            raise NotAuthenticated("this account has been deleted")
        if user.hub_name != name:  # renamed in the hub
            if named is not None:
                _detach(session, named)
            if user.display_name == user.hub_name:
                user.display_name = name
            user.hub_name = name
            session.flush()
        return user
    if named is not None and named.hub_account_id is None:
        # made before the account was first seen (import, demo user, an older version): it is
        # this account's, since the hub gives a name to one account at a time
        named.hub_account_id = account_id
        return named
    if named is not None:
        _detach(session, named)
    return _create(session, name, account_id)


def _create(session: Session, name: str, account_id: str | None) -> User:
    user = User(hub_name=name, display_name=name, hub_account_id=account_id)
    session.add(user)
    return user


def display_name_of(model: dict) -> str | None:
    """The display name given at sign-up (``hub_config/auth.py`` keeps it in ``user_info``)."""
    info = model.get("user_info")
    value = info.get(DISPLAY_NAME_KEY) if isinstance(info, dict) else None
    return " ".join(value.split())[:255] or None if isinstance(value, str) else None


def email_of(model: dict) -> str | None:
    """The email given at sign-up (``hub_config/auth.py`` keeps it in ``user_info``)."""
    info = model.get("user_info")
    value = info.get("email") if isinstance(info, dict) else None
    return value.strip()[:254] if isinstance(value, str) and not _control_chars(value) else None


def sync_hub_user(session: Session, model: dict) -> User:
    """Create or update the LMS row for the hub account described by ``model``; an account an
    admin deactivated is refused (``Forbidden``): it cannot use the LMS until reactivated."""
    user = _sync(session, model)
    if user.deactivated_at is not None:
        raise Forbidden("this account has been deactivated by an administrator; contact them to have it "
                        "reactivated")
    return user


def _sync(session: Session, model: dict) -> User:
    user = _resolve(session, model["name"], account_id_of(model))
    given = display_name_of(model)
    email = email_of(model)
    if email is not None and not user.email:
        # the hub's copy is the address given at sign-up: the LMS takes it once and owns the
        # address from then on (services/account_email.py changes it, verified again), so a
        # stale hub value never overwrites a newer verified one
        user.email = email
    if given and user.display_name in ("", user.hub_name):  # a name chosen at sign-up, never one changed since
        user.display_name = given
    is_instructor, is_admin = permissions.roles_from_scopes(model)
    if (user.is_instructor, user.is_admin) != (is_instructor, is_admin):
        user.is_instructor, user.is_admin = is_instructor, is_admin
    now = utcnow()
    seen = user.last_seen_at
    if seen is None or (seen if seen.tzinfo else seen.replace(tzinfo=timezone.utc)) < now - LAST_SEEN_PRECISION:
        # to the minute: a write (and with SQLite a lock and a WAL page) on every request is not worth it
        user.last_seen_at = now
    if is_instructor and user.instructor is None:
        user.instructor = Instructor()
    session.flush()
    return user


def change_email(session: Session, user: User, address: str) -> None:
    """The account's new address, once ``services/account_email.py`` has seen the new address
    verified (its link followed)."""
    user.email = address
    session.flush()


def clear_instructor_profile(session: Session, user_id: int) -> None:
    """Empty the public profile of an erased instructor; the row stays (ledger, payouts and
    courses point at it)."""
    session.execute(update(Instructor).where(Instructor.user_id == user_id).values(headline="", bio="")
                    .execution_options(synchronize_session=False))


def erase_identity(session: Session, user: User, *, tombstone: str, display_name: str,
                   account_id: str | None) -> None:
    """The erased account's row becomes a tombstone: no name, no roles, and its hub account id
    kept so that the deleted identity (a cached token) cannot come back."""
    user.hub_name, user.display_name = tombstone, display_name
    user.email = ""
    user.is_instructor = user.is_admin = False
    user.deleted_at = utcnow()
    if user.hub_account_id is None and account_id:
        user.hub_account_id = account_id
    session.flush()


def ensure_user(session: Session, name: str, *, instructor: bool = False, admin: bool = False) -> User:
    """Used by imports and demo setup, before the user has ever logged in."""
    scopes = permissions.scopes_for(instructor=instructor, admin=admin)
    existing = by_name(session, name)
    if existing is not None and not instructor and not admin:
        return existing
    return _sync(session, {"name": name, "scopes": scopes})


# -- the profile page ------------------------------------------------------------------------
DISPLAY_NAME_MAX = 80
HEADLINE_MAX = 120
BIO_MAX = 5000


def _control_chars(text: str, *, newlines: bool = False) -> bool:
    allowed = ("\n", "\r", "\t") if newlines else ()
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs") and ch not in allowed for ch in text)


def check_display_name(raw) -> str:
    """1 to 80 characters after folding runs of spaces; no control or invisible formatting
    characters (they could hide or reorder the name on a certificate)."""
    if not isinstance(raw, str):
        raise InvalidInput("the display name must be text", field="display_name")
    if _control_chars(raw):
        raise InvalidInput("the display name may not contain control characters, line breaks or invisible "
                           "formatting characters", field="display_name")
    name = " ".join(raw.split())
    if not name:
        raise InvalidInput("enter a display name (1 to 80 characters)", field="display_name")
    if len(name) > DISPLAY_NAME_MAX:
        raise InvalidInput(f"the display name is {len(name)} characters long; at most {DISPLAY_NAME_MAX}",
                           field="display_name")
    return name


def update_profile(session: Session, user: User, *, display_name, headline=None, bio=None) -> User:
    """The profile page's changes: the display name (certificates and invoices use it), and for
    instructors their public headline and bio (markdown). ``None`` leaves a field alone."""
    name = check_display_name(display_name)
    values = {}
    if headline is not None or bio is not None:
        if user.instructor is None:
            raise Forbidden("only instructors have a public profile")
        if headline is not None:
            if not isinstance(headline, str) or _control_chars(headline):
                raise InvalidInput("the headline may not contain control characters or line breaks", field="headline")
            values["headline"] = " ".join(headline.split())
            if len(values["headline"]) > HEADLINE_MAX:
                raise InvalidInput(f"the headline is at most {HEADLINE_MAX} characters", field="headline")
        if bio is not None:
            if not isinstance(bio, str) or _control_chars(bio, newlines=True):
                raise InvalidInput("the bio may not contain control characters", field="bio")
            values["bio"] = bio.replace("\r\n", "\n").strip()
            if len(values["bio"]) > BIO_MAX:
                raise InvalidInput(f"the bio is {len(values['bio'])} characters long; at most {BIO_MAX}", field="bio")
    user.display_name = name
    for key, value in values.items():
        setattr(user.instructor, key, value)
    session.flush()
    return user


def photo_key(instructor_id: int, version: str, width: int) -> str:
    return f"instructors/{instructor_id}/photo-{version}-{width}.webp"


def set_photo(session: Session, store, user: User, data: bytes) -> Instructor:
    """An instructor's new photo: checked and re-encoded (square, ``covers.PHOTO_WIDTHS``) by
    ``covers.renditions``; the old files are removed once the new ones are stored."""
    from . import covers

    if user.instructor is None:
        raise Forbidden("only instructors have a profile photo")
    images = covers.renditions(data, covers.PHOTO_WIDTHS, (1, 1))
    widths = [r.width for r in images]
    version = f"{covers.new_version()}w{'_'.join(map(str, widths))}"
    for r in images:
        store.put(photo_key(user.instructor.id, version, r.width), r.data, "image/webp")
    old = user.instructor.photo_version
    user.instructor.photo_version = version
    session.flush()
    if old:
        for w in photo_widths(old):
            store.delete(photo_key(user.instructor.id, old, w))
    return user.instructor


def photo_widths(version: str) -> list[int]:
    """The widths stored under a photo version (``<token>w96_256``)."""
    _, _, tail = version.partition("w")
    return [int(w) for w in tail.split("_") if w.isdigit()]


# -- becoming an instructor (services/instructor_applications.py) ----------------------------
def check_headline(raw) -> str:
    """One line of at most ``HEADLINE_MAX`` characters (runs of spaces folded); may be empty."""
    if not isinstance(raw, str) or _control_chars(raw):
        raise InvalidInput("the headline must be one line of text, without control characters", field="headline")
    headline = " ".join(raw.split())
    if len(headline) > HEADLINE_MAX:
        raise InvalidInput(f"the headline is {len(headline)} characters long; at most {HEADLINE_MAX}",
                           field="headline")
    return headline


def check_bio(raw) -> str:
    """Markdown of at most ``BIO_MAX`` characters, line breaks allowed; may be empty."""
    if not isinstance(raw, str) or _control_chars(raw, newlines=True):
        raise InvalidInput("the bio must be text, without control characters", field="bio")
    bio = raw.replace("\r\n", "\n").strip()
    if len(bio) > BIO_MAX:
        raise InvalidInput(f"the bio is {len(bio)} characters long; at most {BIO_MAX}", field="bio")
    return bio


def become_instructor(session: Session, user: User, *, display_name: str, headline: str, bio: str,
                      payout_country: str) -> Instructor:
    """An approved applicant's public profile (display name, headline, bio, checked as the
    profile page checks them), payout country and the LMS role. The role itself comes from the hub's
    ``instructors`` group, which the approval joins first; the next identity sync keeps it."""
    if user.deleted_at is not None:
        raise InvalidInput("this account has been deleted")
    user.display_name = check_display_name(display_name)
    if user.instructor is None:
        user.instructor = Instructor()
    user.instructor.headline = check_headline(headline)
    user.instructor.bio = check_bio(bio)
    user.instructor.payout_country = payout_country
    user.is_instructor = True
    session.flush()
    return user.instructor


def public_instructor(session: Session, name: str) -> tuple[User, Instructor, list[int]]:
    """An instructor's public profile by hub name, with the ids of their published courses
    (newest first). Unknown names, students and erased accounts are the same 404."""
    from ..errors import NotFound
    from ..models import Course

    # no hub name holds a control character; PostgreSQL refuses a NUL in a query parameter
    valid = isinstance(name, str) and 0 < len(name) <= 255 and not _control_chars(name)
    user = by_name(session, name) if valid else None
    if user is None or user.deleted_at is not None or user.instructor is None:
        raise NotFound("no instructor by that name")
    ids = list(session.scalars(select(Course.id).where(Course.instructor_id == user.instructor.id,
                                                      Course.published.is_(True)).order_by(Course.id.desc())))
    if not ids and not user.is_instructor:
        raise NotFound("no instructor by that name")
    return user, user.instructor, ids


def photo_file(session: Session, store, instructor_id: int, version: str, width: int) -> bytes:
    """A stored photo, only under the instructor's current version (an old URL is a 404)."""
    from ..errors import NotFound

    instructor = session.get(Instructor, instructor_id)
    if instructor is None or not instructor.photo_version or instructor.photo_version != version \
            or width not in photo_widths(version):
        raise NotFound("no such photo")
    return store.get(photo_key(instructor_id, version, width))


# -- the admin console: account state, roles, search -----------------------------------------
ROLE_FILTERS = ("", "student", "instructor", "admin")
STATE_FILTERS = ("", "active", "deactivated", "deleted")


def set_active(session: Session, actor: User | None, user: User, active: bool) -> bool:
    """Deactivate (``active`` False) or reactivate an account, audited as ``user.deactivate`` /
    ``user.reactivate``. A deactivated account cannot use the LMS (``sync_hub_user`` refuses
    it) nor log in to the hub (``hub_config/auth.py`` reads ``is_deactivated``). True when it
    changed anything."""
    from ..errors import Conflict
    from . import audit

    if user.deleted_at is not None:
        raise Conflict("this account has been deleted")
    if not active and actor is not None and actor.id == user.id:
        raise Conflict("you cannot deactivate your own account")
    was_active = user.deactivated_at is None
    if was_active == active:
        return False
    user.deactivated_at = None if active else utcnow()
    session.flush()
    audit.record(session, actor, "user.reactivate" if active else "user.deactivate", "user", user.hub_name,
                 before={"active": was_active}, after={"active": active},
                 summary=f"{'Reactivated' if active else 'Deactivated'} {user.hub_name}")
    return True


def is_deactivated(session: Session, name: str) -> bool:
    """Whether the live account named ``name`` is deactivated (the hub asks at login)."""
    user = by_name(session, name)
    return user is not None and user.deleted_at is None and user.deactivated_at is not None


def set_roles(session: Session, actor: User | None, user: User, *, is_instructor: bool, is_admin: bool,
              change: str) -> bool:
    """The LMS side of a role change made in the hub's groups (the hub stays the source:
    ``sync_hub_user`` sets the same flags from the user's scopes at their next request).
    ``change`` names it in the audit log ("make instructor"). True when a flag changed."""
    from . import audit

    before = {"instructor": bool(user.is_instructor), "admin": bool(user.is_admin)}
    after = {"instructor": bool(is_instructor or is_admin), "admin": bool(is_admin)}
    user.is_instructor, user.is_admin = after["instructor"], after["admin"]
    if user.is_instructor and user.instructor is None:
        user.instructor = Instructor()
    session.flush()
    if before == after:
        return False
    old, new = audit.changes(before, after)
    audit.record(session, actor, "user.roles", "user", user.hub_name, before=old, after=new,
                 summary=f"{change[:1].upper()}{change[1:]}: {user.hub_name}")
    return True


def search(session: Session, *, q: str = "", role: str = "", state: str = "", offset: int = 0,
           limit: int = 50) -> tuple[list[User], int]:
    """Accounts for the console, by name, display name or sign-up email (``q``), role and state;
    newest first."""
    from sqlalchemy import func, or_

    if role not in ROLE_FILTERS:
        raise InvalidInput(f"role must be one of: {', '.join(r for r in ROLE_FILTERS if r)}", field="role")
    if state not in STATE_FILTERS:
        raise InvalidInput(f"state must be one of: {', '.join(s for s in STATE_FILTERS if s)}", field="state")
    if not isinstance(q, str) or len(q) > 200 or _control_chars(q):
        raise InvalidInput("the search text is at most 200 characters, without control characters", field="q")
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("limit must be 1 to 500 and offset at least 0")
    stmt = select(User)
    q = q.strip()
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.hub_name.ilike(like, escape="\\"), User.display_name.ilike(like, escape="\\"),
                              User.email.ilike(like, escape="\\")))
    if role == "student":
        stmt = stmt.where(User.is_instructor.is_(False), User.is_admin.is_(False))
    elif role == "instructor":
        stmt = stmt.where(User.is_instructor.is_(True))
    elif role == "admin":
        stmt = stmt.where(User.is_admin.is_(True))
    if state == "active":
        stmt = stmt.where(User.deleted_at.is_(None), User.deactivated_at.is_(None))
    elif state == "deactivated":
        stmt = stmt.where(User.deleted_at.is_(None), User.deactivated_at.is_not(None))
    elif state == "deleted":
        stmt = stmt.where(User.deleted_at.is_not(None))
    elif state == "":
        stmt = stmt.where(User.deleted_at.is_(None))  # tombstones only when asked for
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(User.id.desc()).offset(offset).limit(limit)))
    return rows, total
