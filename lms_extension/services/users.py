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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import NotAuthenticated
from ..models import Instructor, User
from ..models.base import utcnow

# the key of the account id in the hub user's ``user_info``
ACCOUNT_ID_KEY = "lms_account_id"
# the display name chosen at sign-up, in the same ``user_info``
DISPLAY_NAME_KEY = "display_name"
# No hub name contains "/" (JupyterHub refuses it), so these never meet a real user.
DELETED_NAME = "deleted/{id}"
DETACHED_NAME = "detached/{id}"


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


def sync_hub_user(session: Session, model: dict) -> User:
    """Create or update the LMS row for the hub account described by ``model``."""
    user = _resolve(session, model["name"], account_id_of(model))
    given = display_name_of(model)
    if given and user.display_name in ("", user.hub_name):  # a name chosen at sign-up, never one changed since
        user.display_name = given
    is_instructor, is_admin = permissions.roles_from_scopes(model)
    user.is_instructor, user.is_admin = is_instructor, is_admin
    user.last_seen_at = utcnow()
    if is_instructor and user.instructor is None:
        user.instructor = Instructor()
    session.flush()
    return user


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
    return sync_hub_user(session, {"name": name, "scopes": scopes})
