"""Shared fixtures: real SQLite and PostgreSQL databases built by ``alembic upgrade head``."""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lms_extension.db import make_engine, session_factory, upgrade
from tests.e2e.platform import Platform

REPO = Path(__file__).resolve().parent.parent
COURSES = REPO / "courses"
PG_ADMIN_URL = os.environ.get("LMS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> bool:
    try:
        with create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


def _new_pg_database() -> tuple[str, callable]:
    name = f"lms_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def _database(kind: str, tmp_path_factory):
    """An empty database of ``kind``; yields its URL and drops it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'lms.sqlite'}"
        return
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; .ci/run starts it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (start it to run the PostgreSQL half)")
    url, drop = _new_pg_database()
    yield url
    drop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory):
    """An empty database of each kind the product supports, for the service tests."""
    yield from _database(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def own_engine(db_url: str, tmp_path_factory, *, real_savepoints: bool = True):
    """A fresh database of ``db_url``'s kind for one test package (yields an engine).

    Packages whose tests commit for real (threads, worker processes, webhook storms) or
    count global things (leaderboards, trending, search over every course) use their own,
    so that no package sees another's rows. ``real_savepoints``: SQLite gets SQLAlchemy's
    pysqlite recipe, so the ``session`` fixture's savepoint really rolls back what a test
    committed inside it."""
    from sqlalchemy import event

    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    database = _database(kind, tmp_path_factory)
    url = next(database)
    engine = make_engine(url)
    upgrade(engine)
    if real_savepoints and engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")
        engine.dispose()  # reconnect with the listeners
    yield engine
    engine.dispose()
    next(database, None)  # drops a PostgreSQL database


@pytest.fixture
def session(engine):
    """Each test in a transaction that is rolled back at the end (savepoints inside work)."""
    connection = engine.connect()
    outer = connection.begin()
    factory = session_factory(connection)
    sess = factory(join_transaction_mode="create_savepoint")
    yield sess
    sess.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def fresh_engine(tmp_path):
    """A brand-new, un-migrated SQLite database for migration tests."""
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    yield engine
    engine.dispose()

def _assert_no_server_errors(platform: Platform) -> None:
    errors = [line for line in platform.log().splitlines() if re.search(r"\b500 (GET|POST|PUT|DELETE|PATCH)\b", line)]
    assert not errors, "the platform answered 500:\n" + "\n".join(errors)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def platform(request, tmp_path_factory):
    """The real platform on each database (sandbox spawner), with a database of its own."""
    database = _database(request.param, tmp_path_factory)
    url = next(database)
    p = Platform(tmp_path_factory.mktemp("platform") / "data", db_url=url).start()
    yield p
    p.stop()
    next(database, None)  # drops the database
    _assert_no_server_errors(p)


@pytest.fixture(scope="session")
def sqlite_platform(tmp_path_factory):
    """One platform on SQLite for the spawn-heavy student path (independent of db_url)."""
    p = Platform(tmp_path_factory.mktemp("sq-platform") / "data",
                 extra_env={"LMS_MEM_LIMIT": "768M", "LMS_CPU_LIMIT": "1.0"}).start()
    yield p
    p.stop()
    _assert_no_server_errors(p)
