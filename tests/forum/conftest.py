"""Forum fixtures: a course with two lessons (made by the product's importer), its instructor,
an admin, two enrolled students, an outsider and a brand-new account."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lms_extension.db import session_factory
from lms_extension.models.base import utcnow
from lms_extension.services import enrollments, users
from tests.conftest import own_engine
from tests.discovery.conftest import serve_visitors
from tests.factories import make_course, make_user
from tests.identity import answer_identity, token_names

SLUG = "forumc"
ROLES = {"f-teacher": dict(instructor=True), "f-admin": dict(admin=True), "f-ann": {}, "f-bob": {},
         "f-eve": {}, "f-newbie": {}, "f-other-teacher": dict(instructor=True)}
STUDENTS = ("f-ann", "f-bob", "f-newbie")


def populate(session, tmp_path) -> None:
    for name, roles in ROLES.items():
        user = make_user(session, name, **roles)
        if name != "f-newbie":  # accounts the LMS has known for a month: not rate-limited
            user.created_at = utcnow() - timedelta(days=30)
    make_course(session, tmp_path, SLUG, instructor="f-teacher", lessons=2)
    make_course(session, tmp_path / "o", "otherc", instructor="f-other-teacher")
    for name in STUDENTS:
        enrollments.enroll(session, users.by_name(session, name), SLUG)
    enrollments.enroll(session, users.by_name(session, "f-eve"), "otherc")
    session.commit()


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


@pytest.fixture
def world(session, tmp_path):
    populate(session, tmp_path)
    return {name: users.by_name(session, name) for name in ROLES}


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path_factory, tmp_path, monkeypatch):
    """The LMS app on a fresh database; ``Authorization: token <name>`` says who asks."""
    answer_identity(monkeypatch, token_names(ROLES))

    def seed(engine):
        with session_factory(engine)() as s:
            populate(s, tmp_path)

    for base, engine, app in serve_visitors(request.param, tmp_path_factory, tmp_path, monkeypatch, seed=seed,
                                            forum_new_account_posts_per_hour=3):
        yield base, engine
