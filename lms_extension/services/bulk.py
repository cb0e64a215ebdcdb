"""Bulk actions of the admin console on users and enrollments, with a dry run.

``plan`` works out exactly what an action would change for each named user (before -> after)
and which users are skipped and why, changing nothing. ``apply`` works the plan out again
and, if it is still what the admin reviewed (``expected``), applies all of it in the
caller's transaction, auditing every change and the run; a hub role change goes to the hub
last, so that a hub that refuses leaves nothing changed (the caller rolls back).

Users are named by a list (a textarea or an uploaded CSV: ``parse_names``) or picked by the
Users page's filter (``names_from_filter``).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..models import Course, Enrollment, User
from . import audit, enrollments, users

MAX_USERS = 1000
MAX_INPUT_CHARS = 200_000
# hub names: lower-case letters, digits, . _ - @ + (what NativeAuthenticator and most OAuth
# providers produce); anything else is reported back as not a username
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}")
INSTRUCTORS_GROUP = "instructors"  # hub_config/roles.py INSTRUCTORS_GROUP

ACTIONS = {
    "deactivate": "Deactivate accounts",
    "reactivate": "Reactivate accounts",
    "add_instructor": "Make instructors",
    "remove_instructor": "Remove the instructor role",
    "enroll": "Enroll in a course",
    "revoke": "Revoke enrollment in a course",
}
COURSE_ACTIONS = {"enroll", "revoke"}
HEADERS = ("username", "user", "name", "hub_name", "login")
ROLE_ACTIONS = {"add_instructor", "remove_instructor"}
# enrollments an admin may take back here; a purchase is undone by refunding its order
REVOCABLE_SOURCES = ("admin", "free", "staff")


@dataclass(frozen=True)
class Change:
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class Skip:
    name: str
    reason: str


@dataclass
class Plan:
    action: str
    course: Course | None
    changes: list[Change] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.changes]

    def as_dict(self) -> dict:
        return {"action": self.action, "course": self.course.slug if self.course else None,
                "changes": [{"user": c.name, "before": c.before, "after": c.after} for c in self.changes],
                "skipped": [{"user": s.name, "reason": s.reason} for s in self.skipped]}


def parse_names(text: str) -> list[str]:
    """Usernames from a textarea or a CSV file: separated by new lines, commas, semicolons,
    tabs or spaces; from a CSV whose header names a ``username`` column, that column only; order
    kept, repeats dropped.
    Cells that are not usernames are kept too, and skipped by ``plan`` with the reason."""
    if not isinstance(text, str):
        raise InvalidInput("the user list must be text", field="names")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidInput(f"the user list is {len(text):,} characters long; at most {MAX_INPUT_CHARS:,}",
                           field="names")
    rows = list(csv.reader(io.StringIO(text.replace("\r\n", "\n").replace(";", ",").replace("\t", ","))))
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    column = next((i for i, cell in enumerate(header) if cell in HEADERS), None)
    if column is not None and len(header) > 1:  # a CSV with a username column: only that column
        cells = [row[column] for row in rows[1:] if len(row) > column]
    else:
        cells = [cell for row in rows for cell in row]
    names: list[str] = []
    for cell in cells:
        for word in cell.split():
            word = word.strip().strip('"').strip("'")
            if word and word.lower() not in HEADERS and word not in names:
                names.append(word)
    if len(names) > MAX_USERS:
        raise InvalidInput(f"{len(names):,} users named; at most {MAX_USERS:,} at a time", field="names")
    return names


def names_from_filter(session: Session, *, q: str = "", role: str = "", state: str = "") -> list[str]:
    """The usernames the Users page's filter shows (at most ``MAX_USERS``)."""
    rows, total = users.search(session, q=q, role=role, state=state, limit=500)
    if total > MAX_USERS:
        raise InvalidInput(f"the filter matches {total:,} users; narrow it to at most {MAX_USERS:,}", field="filter")
    names = [u.hub_name for u in rows]
    if total > len(rows):
        more, _ = users.search(session, q=q, role=role, state=state, offset=500, limit=500)
        names += [u.hub_name for u in more]
    return names


def _course(session: Session, action: str, slug: str | None) -> Course | None:
    if action not in COURSE_ACTIONS:
        return None
    if not slug or not isinstance(slug, str):
        raise InvalidInput("choose the course", field="course")
    course = session.scalars(select(Course).where(Course.slug == slug[:200])).one_or_none()
    if course is None:
        raise NotFound("no such course")
    return course


def _role(user: User) -> str:
    return "admin" if user.is_admin else ("instructor" if user.is_instructor else "student")


