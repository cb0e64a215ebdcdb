"""Who may do what in the LMS: the roles' scopes and the rules built on them, in one place.

Roles come from JupyterHub: ``hub_config.roles`` grants the custom scopes below to groups,
the hub puts them in each user's identity model, and ``services.users.sync_hub_user`` turns
them into ``User.is_instructor`` / ``User.is_admin``. Services ask the questions here and
raise the domain errors; handlers declare the scope a method needs with
``web.base.requires`` next to the method.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Forbidden

if TYPE_CHECKING:
    from .models import Course, User

# custom JupyterHub scopes (declared by hub_config.roles) that carry the LMS roles
TEACH = "custom:lms:teach"
ADMIN = "custom:lms:admin"
SCOPES = (TEACH, ADMIN)


def roles_from_scopes(model: dict) -> tuple[bool, bool]:
    """(is_instructor, is_admin) of a hub identity model; a hub admin is an LMS admin, and
    an LMS admin may teach."""
    scopes = set(model.get("scopes") or ())
    is_admin = bool(model.get("admin")) or ADMIN in scopes
    return is_admin or TEACH in scopes, is_admin


def scopes_for(*, instructor: bool = False, admin: bool = False) -> list[str]:
    return ([TEACH] if instructor else []) + ([ADMIN] if admin else [])


def has_scope(user: User | None, scope: str) -> bool:
    if user is None:
        return False
    if scope == ADMIN:
        return bool(user.is_admin)
    if scope == TEACH:
        return bool(user.is_instructor or user.is_admin)
    raise ValueError(f"unknown LMS scope {scope!r}")


def is_admin(user: User | None) -> bool:
    """Acts for every instructor and sees every course, order and invoice."""
    return has_scope(user, ADMIN)


def is_instructor_of(user: User | None, course: Course) -> bool:
    """The course's own instructor (an admin is not, unless they are that instructor)."""
    return user is not None and course.instructor is not None and course.instructor.user_id == user.id


def can_teach(user: User | None, course: Course) -> bool:
    """Teaches this course: its instructor, or an admin (who may act for any instructor)."""
    return user is not None and (bool(user.is_admin) or is_instructor_of(user, course))


def require_teacher(user: User | None, course: Course,
                    message: str = "only the course's instructor or an admin can do this") -> None:
    if not can_teach(user, course):
        raise Forbidden(message)


def require_instructor(user: User | None, message: str = "this needs the instructor role") -> None:
    if not has_scope(user, TEACH):
        raise Forbidden(message)


def require_admin(user: User | None, message: str = "this needs the LMS admin role") -> None:
    if not has_scope(user, ADMIN):
        raise Forbidden(message)


# course Q&A (services/forum.py): members read and post; staff moderate and may reveal anonymous authors
def is_forum_staff(user: User | None, course: Course) -> bool:
    """Moderates a course's Q&A: its instructor or an admin."""
    return can_teach(user, course)


def is_forum_member(user: User | None, course: Course, enrolled: bool) -> bool:
    """Reads and posts in a course's Q&A: an enrolled student, the instructor, an admin."""
    return user is not None and (enrolled or is_forum_staff(user, course))


def may_see_thread(user: User | None, course: Course, author_id: int, private: bool) -> bool:
    """A private thread shows to its author and the course's staff only."""
    return not private or (user is not None and (user.id == author_id or is_forum_staff(user, course)))


def may_accept(user: User | None, course: Course, asker_id: int) -> bool:
    """Accepting an answer: the asker or the course's staff."""
    return user is not None and (user.id == asker_id or is_forum_staff(user, course))
