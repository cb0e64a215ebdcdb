"""Periodic jobs: ``lms worker`` runs them, a job runs at most once per interval however many
workers there are, and the LMS service runs none of them."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.jobs import Job, claim, finish, run_due
from lms_extension.models.discovery import CourseStats
from lms_extension.models.jobs import JobRun
from lms_extension.services import enrollments
from tests.conftest import REPO, _database
from tests.factories import make_course, make_user

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def test_a_claimed_job_waits_its_interval_and_for_the_run_to_finish(session):
    assert claim(session, "probe", 60, "a", now=T0)
    assert not claim(session, "probe", 60, "b", now=T0)  # the other worker, same moment
    assert not claim(session, "probe", 60, "b", now=T0 + dt.timedelta(seconds=61))  # still running
    finish(session, "probe", "a", now=T0 + dt.timedelta(seconds=1))
    assert not claim(session, "probe", 60, "b", now=T0 + dt.timedelta(seconds=59))
    assert claim(session, "probe", 60, "b", now=T0 + dt.timedelta(seconds=60))
    row = session.get(JobRun, "probe")
    session.refresh(row)
    assert (row.worker, row.runs) == ("b", 2)
    # a run whose worker died is taken over once it is stale
    assert claim(session, "probe", 60, "c", now=T0 + dt.timedelta(hours=2))


def test_a_failing_job_is_recorded_and_keeps_its_schedule(engine):
    factory = session_factory(engine)

    def broken(_factory):
        raise RuntimeError("boom")

    name = f"broken-{os.getpid()}-{time.monotonic_ns()}"
    assert run_due(factory, [Job(name, 3600, broken)], "w1") == [name]
    assert run_due(factory, [Job(name, 3600, broken)], "w2") == []  # not again within the hour
    with factory() as s:
        row = s.get(JobRun, name)
        assert row.last_error == "RuntimeError: boom" and row.finished_at is not None and row.runs == 1
        s.delete(row)
        s.commit()


# --------------------------------------------------------------------------- real processes
@pytest.fixture(scope="module")
def pg_url(tmp_path_factory):
    database = _database("postgresql", tmp_path_factory)
    url = next(database)
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as s:
        make_course(s, tmp_path_factory.mktemp("courses"), "jobs-course")
        enrollments.enroll(s, make_user(s, "jobs-student"), "jobs-course")
        s.commit()
    engine.dispose()
    yield url
    next(database, None)


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lms_extension.cli", *args], env={**os.environ, **env},
                            cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stats(url: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return s.execute(select(CourseStats.enrollment_count, CourseStats.refreshed_at)).all()
    finally:
        engine.dispose()


INTERVAL = 2.0
OFF = {"LMS_RECONCILE_INTERVAL_SECONDS": "0", "LMS_CHECKOUT_EXPIRY_SECONDS": "0", "LMS_JUDGE0_EXPIRY_SECONDS": "0"}


def test_two_workers_run_the_trending_refresh_once_per_interval(pg_url, tmp_path):
    env = {"LMS_DB_URL": pg_url, "LMS_DATA_DIR": str(tmp_path / "data"), "LMS_WORKER_POLL_SECONDS": "0.1",
           "LMS_TRENDING_REFRESH_SECONDS": str(INTERVAL), **OFF}
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    spawned = time.monotonic()
    workers = [_start(["worker"], env, log) for log in logs]
    try:
        # both polling (their start-up takes seconds on a loaded machine), then four intervals
        deadline = time.monotonic() + 120
        while not all("polling" in log.read_text() for log in logs if log.exists()) or not all(
                log.exists() for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs if log.exists()]
            assert all(w.poll() is None for w in workers), [log.read_text() for log in logs]
            time.sleep(0.1)
        time.sleep(4 * INTERVAL + 1.0)
    finally:
        for w in workers:
            _stop(w)
    life = time.monotonic() - spawned
    texts = [log.read_text() for log in logs]
    assert all("Traceback" not in t for t in texts), texts
    per_worker = [len(re.findall(r"running job trending_refresh", t)) for t in texts]
    total = sum(per_worker)
    # four intervals with both polling hold at least two runs; from the first run on, one run
    # per interval at most (both workers together), so their whole life holds at most this many
    assert 2 <= total <= int(life / INTERVAL) + 1, (per_worker, life)
    engine = make_engine(pg_url)
    with session_factory(engine)() as s:
        row = s.get(JobRun, "trending_refresh")
        assert row.runs == total and row.last_error is None
    engine.dispose()
    assert [count for count, _ in _stats(pg_url)] == [1]  # the refresh really ran: the enrollment counted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_service_does_not_run_the_trending_refresh(pg_url, tmp_path):
    engine = make_engine(pg_url)
    with session_factory(engine)() as s:
        s.execute(CourseStats.__table__.delete())
        s.execute(JobRun.__table__.delete())
        s.commit()
    engine.dispose()
    port = _free_port()
    env = {"LMS_DB_URL": pg_url, "LMS_DATA_DIR": str(tmp_path / "data"), "LMS_DEMO": "0",
           "LMS_TRENDING_REFRESH_SECONDS": "0.5", "JUPYTERHUB_API_TOKEN": "unused-by-visitors",
           "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api", "JUPYTERHUB_SERVICE_PREFIX": "/services/lms/",
           "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}"}
    service = _start(["service"], env, tmp_path / "service.log")
    try:
        for _ in range(300):
            try:
                if requests.get(f"http://127.0.0.1:{port}/services/lms/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail((tmp_path / "service.log").read_text())
        time.sleep(2.0)  # four refresh intervals
        assert service.poll() is None, (tmp_path / "service.log").read_text()
    finally:
        _stop(service)
    assert _stats(pg_url) == []
    engine = make_engine(pg_url)
    with session_factory(engine)() as s:
        assert s.scalars(select(JobRun.name)).all() == []
    engine.dispose()
