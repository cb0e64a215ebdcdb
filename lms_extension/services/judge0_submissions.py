"""Submissions of the Judge0-compatible API, kept in the LMS database (owner of
``judge0_submissions``), so that every process serving the API answers for every token.

``DatabaseStore`` is the ``graders.judge0.store.SubmissionStore`` that ``lms judge0`` and
the platform give the API; the functions below it take a session and plain values.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from graders.judge0.schema import SubmissionRecord, SubmissionRequest
from graders.judging import RunResult, Status
from graders.languages import UnknownLanguage, get_language
from graders.limits import Limits

from ..db import session_scope
from ..models.judge0 import Judge0Submission


def insert(session: Session, records: Sequence[SubmissionRecord]) -> None:
    for record in records:
        row = Judge0Submission(token=record.token, created_at=record.created_at)
        _copy_into(row, record)
        session.add(row)


def update(session: Session, record: SubmissionRecord) -> None:
    row = session.get(Judge0Submission, record.token)
    if row is not None:  # expired while it ran: nobody can ask for it any more
        _copy_into(row, record)


def find(session: Session, token: str) -> SubmissionRecord | None:
    row = session.get(Judge0Submission, token)
    return _record(row) if row is not None else None


def expire(session: Session, created_before: dt.datetime) -> int:
    """Forget submissions created before ``created_before``; how many went."""
    return session.execute(delete(Judge0Submission).where(Judge0Submission.created_at < created_before)
                           .execution_options(synchronize_session=False)).rowcount


class DatabaseStore:
    """Submissions in the LMS database; rows older than ``ttl`` seconds are deleted, at
    most once per ``expire_every`` seconds by each process."""

    def __init__(self, factory: sessionmaker[Session], ttl: float, expire_every: float = 60.0):
        self.factory = factory
        self.ttl = ttl
        self.expire_every = expire_every
        self._expired_at = float("-inf")

    def add(self, records: Sequence[SubmissionRecord]) -> None:
        with session_scope(self.factory) as session:
            if time.monotonic() - self._expired_at >= self.expire_every:
                self._expired_at = time.monotonic()
                expire(session, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=self.ttl))
            insert(session, records)

    def save(self, record: SubmissionRecord) -> None:
        with session_scope(self.factory) as session:
            update(session, record)

    def get(self, token: str) -> SubmissionRecord | None:
        with session_scope(self.factory) as session:
            record = find(session, token)
        if record is None or record.created_at < dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=self.ttl):
            return None
        return record


def _copy_into(row: Judge0Submission, record: SubmissionRecord) -> None:
    request, result = record.request, record.result
    row.owner = record.owner
    row.language_id = request.language_id
    row.source_code = request.source_code
    row.stdin = request.stdin
    row.expected_output = request.expected_output
    row.limits = json.dumps(dataclasses.asdict(request.limits))
    row.number_of_runs = request.number_of_runs
    row.compiler_options = request.compiler_options
    row.command_line_arguments = request.command_line_arguments
    row.redirect_stderr_to_stdout = request.redirect_stderr_to_stdout
    row.callback_url = request.callback_url
    row.status_id = record.status_id
    row.finished_at = record.finished_at
    if result is not None:
        row.verdict = result.status.value
        row.stdout, row.stderr, row.compile_output = result.stdout, result.stderr, result.compile_output
        row.message, row.exit_code, row.exit_signal = result.message, result.exit_code, result.signal
        row.time, row.wall_time, row.memory = result.time, result.wall_time, result.memory


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes; they were written in UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


def _record(row: Judge0Submission) -> SubmissionRecord | None:
    try:
        language = get_language(row.language_id)
    except UnknownLanguage:  # written by a server that ran a language this one does not
        return None
    request = SubmissionRequest(
        source_code=row.source_code, language_id=row.language_id, language=language,
        stdin=row.stdin, expected_output=row.expected_output, limits=Limits(**json.loads(row.limits)),
        number_of_runs=row.number_of_runs, compiler_options=row.compiler_options,
        command_line_arguments=row.command_line_arguments,
        redirect_stderr_to_stdout=row.redirect_stderr_to_stdout, callback_url=row.callback_url)
    result = None
    if row.verdict is not None:
        result = RunResult(
            Status(row.verdict), stdout=row.stdout or b"", stderr=row.stderr or b"",
            compile_output=row.compile_output, exit_code=row.exit_code, signal=row.exit_signal,
            time=row.time, wall_time=row.wall_time, memory=row.memory, message=row.message)
    return SubmissionRecord(token=row.token, request=request, owner=row.owner, status_id=row.status_id,
                            result=result, created_at=_utc(row.created_at), finished_at=_utc(row.finished_at))
