"""Digests, deadline reminders and email templates on SQLite and PostgreSQL, made through the
product's own code paths; the digest's delivery goes to a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest

from lms_extension.models.base import utcnow
from lms_extension.services.course_import import import_course, load_course_folder
from tests.conftest import own_engine
from tests.factories import make_user
from tests.grading_admin.conftest import course_with_policy


@pytest.fixture
def tag():
    return secrets.token_hex(3)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database: the delivery test commits (others roll back their savepoint)."""
    yield from own_engine(db_url, tmp_path_factory)


def make_due_course(session, tmp_path, slug: str, in_hours: float):
    """A course whose lesson l1 is due ``in_hours`` from now, and its instructor."""
    teacher = make_user(session, f"t-{slug}", instructor=True)
    deadline = (utcnow() + timedelta(hours=in_hours)).replace(microsecond=0)
    course = import_course(session, load_course_folder(course_with_policy(
        tmp_path / slug, slug, f"deadline = {stamp(deadline)}", instructor=teacher.hub_name)))
    return course, teacher, deadline


@pytest.fixture
def due_course(session, tmp_path, tag):
    """``make_due_course`` in the test's session (a factory)."""
    def make(in_hours: float, slug: str | None = None):
        return make_due_course(session, tmp_path, slug or f"dl-{tag}-{secrets.token_hex(2)}", in_hours)
    return make
