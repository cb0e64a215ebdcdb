"""Notifications on the real LMS app (Tornado, SQLite and PostgreSQL). The hub's answer to
"who is this?" is the one thing stood in for: the ``X-Test-User`` header names the user (the
API takes it as it takes a hub token: no xsrf cookie needed)."""
from __future__ import annotations

import secrets

import pytest

from tests.conftest import own_engine
from tests.pageclient import serve_app


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database: the pages and the concurrency tests commit."""
    yield from own_engine(db_url, tmp_path_factory)


@pytest.fixture
def service(engine, tmp_path, monkeypatch):
    # the xsrf token comes from the preferences form
    yield from serve_app(engine, tmp_path, monkeypatch, form_page="notifications/preferences")


@pytest.fixture
def tag():
    """A suffix that keeps one test's users apart from another's in the shared database."""
    return secrets.token_hex(3)
