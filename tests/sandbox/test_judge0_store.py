"""What the Judge0 API writes to the database for a submission, and what another process reads.

The store is on the path of every run, so these tests count its statements: a ``wait=true``
submission is one INSERT once it has finished, any other an INSERT and an UPDATE, and a run
that goes on one UPDATE more to say "Processing". A second engine on the same database stands
for another replica. The runs themselves are not the point here: a stand-in for the sandbox
answers at once, or when the test lets it.
"""
import asyncio
import datetime as dt
import threading
import time

import pytest
from sqlalchemy import event, text

from graders.judge0.config import Judge0Config
from graders.judge0.schema import SubmissionRecord, parse_submission
from graders.judge0.service import Judge0Service
from graders.judging import RunResult, Status
from lms_extension.db import make_engine, upgrade
from lms_extension.services.judge0_submissions import DatabaseStore
from tests.conftest import _database

HELLO = {"source_code": "print(1)", "language_id": 71, "expected_output": "1"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    yield from _database(request.param, tmp_path_factory)


@pytest.fixture()
def engines(database):
    """(this process's engine, the store of another process) on one migrated database."""
    here = make_engine(database)
    upgrade(here)
    other = DatabaseStore(here, ttl=3600)  # an engine of its own
    yield here, other
    other.close()
    here.dispose()


class Runner:
    """Stands in for the sandbox: answers at once, or once ``release`` is set."""

    def __init__(self):
        self.release: asyncio.Event | None = None

    async def run_async(self, source_code, language, **kwargs) -> RunResult:
        if self.release is not None:
            await self.release.wait()
        return RunResult(Status.ACCEPTED, stdout=b"1\n", exit_code=0, time=0.01, wall_time=0.02, memory=2048)

    async def disable_warm(self) -> None:
        pass


def statements_of(service: Judge0Service) -> list[str]:
    """The statements the service's store runs from now on in this thread (the server's: the
    expiry sweep has a thread of its own), by their first words."""
    seen: list[str] = []
    thread = threading.current_thread()

    @event.listens_for(service.store.engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if threading.current_thread() is thread:
            seen.append(" ".join(words[:2]).upper())
    return seen


def service_on(engine, runner: Runner, **config) -> Judge0Service:
    config = Judge0Config(warm_spares=0, max_workers=2, **config)
    return Judge0Service(config, sandbox=runner, store=DatabaseStore(engine, config.submission_ttl))


def request():
    return parse_submission(dict(HELLO), base64_encoded=False, config=Judge0Config())


def test_a_wait_submission_is_one_insert_made_once_it_has_finished(engines):
    here, other = engines

    async def scenario():
        runner = Runner()
        runner.release = asyncio.Event()
        service = service_on(here, runner)
        seen = statements_of(service)
        record = service.submit(request(), None, wait=True)
        await asyncio.sleep(0)  # the run starts and waits for the release
        assert seen == []  # nobody has the token yet: nothing to tell other processes
        runner.release.set()
        await record.finished.wait()
        await service.close()
        return record, seen

    record, seen = asyncio.run(scenario())
    assert seen == ["INSERT INTO"]
    stored = other.get(record.token)
    assert stored.status_id == 3 and stored.result.stdout == b"1\n" and stored.finished_at is not None
    assert stored.request.source_code == b"print(1)" and stored.request.expected_output == b"1"


def test_a_queued_submission_is_written_when_it_arrives_and_when_it_finishes(engines):
    here, other = engines

    async def scenario():
        service = service_on(here, Runner())
        seen = statements_of(service)
        records = service.submit_many([request(), request()], None)
        queued = [other.get(r.token).status_id for r in records]  # the tokens went out already
        for record in records:
            await record.finished.wait()
        await service.close()
        return records, seen, queued

    records, seen, queued = asyncio.run(scenario())
    assert queued == [1, 1]
    assert seen == ["INSERT INTO", "UPDATE JUDGE0_SUBMISSIONS", "UPDATE JUDGE0_SUBMISSIONS"]
    for record in records:
        stored = other.get(record.token)
        assert (stored.status_id, stored.result.stdout, stored.result.memory) == (3, b"1\n", 2048)


def test_a_run_that_goes_on_is_processing_for_other_processes(engines):
    here, other = engines

    async def scenario():
        runner = Runner()
        runner.release = asyncio.Event()
        service = service_on(here, runner, mark_processing_after=0.01)
        seen = statements_of(service)
        record = service.submit(request(), None)
        deadline = time.monotonic() + 30
        while other.get(record.token).status_id != 2:
            assert time.monotonic() < deadline, "never Processing for the other process"
            await asyncio.sleep(0.01)
        runner.release.set()
        await record.finished.wait()
        service.store.mark_processing(record)  # too late: a finished row stays finished
        await service.close()
        return record, seen

    record, seen = asyncio.run(scenario())
    assert seen[:3] == ["INSERT INTO", "UPDATE JUDGE0_SUBMISSIONS", "UPDATE JUDGE0_SUBMISSIONS"]
    assert other.get(record.token).status_id == 3


def test_a_stopped_server_stores_what_it_had_not_finished(engines):
    """Queued or waited for, each gets a final status that other processes can read."""
    here, other = engines

    async def scenario():
        runner = Runner()
        runner.release = asyncio.Event()  # never set
        service = service_on(here, runner)
        queued = service.submit(request(), None)
        waited = service.submit(request(), None, wait=True)
        await asyncio.sleep(0)
        await service.close()
        return queued, waited

    queued, waited = asyncio.run(scenario())
    for record in (queued, waited):
        stored = other.get(record.token)
        assert stored.status_id == 13
        assert stored.result.message == "the server stopped before this submission finished"


def test_old_submissions_expire(engines):
    here, _ = engines
    store = DatabaseStore(here, ttl=3600)
    store._expired_at = time.monotonic()  # swept a moment ago
    old = SubmissionRecord(token="expired-token", request=request(),
                           created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2))
    store.add([old])
    assert store.get("expired-token") is None  # past its time, even before the row goes

    def tokens():
        with here.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT token FROM judge0_submissions"))}
    assert "expired-token" in tokens()
    assert store.sweep() >= 1
    assert "expired-token" not in tokens()

    # an add sweeps too (once a minute), in a thread of its own
    store.add([SubmissionRecord(token="expired-too", request=request(), created_at=old.created_at)])
    store._expired_at = float("-inf")
    store.add([SubmissionRecord(token="fresh-token", request=request())])
    deadline = time.monotonic() + 30
    while "expired-too" in tokens():
        assert time.monotonic() < deadline, "the sweep after an add never ran"
        time.sleep(0.05)
    assert "fresh-token" in tokens()
    store.close()


def test_a_connection_the_database_dropped_is_replaced(engines, database):
    """The store does not ping before each statement; it tries one again on a new connection."""
    if not database.startswith("postgresql"):
        pytest.skip("PostgreSQL can end a client's connection from the server side; SQLite has none to end")
    here, other = engines
    record = SubmissionRecord(token="survives-a-restart", request=request())
    other.add([record])
    with here.connect() as conn:
        ended = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert ended >= 1  # the store's pooled connection among them
    assert other.get("survives-a-restart").token == "survives-a-restart"
