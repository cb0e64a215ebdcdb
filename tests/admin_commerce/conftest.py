"""The admin console's commerce pages and the course studio's coupons and announcements, on the
real LMS app (Tornado, SQLite and PostgreSQL). The hub's answer to "who is this?" is the one
thing stood in for: the ``X-Test-User`` header names the user and ``X-Test-Roles``
(``instructor``, ``admin``) their LMS scopes, as the hub's roles give them."""
from __future__ import annotations

import re
import secrets
from html import unescape

import pytest

from tests.conftest import own_engine
from tests.factories import make_course, make_user
from tests.pageclient import serve_app


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine): the pages commit."""
    yield from own_engine(db_url, tmp_path_factory)


@pytest.fixture
def service(engine, tmp_path, monkeypatch):
    yield from serve_app(engine, tmp_path, monkeypatch)


def text_of(html: str) -> str:
    """The page's words, tags dropped (for "does the page say ..." checks)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def world(service, tmp_path):
    """Two instructors with a paid course each, an admin and a student, committed (unique names per test)."""
    tag = secrets.token_hex(3)
    with service.factory() as db:
        for name in (f"t1-{tag}", f"t2-{tag}"):
            make_user(db, name, instructor=True)
        mine = make_course(db, tmp_path, f"mine-{tag}", price_cents=4900, lessons=2, instructor=f"t1-{tag}")
        theirs = make_course(db, tmp_path, f"theirs-{tag}", price_cents=2900, lessons=2, instructor=f"t2-{tag}")
        make_user(db, f"admin-{tag}", admin=True)
        make_user(db, f"student-{tag}")
        db.commit()
        slugs = (mine.slug, theirs.slug)
    return {"tag": tag, "mine": slugs[0], "theirs": slugs[1],
            "t1": service.client(f"t1-{tag}", "instructor"), "t2": service.client(f"t2-{tag}", "instructor"),
            "admin": service.client(f"admin-{tag}", "admin", "instructor"),
            "student": service.client(f"student-{tag}"), "visitor": service.client(None)}