def plan(session: Session, actor: User, action: str, names: list[str], course_slug: str | None = None) -> Plan:
    """What ``action`` would do to each of ``names``; changes nothing."""
    if action not in ACTIONS:
        raise InvalidInput(f"choose an action: {', '.join(ACTIONS)}", field="action")
    if not names:
        raise InvalidInput("name at least one user (one username a line, or a CSV file)", field="names")
    if len(names) > MAX_USERS:
        raise InvalidInput(f"{len(names):,} users named; at most {MAX_USERS:,} at a time", field="names")
    course = _course(session, action, course_slug)
    result = Plan(action, course)
    found = {u.hub_name: u for u in session.scalars(select(User).where(User.hub_name.in_(
        [n for n in names if NAME.fullmatch(n)])))} if names else {}
    held = {}
    if course is not None:
        held = {e.user_id: e for e in session.scalars(select(Enrollment).where(
            Enrollment.course_id == course.id, Enrollment.user_id.in_([u.id for u in found.values()] or [0])))}
    for name in names:
        if not NAME.fullmatch(name):
            result.skipped.append(Skip(name[:60], "not a username"))
            continue
        user = found.get(name)
        if user is None or user.deleted_at is not None:
            result.skipped.append(Skip(name, "no such user"))
            continue
        change, why = _one(action, actor, user, held.get(user.id))
        if change is None:
            result.skipped.append(Skip(name, why))
        else:
            result.changes.append(Change(name, *change))
    return result


def _one(action: str, actor: User, user: User, enrollment: Enrollment | None):
    """((before, after), None) for a change, or (None, why not)."""
    active = user.deactivated_at is None
    if action == "deactivate":
        if user.id == actor.id:
            return None, "you cannot deactivate your own account"
        return ((("active", "deactivated"), None) if active else (None, "already deactivated"))
    if action == "reactivate":
        return ((("deactivated", "active"), None) if not active else (None, "already active"))
    if action == "add_instructor":
        if user.is_instructor:
            return None, f"already {'an admin (who may teach)' if user.is_admin else 'an instructor'}"
        return ((_role(user), "instructor"), None)
    if action == "remove_instructor":
        if user.is_admin:
            return None, "an admin: change the admin role on the Users page"
        if not user.is_instructor:
            return None, "not an instructor"
        return (("instructor", "student"), None)
    if action == "enroll":
        if enrollment is not None:
            return None, f"already enrolled ({enrollment.source})"
        return (("not enrolled", "enrolled"), None)
    if action == "revoke":
        if enrollment is None:
            return None, "not enrolled"
        if enrollment.source not in REVOCABLE_SOURCES:
            return None, f"enrolled by {enrollment.source}: refund the order or end the subscription instead"
        return ((f"enrolled ({enrollment.source})", "not enrolled"), None)
    raise AssertionError(action)


def apply(session: Session, actor: User, action: str, names: list[str], course_slug: str | None = None, *,
          expected: list[str] | None = None, hub=None) -> Plan:
    """Work the plan out again and apply it in the caller's transaction (the caller commits,
    or rolls back on an error). ``expected``: the users the reviewed dry run would change; when
    the plan differs now (someone changed one of them meanwhile) nothing is applied
    (``Conflict``). ``hub``: a ``HubClient`` for the role actions, called after the database
    changes so that a refusal leaves the transaction to roll back."""
    result = plan(session, actor, action, names, course_slug)
    if expected is not None and sorted(expected) != sorted(result.names):
        raise Conflict("what this would change is no longer what the dry run showed (someone changed these users "
                       "meanwhile): run the dry run again and review it")
    if not result.changes:
        return result
    targets = {u.hub_name: u for u in session.scalars(select(User).where(User.hub_name.in_(result.names)))}
    course = result.course
    for change in result.changes:
        user = targets[change.name]
        if action in ("deactivate", "reactivate"):
            users.set_active(session, actor, user, action == "reactivate")
        elif action in ROLE_ACTIONS:
            make = action == "add_instructor"
            users.set_roles(session, actor, user, is_instructor=make, is_admin=bool(user.is_admin),
                            change="make instructor" if make else "remove the instructor role")
        elif action == "enroll":
            enrollments.grant(session, user.id, course.id, "admin")
            audit.record(session, actor, "enrollment.grant", "user", user.hub_name,
                         before={"course": course.slug, "enrolled": False}, after={"course": course.slug, "enrolled": True},
                         summary=f"Enrolled {user.hub_name} in {course.title}")
        elif action == "revoke":
            enrollments.revoke(session, user.id, course.id, REVOCABLE_SOURCES)
            audit.record(session, actor, "enrollment.revoke", "user", user.hub_name,
                         before={"course": course.slug, "enrolled": True}, after={"course": course.slug, "enrolled": False},
                         summary=f"Revoked {user.hub_name}'s enrollment in {course.title}")
    audit.record(session, actor, "bulk.apply", "bulk", action, after=result.as_dict(),
                 summary=f"{ACTIONS[action]}{' (' + course.title + ')' if course else ''}: {len(result.changes)} "
                         f"changed, {len(result.skipped)} skipped")
    session.flush()
    if action in ROLE_ACTIONS:
        if hub is None:
            raise InvalidInput("role changes need the hub, which this LMS service cannot reach")
        (hub.add_to_group if action == "add_instructor" else hub.remove_from_group)(INSTRUCTORS_GROUP, result.names)
    return result
