"""Where submissions live between the request that creates them and the ones that read them.

The API needs four things of a store: ``add`` new submissions, ``save`` one that finished,
``mark_processing`` one that runs, ``get`` one by token. The service calls them as little as it
can, because they sit on the path of every run: a ``wait=true`` submission is added once, when
it has finished (nobody has its token before); the others are added when they arrive and saved
when they finish, and marked as processing only when their run goes on for a while (until then,
another process answers "In Queue", this one "Processing"). Any process that shares the store answers for any
token: the LMS keeps them in its database (``lms_extension.services.judge0_submissions``),
which is what ``lms judge0`` and the platform use. ``MemoryStore`` keeps them in this
process only, for a server embedded in tests or scripts without a database.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from graders.judge0.pool import QueueFull
from graders.judge0.schema import SubmissionRecord, now


class SubmissionStore(Protocol):
    def add(self, records: Sequence[SubmissionRecord]) -> None:
        """Store new submissions, all or none; ``QueueFull`` when there is no room."""

    def save(self, record: SubmissionRecord) -> None:
        """Store the record's status, result and finishing time (it was added before)."""

    def mark_processing(self, record: SubmissionRecord) -> None:
        """Store that the record, added "In Queue", now runs."""

    def get(self, token: str) -> SubmissionRecord | None:
        """The submission, or None when unknown or expired."""

    # and optionally ``close()``, which the service calls when it stops


class MemoryStore:
    """Submissions of this process only: at most ``max_entries``, finished ones expire
    ``ttl`` seconds after they finish and the oldest finished go first when full."""

    def __init__(self, max_entries: int, ttl: float):
        self.max_entries = max_entries
        self.ttl = ttl
        self._records: collections.OrderedDict[str, SubmissionRecord] = collections.OrderedDict()

    def add(self, records: Sequence[SubmissionRecord]) -> None:
        self._expire()
        room = self.max_entries - len(self._records)
        finished = [t for t, r in self._records.items() if r.is_done]
        if len(records) > room + len(finished):
            raise QueueFull(retry_after=1)
        for token in finished[:max(0, len(records) - room)]:
            del self._records[token]
        for record in records:
            self._records[record.token] = record

    def save(self, record: SubmissionRecord) -> None:
        self._records[record.token] = record

    def mark_processing(self, record: SubmissionRecord) -> None:
        pass  # the stored record is the running one

    def get(self, token: str) -> SubmissionRecord | None:
        self._expire()
        return self._records.get(token)

    def _expire(self) -> None:
        horizon = now() - dt.timedelta(seconds=self.ttl)
        expired = [t for t, r in self._records.items()
                   if r.finished_at is not None and r.finished_at < horizon]
        for token in expired:
            del self._records[token]
