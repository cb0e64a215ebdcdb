"""Web push end to end: the real LMS app (Tornado, SQLite and PostgreSQL), the real worker
delivery with pywebpush, and a local push service (``push_server.py``) that checks the VAPID
JWT and decrypts every payload as a browser vendor's would."""
from __future__ import annotations

import secrets

import pytest

from tests.conftest import own_engine
from tests.pageclient import serve_app
from tests.push.push_server import PushService


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database: the app and the delivery commit."""
    yield from own_engine(db_url, tmp_path_factory)


@pytest.fixture
def push_service():
    server = PushService().start()
    yield server
    server.stop()


@pytest.fixture
def service(engine, tmp_path, monkeypatch):
    # the local push service is plain http:// on 127.0.0.1: allowed here as on a closed network
    monkeypatch.setenv("LMS_PUSH_ALLOW_LOCAL", "1")
    yield from serve_app(engine, tmp_path, monkeypatch, form_page="notifications/preferences")


@pytest.fixture
def tag():
    """A suffix that keeps one test's users apart from another's in the shared database."""
    return secrets.token_hex(3)
