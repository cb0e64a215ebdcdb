"""Messages fixtures: a course (made by the product's importer) with its instructor, an admin,
three enrolled students (one with an email address), a student of another course, and that
course's instructor."""
from __future__ import annotations

import pytest

from lms_extension.db import session_factory
from lms_extension.services import enrollments, users
from tests.conftest import own_engine
from tests.discovery.conftest import serve_visitors
from tests.factories import make_course, make_user
from tests.identity import answer_identity, token_names

SLUG = "msgc"
ROLES = {"m-teacher": dict(instructor=True), "m-admin": dict(admin=True), "m-ann": {}, "m-bob": {}, "m-cid": {},
         "m-eve": {}, "m-other-teacher": dict(instructor=True)}
STUDENTS = ("m-ann", "m-bob", "m-cid")


def populate(session, tmp_path) -> None:
    for name, roles in ROLES.items():
        user = make_user(session, name, **roles)
        user.display_name = name.removeprefix("m-").capitalize()
    users.by_name(session, "m-ann").email = "ann@example.org"
    users.by_name(session, "m-teacher").email = "teacher@example.org"
    make_course(session, tmp_path, SLUG, instructor="m-teacher", lessons=1)
    make_course(session, tmp_path / "o", "othermc", instructor="m-other-teacher")
    for name in STUDENTS:
        enrollments.enroll(session, users.by_name(session, name), SLUG)
    enrollments.enroll(session, users.by_name(session, "m-eve"), "othermc")
    session.commit()


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


@pytest.fixture
def world(session, tmp_path):
    populate(session, tmp_path)
    return {name: users.by_name(session, name) for name in ROLES}


RATE = 12  # messages per minute in the served app (LMS_RATE_LIMIT_MESSAGES)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path_factory, tmp_path, monkeypatch):
    """The LMS app on a fresh database; ``Authorization: token <name>`` says who asks."""
    answer_identity(monkeypatch, token_names(ROLES))

    def seed(engine):
        with session_factory(engine)() as s:
            populate(s, tmp_path)

    for base, engine, app in serve_visitors(request.param, tmp_path_factory, tmp_path, monkeypatch, seed=seed,
                                            rate_limit_messages=f"{RATE}/60"):
        yield base, engine
