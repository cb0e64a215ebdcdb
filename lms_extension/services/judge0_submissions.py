"""Submissions of the Judge0-compatible API, kept in the LMS database (owner of
``judge0_submissions``), so that every process serving the API answers for every token.

``DatabaseStore`` is the ``graders.judge0.store.SubmissionStore`` that ``lms judge0`` and
the platform give the API; ``expire`` is for ``lms worker``'s judge0_expiry job.

The store sits on the path of every run, so it writes as little as it can: one prepared
statement per change (SQLAlchemy Core, nothing read back), each its own transaction; one for
a ``wait=true`` submission (its row is written once, finished) and two for the others
(queued, then finished; "Processing" only for runs that last). On PostgreSQL these commits do
not wait for the WAL to reach the disk (``synchronous_commit = off`` on the store's own
connections): they are visible to every replica at once, and a crash of the database server
itself may lose the last fraction of a second of submissions, which the former in-process
store lost on every restart. SQLite runs in WAL with ``synchronous=NORMAL``
(``lms_extension.db``), the same bargain.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from graders.judge0 import statuses
from graders.judge0.schema import SubmissionRecord, SubmissionRequest
from graders.judging import RunResult, Status
from graders.languages import UnknownLanguage, get_language
from graders.limits import Limits

from ..db import make_engine
from ..models.judge0 import Judge0Submission

log = logging.getLogger(__name__)

_TABLE = Judge0Submission.__table__
_C = _TABLE.c
_INSERT = insert(_TABLE)
# SET takes the columns the parameters name (the result's), WHERE the token
_FINISH = update(_TABLE).where(_C.token == bindparam("_token"))
_PROCESSING = (update(_TABLE).where(_C.token == bindparam("_token"), _C.status_id == statuses.IN_QUEUE)
               .values(status_id=statuses.PROCESSING))
_FIND = select(_TABLE).where(_C.token == bindparam("_token"))


def expire(db: Session | Connection, created_before: dt.datetime) -> int:
    """Forget submissions created before ``created_before``; how many went."""
    return db.execute(delete(_TABLE).where(_C.created_at < created_before)).rowcount


class DatabaseStore:
    """Submissions in the LMS database; rows older than ``ttl`` seconds are deleted, at
    most once per ``expire_every`` seconds by each process, in a thread of their own (``lms
    worker``'s judge0_expiry job does it too, for when no submission arrives).

    The store has an engine of its own on the database of ``bind``, made for one-statement
    writes: autocommit (a single INSERT or UPDATE is its own transaction: one round trip, no
    BEGIN/COMMIT), on PostgreSQL ``synchronous_commit = off`` for its connections only, and no
    ping before each use (a connection that died is replaced and the statement tried again).
    """

    def __init__(self, bind: Engine | sessionmaker[Session], ttl: float, expire_every: float = 60.0):
        shared: Engine = bind if isinstance(bind, Engine) else bind.kw["bind"]
        self.engine = _own_engine(shared)
        self._owns_engine = self.engine is not shared
        self.ttl = ttl
        self.expire_every = expire_every
        self._expired_at = float("-inf")

    def _execute(self, statement, parameters=None, *, first_row: bool = False) -> Any:
        """Run one statement (its own transaction): the first row, or how many rows it changed."""
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    result = conn.execute(statement, parameters)
                    return result.mappings().first() if first_row else result.rowcount
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    def add(self, records: Sequence[SubmissionRecord]) -> None:
        if time.monotonic() - self._expired_at >= self.expire_every:
            self._expired_at = time.monotonic()
            threading.Thread(target=self.sweep, name="judge0-expiry", daemon=True).start()
        rows = [_row(record) for record in records]
        if len(rows) == 1:
            self._execute(_INSERT, rows[0])
        else:  # one statement, so all or none
            self._execute(insert(_TABLE).values(rows))

    def save(self, record: SubmissionRecord) -> None:
        self._execute(_FINISH, {"_token": record.token, **_outcome(record)})

    def mark_processing(self, record: SubmissionRecord) -> None:
        self._execute(_PROCESSING, {"_token": record.token})

    def get(self, token: str) -> SubmissionRecord | None:
        row = self._execute(_FIND, {"_token": token}, first_row=True)
        record = _record(row) if row is not None else None
        if record is None or record.created_at < dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=self.ttl):
            return None
        return record

    def sweep(self) -> int:
        """Delete the rows past their time now; how many went."""
        try:
            return self._execute(delete(_TABLE).where(
                _C.created_at < dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=self.ttl)))
        except Exception:  # the next sweep, or the worker's job, tries again
            log.exception("could not expire Judge0 submissions")
            return 0

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def _own_engine(shared: Engine) -> Engine:
    url = shared.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return shared  # a database of that connection's own: no second engine can see it
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "pool_pre_ping": False}
    if url.get_backend_name() == "postgresql":
        options["connect_args"] = {"options": "-c synchronous_commit=off"}
    return make_engine(url.render_as_string(hide_password=False), **options)


def _row(record: SubmissionRecord) -> dict[str, Any]:
    request = record.request
    return {
        "token": record.token, "owner": record.owner, "created_at": record.created_at,
        "language_id": request.language_id, "source_code": request.source_code, "stdin": request.stdin,
        "expected_output": request.expected_output, "limits": json.dumps(dataclasses.asdict(request.limits)),
        "number_of_runs": request.number_of_runs, "compiler_options": request.compiler_options,
        "command_line_arguments": request.command_line_arguments,
        "redirect_stderr_to_stdout": request.redirect_stderr_to_stdout, "callback_url": request.callback_url,
        **_outcome(record),
    }


def _outcome(record: SubmissionRecord) -> dict[str, Any]:
    result = record.result
    values: dict[str, Any] = {"status_id": record.status_id, "finished_at": record.finished_at}
    if result is None:
        values.update(verdict=None, stdout=None, stderr=None, compile_output=None, message=None,
                      exit_code=None, exit_signal=None, time=None, wall_time=None, memory=None)
    else:
        values.update(verdict=result.status.value, stdout=result.stdout, stderr=result.stderr,
                      compile_output=result.compile_output, message=result.message,
                      exit_code=result.exit_code, exit_signal=result.signal, time=result.time,
                      wall_time=result.wall_time, memory=result.memory)
    return values


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes; they were written in UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


def _record(row: Mapping[str, Any]) -> SubmissionRecord | None:
    try:
        language = get_language(row["language_id"])
    except UnknownLanguage:  # written by a server that ran a language this one does not
        return None
    request = SubmissionRequest(
        source_code=row["source_code"], language_id=row["language_id"], language=language,
        stdin=row["stdin"], expected_output=row["expected_output"], limits=Limits(**json.loads(row["limits"])),
        number_of_runs=row["number_of_runs"], compiler_options=row["compiler_options"],
        command_line_arguments=row["command_line_arguments"],
        redirect_stderr_to_stdout=row["redirect_stderr_to_stdout"], callback_url=row["callback_url"])
    result = None
    if row["verdict"] is not None:
        result = RunResult(
            Status(row["verdict"]), stdout=row["stdout"] or b"", stderr=row["stderr"] or b"",
            compile_output=row["compile_output"], exit_code=row["exit_code"], signal=row["exit_signal"],
            time=row["time"], wall_time=row["wall_time"], memory=row["memory"], message=row["message"])
    return SubmissionRecord(token=row["token"], request=request, owner=row["owner"], status_id=row["status_id"],
                            result=result, created_at=_utc(row["created_at"]), finished_at=_utc(row["finished_at"]))
