"""Real ``lms worker`` processes on one PostgreSQL: N submissions each graded exactly once by
several workers, and a worker SIGKILLed mid-job whose lease expires so another one finishes it.

Leases are kept short through configuration (``LMS_WORKER_LEASE_SECONDS``)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.models import NotebookSubmission
from lms_extension.services import enrollments, grading_queue as queue
from tests.conftest import REPO, _database
from tests.factories import MINIMAL_NOTEBOOK, make_course, make_user

LEASE = 3.0


def solved(sleep: float = 0.0) -> str:
    nb = json.loads(json.dumps(MINIMAL_NOTEBOOK))
    nb["cells"][1]["source"] = f"import time\ntime.sleep({sleep})\ndef square(x):\n    return x * x"
    return json.dumps(nb)


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory):
    database = _database("postgresql", tmp_path_factory)
    url = next(database)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    next(database, None)


@pytest.fixture(scope="module")
def factory(pg_url, tmp_path_factory):
    engine = make_engine(pg_url)
    factory = session_factory(engine)
    with factory() as s:
        make_course(s, tmp_path_factory.mktemp("courses"), "workers")
        user = make_user(s, "worker-student")
        enrollments.enroll(s, user, "workers")
        s.commit()
    yield factory
    engine.dispose()


class WorkerProcess:
    def __init__(self, pg_url: str, log: Path):
        self.log_path = log
        env = {**os.environ, "LMS_DB_URL": pg_url, "LMS_DATA_DIR": str(log.parent / "data"),
               "LMS_WORKER_LEASE_SECONDS": str(LEASE), "LMS_WORKER_POLL_SECONDS": "0.1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "worker"], env=env, cwd=REPO,
                                     stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def tag(self) -> str:
        return f"-{self.proc.pid}-"  # worker names are host-pid-random

    def stored(self) -> list[int]:
        return [int(m) for m in re.findall(r"stored the grade of submission (\d+)", self.log_path.read_text())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        try:  # whatever the worker left running in its sandbox
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def submit(factory, n: int, sleep: float = 0.0) -> list[int]:
    with factory() as s:
        user = make_user(s, "worker-student")
        ids = [queue.enqueue(s, user, "workers", "l1", {"l1.ipynb": solved(sleep)}).id for _ in range(n)]
        s.commit()
    return ids


def rows(factory, ids):
    with factory() as s:
        return {r.id: r for r in s.scalars(select(NotebookSubmission).where(NotebookSubmission.id.in_(ids)))}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


def test_several_workers_grade_each_submission_exactly_once(pg_url, factory, tmp_path):
    ids = submit(factory, 8, sleep=0.5)
    workers = [WorkerProcess(pg_url, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        wait_for(lambda: all(r.status == "graded" for r in rows(factory, ids).values()), 300,
                 "not every submission was graded")
    finally:
        for w in workers:
            w.stop()
    got = rows(factory, ids)
    assert all(r.score == r.max_score == 2.0 and r.claims == 1 for r in got.values()), \
        {i: (r.status, r.score, r.claims, r.error) for i, r in got.items()}
    stored = Counter(i for w in workers for i in w.stored())
    assert sorted(stored) == sorted(ids) and set(stored.values()) == {1}, stored
    assert sum(1 for w in workers if w.stored()) >= 2, "the work was shared"


def test_a_killed_worker_loses_nothing_and_nothing_is_graded_twice(pg_url, factory, tmp_path):
    (job,) = submit(factory, 1, sleep=8)
    victim = WorkerProcess(pg_url, tmp_path / "victim.log")
    rescuer = None
    try:
        wait_for(lambda: (r := rows(factory, [job])[job]).status == "grading" and victim.tag in r.lease_owner,
                 120, "the first worker never claimed the job")
        time.sleep(1.0)  # well inside the grading run
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(10)
        killed_at = time.monotonic()
        assert rows(factory, [job])[job].status == "grading"  # stored, leased to a dead worker
        rescuer = WorkerProcess(pg_url, tmp_path / "rescuer.log")
        wait_for(lambda: rows(factory, [job])[job].status == "graded", 180, "the job was not taken over")
        taken_after = time.monotonic() - killed_at
    finally:
        victim.stop()
        if rescuer:
            rescuer.stop()
    done = rows(factory, [job])[job]
    assert (done.score, done.claims) == (2.0, 2)
    assert victim.stored() == [] and rescuer.stored() == [job]
    assert taken_after >= LEASE - 1.5  # not before the dead worker's lease ran out
