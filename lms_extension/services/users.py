"""Users mirrored from JupyterHub, which owns identity."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Instructor, User
from ..models.base import utcnow

# custom JupyterHub scopes (declared in hub_config) that carry LMS roles
TEACH_SCOPE = "custom:lms:teach"
ADMIN_SCOPE = "custom:lms:admin"


def roles_from_hub_model(model: dict) -> tuple[bool, bool]:
    scopes = set(model.get("scopes") or ())
    is_admin = bool(model.get("admin")) or ADMIN_SCOPE in scopes
    is_instructor = is_admin or TEACH_SCOPE in scopes
    return is_instructor, is_admin


def sync_hub_user(session: Session, model: dict) -> User:
    """Create or update the LMS row for the hub user described by ``model``."""
    name = model["name"]
    is_instructor, is_admin = roles_from_hub_model(model)
    user = session.scalars(select(User).where(User.hub_name == name)).one_or_none()
    if user is None:
        user = User(hub_name=name, display_name=name)
        session.add(user)
    user.is_instructor, user.is_admin = is_instructor, is_admin
    user.last_seen_at = utcnow()
    if is_instructor and user.instructor is None:
        user.instructor = Instructor()
    session.flush()
    return user


def ensure_user(session: Session, name: str, *, instructor: bool = False, admin: bool = False) -> User:
    """Used by imports and demo setup, before the user has ever logged in."""
    scopes = ([TEACH_SCOPE] if instructor else []) + ([ADMIN_SCOPE] if admin else [])
    existing = session.scalars(select(User).where(User.hub_name == name)).one_or_none()
    if existing is not None and not instructor and not admin:
        return existing
    return sync_hub_user(session, {"name": name, "scopes": scopes})
