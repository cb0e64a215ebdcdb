"""Roster fixtures: a course whose first lesson has a deadline and a late penalty, its instructor
and students, made through the product's importer, enrollment and grading queue."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lms_extension.models.base import utcnow
from lms_extension.services import enrollments, users
from lms_extension.services.course_import import import_course, load_course_folder
from tests.conftest import own_engine
from tests.discovery.conftest import serve_visitors
from tests.identity import answer_identity, token_names
from tests.factories import make_user
from tests.grading_admin.conftest import WRITTEN, course_with_policy

SLUG = "rostered"
# the lesson's deadline: three days ago; ten percent off per started day late
DEADLINE = (utcnow() - timedelta(days=3)).replace(microsecond=0)
POLICY = f'deadline = "{DEADLINE.isoformat()}"\nlate_policy = "percent_per_day"\nlate_percent_per_day = 10'


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine): the grading queue commits."""
    yield from own_engine(db_url, tmp_path_factory)


@pytest.fixture
def teacher(session):
    return make_user(session, "roster-teacher", instructor=True)


@pytest.fixture
def course(session, tmp_path, teacher):
    return import_course(session, load_course_folder(
        course_with_policy(tmp_path, SLUG, POLICY, instructor="roster-teacher", notebook=WRITTEN, lessons=3)))


@pytest.fixture
def student(session, course):
    user = make_user(session, "roster-student")
    users.update_profile(session, user, display_name="Ada Lovelace")
    enrollments.enroll(session, user, SLUG)
    return user


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path_factory, tmp_path, monkeypatch):
    """The LMS on a fresh database seeded by the test module's ``seed(tmp_path)``; a request's
    identity is its ``Authorization: token <name>``, with the module's ``ROLES``."""
    answer_identity(monkeypatch, token_names(request.module.ROLES))
    for base, engine, _app in serve_visitors(request.param, tmp_path_factory, tmp_path, monkeypatch,
                                             seed=request.module.seed(tmp_path)):
        yield base, engine
