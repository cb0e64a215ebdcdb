"""The permissions vocabulary: scopes the hub grants, and who teaches a course."""
from __future__ import annotations

import pytest
from traitlets.config import Config

from hub_config import roles
from lms_extension import permissions
from lms_extension.errors import Forbidden
from lms_extension.models import Course, Instructor, User


def _user(uid: int, *, instructor=False, admin=False) -> User:
    return User(id=uid, hub_name=f"u{uid}", is_instructor=instructor or admin, is_admin=admin)


def _course(teacher: User | None) -> Course:
    course = Course(slug="c", title="C")
    course.instructor = Instructor(user_id=teacher.id) if teacher else None
    return course


def test_hub_grants_the_scopes_the_lms_reads():
    c = Config()  # JupyterHub's configuration as hub_config/roles.py sets it
    roles.configure(c)
    assert set(c.JupyterHub.custom_scopes) == set(permissions.SCOPES)
    by_name = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert permissions.roles_from_scopes({"scopes": by_name["lms-instructor"]["scopes"]}) == (True, False)
    assert permissions.roles_from_scopes({"scopes": by_name["lms-admin"]["scopes"]}) == (True, True)
    assert permissions.roles_from_scopes({"scopes": ["self"]}) == (False, False)
    assert permissions.roles_from_scopes({"admin": True}) == (True, True)


def test_who_teaches_a_course():
    teacher, other, admin, student = _user(1, instructor=True), _user(2, instructor=True), _user(3, admin=True), _user(4)
    course = _course(teacher)
    assert permissions.can_teach(teacher, course)
    assert permissions.can_teach(admin, course)
    assert not permissions.can_teach(other, course)
    assert not permissions.can_teach(student, course)
    assert not permissions.can_teach(None, course)
    assert not permissions.can_teach(student, _course(None))
    # an admin acts for the instructor, but is not the course's instructor
    assert permissions.is_instructor_of(teacher, course) and not permissions.is_instructor_of(admin, course)


def test_require_raises_forbidden_with_the_callers_message():
    teacher, student = _user(1, instructor=True), _user(2)
    permissions.require_teacher(teacher, _course(teacher))
    with pytest.raises(Forbidden, match="only the teacher"):
        permissions.require_teacher(student, _course(teacher), "only the teacher")
    with pytest.raises(Forbidden, match="admin role"):
        permissions.require_admin(teacher)
    permissions.require_admin(_user(3, admin=True))
    with pytest.raises(Forbidden, match="instructors only"):
        permissions.require_instructor(student, "instructors only")
    with pytest.raises(ValueError):
        permissions.has_scope(student, "custom:lms:unknown")
