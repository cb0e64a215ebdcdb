"""Accepting submissions, running them in the pool, storing results, calling callbacks."""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.httpclient

from graders.judge0 import statuses
from graders.judge0.config import Judge0Config
from graders.judge0.pool import RunPool
from graders.judge0.schema import DEFAULT_FIELDS, SubmissionRecord, SubmissionRequest, now, serialize
from graders.judge0.store import MemoryStore, SubmissionStore
from graders.judging import RunResult, Status
from graders.languages import LANGUAGES
from graders.submissions import SubmissionSandbox as Sandbox, default_sandbox

log = logging.getLogger(__name__)


class Judge0Service:
    """Accepts submissions, runs them in the pool, stores results, calls callbacks."""

    def __init__(self, config: Judge0Config, sandbox: Sandbox | None = None,
                 store: SubmissionStore | None = None):
        self.config = config
        self._sandbox = sandbox
        self.store = store or MemoryStore(config.max_stored_submissions, config.submission_ttl)
        # Submissions this process accepted and has not finished: waiting requests and
        # streams follow them here; every other process reads them from the store.
        self._live: dict[str, SubmissionRecord] = {}
        # Of those, the ones not in the store yet: wait=true submissions, stored once finished.
        self._unstored: set[str] = set()
        if self._sandbox is not None:
            self._enable_warm(self._sandbox)
        self.pool = RunPool(config.max_workers, config.max_queue_size,
                            per_user_queue=config.max_queued_per_user,
                            per_user_per_minute=config.max_runs_per_user_per_minute,
                            limiter=config.rate_limiter)
        self._tasks: set[asyncio.Task] = set()
        # Language names carry the installed versions, asked once per process; ask now, in
        # the background, rather than in the first request that lists them.
        threading.Thread(target=lambda: [lang.display_name for lang in LANGUAGES],
                         name="judge0-language-versions", daemon=True).start()

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = default_sandbox()
            self._enable_warm(self._sandbox)
        return self._sandbox

    def _enable_warm(self, sandbox: Sandbox) -> None:
        spares = self.config.max_workers if self.config.warm_spares is None else self.config.warm_spares
        if spares > 0:
            sandbox.enable_warm(spares, limits=self.config.default_limits)

    def submit_many(self, requests: list[SubmissionRequest], owner: str | None, *,
                    wait: bool = False) -> list[SubmissionRecord]:
        """Accept and queue ``requests``. ``wait``: the caller keeps the tokens until the
        results are in, so no one can ask another process for them before; they go to the
        store once, finished (one write instead of two)."""
        self.pool.reserve(len(requests), owner)
        records = [SubmissionRecord(token=str(uuid.uuid4()), request=request, owner=owner)
                   for request in requests]
        if wait:
            self._unstored.update(record.token for record in records)
        else:
            try:
                self.store.add(records)
            except BaseException:
                self.pool.release(len(requests), owner)
                raise
        for record in records:
            self._live[record.token] = record
            self._track(self.pool.run(lambda r=record: self._process(r), owner))
        return records

    def find(self, token: str) -> SubmissionRecord | None:
        """The submission as this process knows it best: live if it runs here."""
        return self._live.get(token) or self.store.get(token)

    def is_live(self, record: SubmissionRecord) -> bool:
        """Whether ``record`` runs in this process (its output can be followed live)."""
        return self._live.get(record.token) is record

    async def finished(self, record: SubmissionRecord, poll_interval: float = 0.25) -> SubmissionRecord:
        """The record once it has its result; one that runs in another process is read
        from the store until it has (or is gone from it)."""
        while not record.is_done:
            live = self._live.get(record.token)
            if live is not None:
                await live.finished.wait()
                return live
            await asyncio.sleep(poll_interval)
            fresh = self.store.get(record.token)
            if fresh is None:
                return record
            record = fresh
        return record

    def _write(self, record: SubmissionRecord, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception:  # the run goes on; its readers here still see it
            log.exception("could not store submission %s", record.token)

    def _mark_processing(self, record: SubmissionRecord) -> None:
        if not record.is_done:
            self._write(record, lambda: self.store.mark_processing(record))

    def _track(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def submit(self, request: SubmissionRequest, owner: str | None, *, wait: bool = False) -> SubmissionRecord:
        return self.submit_many([request], owner, wait=wait)[0]

    async def _process(self, record: SubmissionRecord) -> None:
        request = record.request
        record.status_id = statuses.PROCESSING
        record.publish({"event": "status", "status": statuses.status_json(statuses.PROCESSING)})
        # The store hears of it only if the run goes on: most finish first, and their row
        # goes from "In Queue" to finished in one write.
        marking = None
        if record.token not in self._unstored:
            marking = asyncio.get_running_loop().call_later(
                self.config.mark_processing_after, self._mark_processing, record)

        def forward(stream: str, chunk: bytes) -> None:
            record.live_output.append((stream, chunk))
            record.publish({"event": "output", "stream": stream, "chunk": chunk})

        try:
            result = await self.sandbox.run_async(
                request.source_code,
                request.language,
                stdin=request.stdin or b"",
                expected_output=request.expected_output,
                limits=request.limits,
                compile_limits=self.config.compile_limits,
                compiler_options=shlex.split(request.compiler_options or ""),
                arguments=shlex.split(request.command_line_arguments or ""),
                redirect_stderr_to_stdout=request.redirect_stderr_to_stdout,
                number_of_runs=request.number_of_runs,
                on_output=forward,
            )
        except Exception as exc:  # keep the record answerable whatever broke
            log.exception("submission %s failed in the sandbox", record.token)
            result = RunResult(Status.INTERNAL_ERROR, message=f"{type(exc).__name__}: {exc}")
        finally:
            if marking is not None:
                marking.cancel()
        self._finish(record, result)
        if request.callback_url:
            self._track(self._deliver_callback(record))  # without holding a run slot

    def _finish(self, record: SubmissionRecord, result: RunResult) -> None:
        record.result = result
        record.status_id = result.judge0_status_id
        record.finished_at = now()
        record.live_output.clear()  # the result has it all now
        # before anyone is told: a reader may ask another process next
        if record.token in self._unstored:
            self._unstored.discard(record.token)
            self._write(record, lambda: self.store.add([record]))
        else:
            self._write(record, lambda: self.store.save(record))
        self._live.pop(record.token, None)
        record.finished.set()
        record.publish({"event": "done"})
        record.listeners.clear()

    async def _deliver_callback(self, record: SubmissionRecord) -> None:
        """PUT the result (base64, default fields) like Judge0; failures are only logged."""
        body = json.dumps(serialize(record, DEFAULT_FIELDS, base64_encoded=True))
        client = tornado.httpclient.AsyncHTTPClient()
        for attempt in range(self.config.callbacks_max_tries):
            try:
                await client.fetch(
                    record.request.callback_url, method="PUT", body=body,
                    headers={"Content-Type": "application/json"},
                    request_timeout=self.config.callbacks_timeout, follow_redirects=False,
                )
                return
            except Exception as exc:
                log.info("callback for %s failed (try %d): %s", record.token, attempt + 1, exc)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Accepted here and never finished: a final status, so that clients polling another
        # process stop waiting (a process that dies without closing leaves them "In Queue"
        # or "Processing" until they expire).
        for record in list(self._live.values()):
            self._finish(record, RunResult(
                Status.INTERNAL_ERROR, message="the server stopped before this submission finished"))
        close_store = getattr(self.store, "close", None)
        if close_store is not None:
            close_store()
        if self._sandbox is not None:
            await self._sandbox.disable_warm()
