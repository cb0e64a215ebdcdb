"""A Judge0 CE 1.13-compatible HTTP API over the sandbox, in Tornado.

Endpoints (under an optional ``base_path``): ``GET /about``, ``/config_info``,
``/languages``, ``/languages/{id}``, ``/statuses``, ``POST /authenticate``,
``POST /submissions`` (``wait``, ``base64_encoded``, ``fields``),
``GET|DELETE /submissions/{token}``, ``POST /submissions/batch``,
``GET /submissions/batch?tokens=...``, and a WebSocket ``/submissions/{token}/stream``
that sends stdout/stderr chunks while the program runs and then the final result.

Behaviour follows Judge0 CE 1.13.1 so its clients (the official ``judge0`` Python SDK
among them) work unmodified: the same field names, defaults and maxima, 422 bodies of the
form ``{"field": ["message"]}``, 400 ``{"error": ...}`` for malformed requests, the
``X-Auth-Token`` header (or query parameter) when tokens are configured, callbacks with a
``PUT`` of the result. Deliberate differences: a full queue answers ``429`` with
``Retry-After`` (Judge0 says 503); a submission compiles once and then runs
``number_of_runs`` times; Base64 output has no line breaks; memory is the peak of the
whole run's cgroup, in KB.

Submissions live in memory in this process (``SubmissionStore``: bounded, and finished
ones expire), which is what the standalone server (``main``, ``lms judge0``) needs; a
later change persists them in the LMS database behind the same small interface.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import collections
import dataclasses
import datetime as dt
import hmac
import inspect
import json
import logging
import math
import os
import shlex
import signal
import threading
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tornado.httpclient
import tornado.web
import tornado.websocket

from graders.languages import LANGUAGES, Language, UnknownLanguage, get_language, judge0_listing
from graders.sandbox import (
    JUDGE0_STATUSES,
    Limits,
    RunResult,
    Sandbox,
    Status,
    default_sandbox,
)

log = logging.getLogger(__name__)

JUDGE0_VERSION = "1.13.1"
MAX_NUMBER_OF_RUNS = 20
MAX_OPTIONS_LENGTH = 512  # compiler_options and command_line_arguments, as Judge0

# Request attribute -> Limits field.
LIMIT_FIELDS = {
    "cpu_time_limit": "cpu_time",
    "cpu_extra_time": "cpu_extra_time",
    "wall_time_limit": "wall_time",
    "memory_limit": "memory",
    "stack_limit": "stack",
    "max_processes_and_or_threads": "max_processes",
    "max_file_size": "max_file_size",
}
DECIMAL_LIMIT_FIELDS = {"cpu_time_limit", "cpu_extra_time", "wall_time_limit"}
TEXT_FIELDS = ("source_code", "stdin", "expected_output")
OUTPUT_FIELDS = ("stdout", "stderr", "compile_output", "message")
DEFAULT_FIELDS = ("token", "time", "memory", "stdout", "stderr", "compile_output", "message",
                  "status")
# Every attribute Judge0 1.13 serializes (what ``fields=*`` returns).
ALL_FIELDS = (
    "source_code", "language_id", "stdin", "expected_output", "stdout", "status_id",
    "created_at", "finished_at", "time", "memory", "stderr", "token", "number_of_runs",
    "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit", "stack_limit",
    "max_processes_and_or_threads", "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit", "max_file_size", "compile_output",
    "exit_code", "exit_signal", "message", "wall_time", "compiler_options",
    "command_line_arguments", "redirect_stderr_to_stdout", "callback_url",
    "additional_files", "enable_network", "status", "language",
)
NOT_UTF8 = ("some attributes for this submission cannot be converted to UTF-8, "
            "use base64_encoded=true query parameter")


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Judge0Config:
    """Settings of one API instance; built once at startup."""

    # Accepted values of the auth header; empty means no authentication (Judge0 default).
    auth_tokens: tuple[str, ...] = ()
    auth_header: str = "X-Auth-Token"
    base_path: str = ""
    max_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Python sandboxes kept started ahead of time (graders.warm_python); 0 turns that off.
    warm_spares: int | None = None  # None: as many as max_workers
    max_queue_size: int = 100  # submissions waiting for a worker, beyond those running
    max_submission_batch_size: int = 20
    # per authenticated user (anonymous use of a standalone server shares the global
    # limits only): runs waiting at once, and runs started per minute; None: unlimited
    max_queued_per_user: int | None = 40
    max_runs_per_user_per_minute: float | None = 120.0
    # Where per-user run rates are counted when several processes serve the API (an
    # ``lms_extension.ratelimit.RateLimiter``, e.g. on Redis); None: in this process.
    rate_limiter: Any = None
    default_limits: Limits = field(default_factory=Limits)
    compile_limits: Limits = field(default_factory=Limits.for_compilation)
    max_stored_submissions: int = 10_000
    submission_ttl: float = 24 * 3600.0  # seconds a finished submission stays readable
    enable_wait_result: bool = True
    callbacks_max_tries: int = 3
    callbacks_timeout: float = 5.0
    # Hosts a callback_url may point to; None allows any, as Judge0 does. A deployment
    # inside a private network should list its hosts (callbacks are server-side PUTs).
    callback_hosts: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.max_workers < 1 or self.max_queue_size < 0:
            raise ValueError("max_workers must be at least 1 and max_queue_size at least 0")
        if self.base_path and not self.base_path.startswith("/"):
            raise ValueError("base_path must start with '/'")


# --------------------------------------------------------------------------------------
# Domain: requests, records, validation
# --------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error with its HTTP status and JSON body; raised anywhere, rendered in one place."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"error": message})


@dataclass(frozen=True)
class SubmissionRequest:
    """A validated submission: what the client asked for, decoded."""

    source_code: bytes
    language_id: int
    language: Language
    stdin: bytes | None
    expected_output: bytes | None
    limits: Limits
    number_of_runs: int
    compiler_options: str | None
    command_line_arguments: str | None
    redirect_stderr_to_stdout: bool
    callback_url: str | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(eq=False)
class SubmissionRecord:
    token: str
    request: SubmissionRequest
    owner: str | None = None
    status_id: int = 1
    result: RunResult | None = None
    created_at: dt.datetime = field(default_factory=_now)
    finished_at: dt.datetime | None = None
    live_output: list[tuple[str, bytes]] = field(default_factory=list)
    listeners: set[Callable[[dict], None]] = field(default_factory=set)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_done(self) -> bool:
        return self.status_id not in (1, 2)

    def publish(self, event: dict) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("submission stream listener failed")


class _Problems:
    """Collects Judge0-style validation messages per attribute."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ApiError(422, self.by_field)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number.is_integer() and "." not in value else number
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "1", 1):
        return True
    if value in ("false", "0", 0):
        return False
    return None


def _decode_base64(text: str) -> bytes:
    # Ruby's decode64, which Judge0 uses, ignores line breaks and missing padding.
    compact = "".join(text.split())
    return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)


def parse_submission(body: Any, *, base64_encoded: bool, config: Judge0Config) -> SubmissionRequest:
    """Validate one submission body the way Judge0's model does; ApiError(422) if invalid."""
    if not isinstance(body, dict):
        raise bad_request("a submission must be a JSON object")
    problems = _Problems()

    texts: dict[str, bytes | None] = {}
    for name in TEXT_FIELDS:
        value = body.get(name)
        if value is None:
            texts[name] = None
        elif not isinstance(value, str):
            problems.add(name, "must be a string")
        elif base64_encoded:
            try:
                texts[name] = _decode_base64(value)
            except (binascii.Error, ValueError):
                problems.add(name, "is not valid Base64")
        else:
            texts[name] = value.encode()
    if not texts.get("source_code") and "source_code" not in problems.by_field:
        problems.add("source_code", "can't be blank")

    language = None
    raw_language = body.get("language_id")
    language_id = _as_number(raw_language)
    if raw_language is None or raw_language == "":
        problems.add("language_id", "can't be blank")
    elif language_id is None or not float(language_id).is_integer():
        problems.add("language_id", "is not a number")
    else:
        language_id = int(language_id)
        try:
            language = get_language(language_id)
        except UnknownLanguage as exc:
            problems.add("language_id", str(exc))

    limit_values = {}
    for name, limit in LIMIT_FIELDS.items():
        if body.get(name) is None:
            continue
        number = _as_number(body[name])
        if number is None:
            problems.add(name, "is not a number")
        else:
            limit_values[limit] = number
    api_name = {limit: name for name, limit in LIMIT_FIELDS.items()}
    for limit, messages in Limits.problems(limit_values).items():
        for message in messages:
            problems.add(api_name[limit], message)

    number_of_runs = 1
    if body.get("number_of_runs") is not None:
        runs = _as_number(body["number_of_runs"])
        if runs is None:
            problems.add("number_of_runs", "is not a number")
        elif runs <= 0:
            problems.add("number_of_runs", "must be greater than 0")
        elif runs > MAX_NUMBER_OF_RUNS:
            problems.add("number_of_runs", f"must be less than or equal to {MAX_NUMBER_OF_RUNS}")
        else:
            number_of_runs = int(runs)

    flags = {}
    for name in ("redirect_stderr_to_stdout", "enable_network",
                 "enable_per_process_and_thread_time_limit",
                 "enable_per_process_and_thread_memory_limit"):
        if body.get(name) is None:
            flags[name] = False
            continue
        flag = _as_bool(body[name])
        if flag is None:
            problems.add(name, "is not a boolean")
        flags[name] = bool(flag)
    for name in ("enable_network", "enable_per_process_and_thread_time_limit",
                 "enable_per_process_and_thread_memory_limit"):
        if flags.get(name):
            problems.add(name, "this option cannot be enabled")

    options = {}
    for name in ("compiler_options", "command_line_arguments"):
        value = body.get(name)
        if value is None or value == "":
            options[name] = None
            continue
        if not isinstance(value, str):
            problems.add(name, "must be a string")
        elif len(value) > MAX_OPTIONS_LENGTH:
            problems.add(name, f"is too long (maximum is {MAX_OPTIONS_LENGTH} characters)")
        else:
            try:
                shlex.split(value)
            except ValueError as exc:
                problems.add(name, f"cannot be parsed: {exc}")
            options[name] = value
    if options.get("compiler_options") and language is not None and language.compile_cmd is None:
        problems.add("compiler_options",
                     "setting compiler options is only allowed for compiled languages")

    if body.get("additional_files") not in (None, ""):
        problems.add("additional_files", "are not supported by this server")

    callback_url = body.get("callback_url")
    if callback_url not in (None, ""):
        problem = _callback_url_problem(callback_url, config)
        if problem:
            problems.add("callback_url", problem)
    else:
        callback_url = None

    problems.raise_if_any()
    return SubmissionRequest(
        source_code=texts["source_code"],
        language_id=language_id,
        language=language,
        stdin=texts["stdin"],
        expected_output=texts["expected_output"],
        limits=dataclasses.replace(config.default_limits, **limit_values),
        number_of_runs=number_of_runs,
        compiler_options=options["compiler_options"],
        command_line_arguments=options["command_line_arguments"],
        redirect_stderr_to_stdout=flags["redirect_stderr_to_stdout"],
        callback_url=callback_url,
    )


def _callback_url_problem(url: Any, config: Judge0Config) -> str | None:
    if not isinstance(url, str):
        return "must be a string"
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return "is not a valid URL"
    if config.callback_hosts is not None and parsed.hostname not in config.callback_hosts:
        return f"host {parsed.hostname} is not allowed"
    return None


def parse_fields(raw: str | None, default: Iterable[str] = DEFAULT_FIELDS) -> tuple[str, ...]:
    if raw is None or raw.strip() == "":
        return tuple(default)
    requested = [name.strip() for name in raw.split(",") if name.strip()]
    if "*" in requested:
        return ALL_FIELDS
    invalid = [name for name in requested if name not in ALL_FIELDS]
    if invalid:
        raise bad_request(f"invalid fields: [{', '.join(invalid)}]")
    return tuple(requested)


# --------------------------------------------------------------------------------------
# Serialization
# --------------------------------------------------------------------------------------
class NotUtf8(Exception):
    pass


def _text(value: bytes | str | None, base64_encoded: bool) -> str | None:
    if value is None:
        return None
    data = value.encode() if isinstance(value, str) else value
    if base64_encoded:
        return base64.b64encode(data).decode()
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise NotUtf8 from None


def _decimal(value: float | None) -> str | None:
    # Judge0 (Rails decimals) sends times and time limits as strings.
    return None if value is None else f"{value:g}" if value != int(value) else f"{value:.1f}"


def _timestamp(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def serialize(record: SubmissionRecord, fields: Iterable[str], base64_encoded: bool) -> dict:
    """The submission as Judge0 renders it (``NotUtf8`` if text needs base64_encoded)."""
    request, result = record.request, record.result
    limits = request.limits
    values: dict[str, Callable[[], Any]] = {
        "token": lambda: record.token,
        "source_code": lambda: _text(request.source_code, base64_encoded),
        "stdin": lambda: _text(request.stdin, base64_encoded),
        "expected_output": lambda: _text(request.expected_output, base64_encoded),
        "language_id": lambda: request.language_id,
        "language": lambda: {"id": request.language_id,
                             "name": request.language.display_name},
        "status_id": lambda: record.status_id,
        "status": lambda: {"id": record.status_id,
                           "description": JUDGE0_STATUSES[record.status_id]},
        "created_at": lambda: _timestamp(record.created_at),
        "finished_at": lambda: _timestamp(record.finished_at),
        "number_of_runs": lambda: request.number_of_runs,
        "cpu_time_limit": lambda: _decimal(limits.cpu_time),
        "cpu_extra_time": lambda: _decimal(limits.cpu_extra_time),
        "wall_time_limit": lambda: _decimal(limits.wall_time),
        "memory_limit": lambda: int(limits.memory),
        "stack_limit": lambda: int(limits.stack),
        "max_processes_and_or_threads": lambda: int(limits.max_processes),
        "enable_per_process_and_thread_time_limit": lambda: False,
        "enable_per_process_and_thread_memory_limit": lambda: False,
        "max_file_size": lambda: int(limits.max_file_size),
        "compiler_options": lambda: request.compiler_options,
        "command_line_arguments": lambda: request.command_line_arguments,
        "redirect_stderr_to_stdout": lambda: request.redirect_stderr_to_stdout,
        "callback_url": lambda: request.callback_url,
        "additional_files": lambda: None,
        "enable_network": lambda: False,
        "stdout": lambda: _text(result.stdout or None, base64_encoded) if result else None,
        "stderr": lambda: _text(result.stderr or None, base64_encoded) if result else None,
        "compile_output": lambda: _text(result.compile_output, base64_encoded)
        if result else None,
        "message": lambda: _text(result.message, base64_encoded) if result else None,
        "exit_code": lambda: _judge0_exit_code(result),
        "exit_signal": lambda: result.exit_signal if result else None,
        "time": lambda: _time_text(result.time) if result else None,
        "wall_time": lambda: _time_text(result.wall_time) if result else None,
        "memory": lambda: result.memory if result else None,
    }
    return {name: values[name]() for name in fields}


def _time_text(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds:.3f}"


def _judge0_exit_code(result: RunResult | None) -> int | None:
    if result is None or result.status in (Status.COMPILATION_ERROR, Status.INTERNAL_ERROR):
        return None
    # isolate reports no exit code for a killed program; Judge0 then says 0.
    return result.exit_code if result.exit_code is not None else 0


# --------------------------------------------------------------------------------------
# Storage and the run pool
# --------------------------------------------------------------------------------------
class SubmissionStore:
    """In-memory submissions for the standalone server: at most ``max_entries``, finished
    ones expire ``ttl`` seconds after they finish and the oldest finished go first when
    full. (A later change stores them in the LMS database behind these three methods.)"""

    def __init__(self, max_entries: int, ttl: float):
        self.max_entries = max_entries
        self.ttl = ttl
        self._records: collections.OrderedDict[str, SubmissionRecord] = collections.OrderedDict()

    def add(self, record: SubmissionRecord) -> None:
        self._expire()
        if len(self._records) >= self.max_entries:
            oldest_finished = next((t for t, r in self._records.items() if r.is_done), None)
            if oldest_finished is None:
                raise QueueFull(retry_after=1)
            del self._records[oldest_finished]
        self._records[record.token] = record

    def get(self, token: str) -> SubmissionRecord | None:
        self._expire()
        return self._records.get(token)

    def _expire(self) -> None:
        horizon = _now() - dt.timedelta(seconds=self.ttl)
        expired = [t for t, r in self._records.items()
                   if r.finished_at is not None and r.finished_at < horizon]
        for token in expired:
            del self._records[token]


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__("queue is full")
        self.retry_after = retry_after


class RunPool:
    """At most ``workers`` runs at once, shared fairly between users.

    Waiting runs queue per user and are started round-robin, so one user's batch of
    fifty never delays another user's single run by more than one turn. Each user may
    have ``per_user_queue`` runs waiting and start ``per_user_per_minute`` runs a minute
    (a token bucket); beyond those, or beyond ``queue_size`` waiting in all,
    ``QueueFull`` says when to retry.
    """

    def __init__(self, workers: int, queue_size: int, *, per_user_queue: int | None = None,
                 per_user_per_minute: float | None = None, clock: Callable[[], float] = time.monotonic,
                 limiter: Any = None):
        self.workers = workers
        self.limiter = limiter
        self.queue_size = queue_size
        self.per_user_queue = per_user_queue
        self.per_user_per_minute = per_user_per_minute
        self.clock = clock
        self.reserved = 0  # accepted, not yet started (queued or about to queue)
        self.running = 0
        self._average_seconds = 1.0
        self._queues: collections.OrderedDict[str | None, collections.deque[asyncio.Future]] = collections.OrderedDict()
        self._reserved_by: collections.Counter[str | None] = collections.Counter()
        self._buckets: dict[str | None, tuple[float, float]] = {}  # owner -> (tokens, updated)

    @property
    def waiting(self) -> int:
        return self.reserved

    def _take_tokens(self, owner: str | None, count: int) -> float:
        """Spend ``count`` tokens of ``owner``'s bucket; 0, or seconds until they exist."""
        if self.per_user_per_minute is None:
            return 0.0
        rate = self.per_user_per_minute / 60.0
        capacity = max(self.per_user_per_minute, 1.0)
        if self.limiter is not None:  # the same bucket, shared: GCRA with burst = capacity
            decision = self.limiter.hit(f"runs:{owner}", limit=int(capacity), window=int(capacity) / rate, cost=count)
            return 0.0 if decision.allowed else max(decision.retry_after, 1e-3)
        now = self.clock()
        tokens, updated = self._buckets.get(owner, (capacity, now))
        tokens = min(capacity, tokens + (now - updated) * rate)
        if tokens < count:
            self._buckets[owner] = (tokens, now)
            return (count - tokens) / rate
        self._buckets[owner] = (tokens - count, now)
        return 0.0

    def reserve(self, count: int = 1, owner: str | None = None) -> None:
        """Claim places for ``count`` runs of ``owner``, or raise QueueFull (nothing claimed)."""
        start_now = max(self.workers - self.running, 0)
        if self.reserved + count - start_now > self.queue_size:
            ahead = self.reserved + self.running
            raise QueueFull(max(1, math.ceil(ahead * self._average_seconds / self.workers)))
        if owner is None:
            pass  # anonymous: only the global queue applies
        elif self.per_user_queue is not None and self._reserved_by[owner] + count > self.per_user_queue:
            mine = self._reserved_by[owner]
            raise QueueFull(max(1, math.ceil(mine * self._average_seconds / self.workers)))
        wait = self._take_tokens(owner, count) if owner is not None else 0.0
        if wait:
            raise QueueFull(max(1, math.ceil(wait)))
        self.reserved += count
        self._reserved_by[owner] += count

    def release(self, count: int, owner: str | None = None) -> None:
        """Give back places reserved for runs that were not started after all."""
        self.reserved -= count
        self._reserved_by[owner] -= count

    async def run(self, work: Callable[[], Awaitable[Any]], owner: str | None = None) -> Any:
        """Run ``work`` in a slot when it is ``owner``'s turn; the place must be reserved."""
        turn = asyncio.get_running_loop().create_future()
        self._queues.setdefault(owner, collections.deque()).append(turn)
        self._dispatch()
        try:
            await turn
        except BaseException:
            if not turn.done() or turn.cancelled():
                self._forget(owner, turn)
            else:  # the slot was given to us as we were cancelled: pass it on
                self.running -= 1
                self._dispatch()
            raise
        started = time.monotonic()
        try:
            return await work()
        finally:
            self.running -= 1
            elapsed = time.monotonic() - started
            self._average_seconds = 0.8 * self._average_seconds + 0.2 * elapsed
            self._dispatch()

    def _forget(self, owner: str | None, turn: asyncio.Future) -> None:
        queue = self._queues.get(owner)
        if queue is not None and turn in queue:
            queue.remove(turn)
            self.reserved -= 1
            self._reserved_by[owner] -= 1

    def _dispatch(self) -> None:
        """Start waiting runs while slots are free, one per user in turn (round-robin)."""
        while self.running < self.workers and self._queues:
            owner, queue = next(iter(self._queues.items()))
            turn = queue.popleft()
            if queue:
                self._queues.move_to_end(owner)  # next user's turn
            else:
                del self._queues[owner]
            self.reserved -= 1
            self._reserved_by[owner] -= 1
            if not self._reserved_by[owner]:
                del self._reserved_by[owner]
            self.running += 1
            turn.set_result(None)


class Judge0Service:
    """Accepts submissions, runs them in the pool, stores results, calls callbacks."""

    def __init__(self, config: Judge0Config, sandbox: Sandbox | None = None):
        self.config = config
        self._sandbox = sandbox
        self.store = SubmissionStore(config.max_stored_submissions, config.submission_ttl)
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

    def submit_many(self, requests: list[SubmissionRequest], owner: str | None) -> list[SubmissionRecord]:
        self.pool.reserve(len(requests), owner)
        records = []
        for index, request in enumerate(requests):
            record = SubmissionRecord(token=str(uuid.uuid4()), request=request, owner=owner)
            try:
                self.store.add(record)
            except QueueFull:
                self.pool.release(len(requests) - index, owner)
                raise
            self._track(self.pool.run(lambda r=record: self._process(r), owner))
            records.append(record)
        return records

    def _track(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def submit(self, request: SubmissionRequest, owner: str | None) -> SubmissionRecord:
        return self.submit_many([request], owner)[0]

    async def _process(self, record: SubmissionRecord) -> None:
        request = record.request
        record.status_id = 2
        record.publish({"event": "status", "status": {"id": 2, "description": "Processing"}})

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
        record.result = result
        record.status_id = result.judge0_status_id
        record.finished_at = _now()
        record.live_output.clear()  # the result has it all now
        record.finished.set()
        record.publish({"event": "done"})
        record.listeners.clear()
        if request.callback_url:
            self._track(self._deliver_callback(record))  # without holding a run slot

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
        if self._sandbox is not None:
            await self._sandbox.disable_warm()


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------
Authenticator = Callable[[tornado.web.RequestHandler], Any]


def _owner_key(user: Any) -> str | None:
    if user is None or user is True:
        return None
    if isinstance(user, Mapping):
        return str(user.get("name") or user.get("id") or user)
    return str(user)


class _Judge0Mixin:
    """Authentication and the query flags shared by HTTP and WebSocket handlers."""

    service: Judge0Service
    user: Any = None

    def initialize(self, service: Judge0Service, authenticate: Authenticator | None) -> None:
        self.service = service
        self._authenticate_hook = authenticate

    async def _authenticate(self) -> None:
        if self._authenticate_hook is not None:
            user = self._authenticate_hook(self)
            if inspect.isawaitable(user):
                user = await user
            if not user:
                raise ApiError(401, {"error": "authentication required"})
            self.user = user
            return
        tokens = self.service.config.auth_tokens
        if not tokens:
            return
        header = self.service.config.auth_header
        provided = self.request.headers.get(header) or self.get_query_argument(header, "")
        if not any(hmac.compare_digest(provided.encode(), token.encode()) for token in tokens):
            raise ApiError(401, {"error": f"authentication failed: send a valid {header} header"})

    def check_xsrf_cookie(self) -> None:
        # Tokens authenticate this API, never cookies, so there is no cross-site request
        # to forge; mounted in an app with xsrf_cookies on, Tornado would refuse every POST.
        return None

    def _flag(self, name: str) -> bool:
        return self.get_query_argument(name, "false") == "true"

    def _find(self, token: str) -> SubmissionRecord:
        record = self.service.store.get(token)
        if record is None or (record.owner is not None and record.owner != _owner_key(self.user)):
            raise ApiError(404, {"error": "submission not found"})
        return record


class Judge0Handler(_Judge0Mixin, tornado.web.RequestHandler):
    """Base of the JSON handlers: authentication first, every error rendered as JSON."""

    async def prepare(self) -> None:
        try:
            await self._authenticate()
        except ApiError as exc:
            self._send_error(exc)

    def send_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(body))

    def _send_error(self, exc: ApiError) -> None:
        for name, value in exc.headers.items():
            self.set_header(name, value)
        self.send_json(exc.body, exc.status)

    def json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise bad_request("the request body is not valid JSON") from None

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, ApiError):
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # The one place errors become HTTP responses: ApiError carries its own body;
        # Tornado's own errors (404, 405, ...) keep their status; anything else is a 500
        # without internals.
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ApiError):
            self.clear()
            self._send_error(error)
        elif isinstance(error, tornado.web.HTTPError):
            self.send_json({"error": error.log_message or self._reason}, status_code)
        else:
            self.send_json({"error": "internal server error"}, 500)

    def _submission_json(self, record: SubmissionRecord, fields: tuple[str, ...],
                         status: int = 200) -> None:
        base64_encoded = self._flag("base64_encoded")
        try:
            self.send_json(serialize(record, fields, base64_encoded), status)
        except NotUtf8:
            body = {"error": NOT_UTF8}
            if status == 201:
                body["token"] = record.token
            self.send_json(body, status if status == 201 else 400)


class NotFoundHandler(Judge0Handler):
    def prepare(self) -> None:
        raise ApiError(404, {"error": f"no such endpoint: {self.request.path}"})


class AboutHandler(Judge0Handler):
    def get(self) -> None:
        self.send_json({
            "version": JUDGE0_VERSION,
            "homepage": "https://judge0.com",
            "source_code": "https://github.com/judge0/judge0",
            "maintainer": "Jupyter LMS (Judge0-compatible API over graders.sandbox)",
        })


class AuthenticateHandler(Judge0Handler):
    def post(self) -> None:
        self.set_status(200)
        self.finish()


class ConfigInfoHandler(Judge0Handler):
    def get(self) -> None:
        config = self.service.config
        limits, maxima = config.default_limits, Limits.MAXIMA
        self.send_json({
            "maintenance_mode": False,
            "enable_wait_result": config.enable_wait_result,
            "enable_compiler_options": True,
            "allowed_languages_for_compile_options": [],
            "enable_command_line_arguments": True,
            "enable_submission_delete": False,
            "enable_callbacks": True,
            "callbacks_max_tries": config.callbacks_max_tries,
            "callbacks_timeout": config.callbacks_timeout,
            "enable_additional_files": False,
            "max_queue_size": config.max_queue_size,
            "cpu_time_limit": limits.cpu_time,
            "max_cpu_time_limit": maxima["cpu_time"],
            "cpu_extra_time": limits.cpu_extra_time,
            "max_cpu_extra_time": maxima["cpu_extra_time"],
            "wall_time_limit": limits.wall_time,
            "max_wall_time_limit": maxima["wall_time"],
            "memory_limit": limits.memory,
            "max_memory_limit": maxima["memory"],
            "stack_limit": limits.stack,
            "max_stack_limit": maxima["stack"],
            "max_processes_and_or_threads": limits.max_processes,
            "max_max_processes_and_or_threads": maxima["max_processes"],
            "enable_per_process_and_thread_time_limit": False,
            "allow_enable_per_process_and_thread_time_limit": False,
            "enable_per_process_and_thread_memory_limit": False,
            "allow_enable_per_process_and_thread_memory_limit": False,
            "max_file_size": limits.max_file_size,
            "max_max_file_size": maxima["max_file_size"],
            "number_of_runs": 1,
            "max_number_of_runs": MAX_NUMBER_OF_RUNS,
            "redirect_stderr_to_stdout": False,
            "max_extract_size": 0,
            "enable_batched_submissions": True,
            "max_submission_batch_size": config.max_submission_batch_size,
            "submission_cache_duration": 0,
            "use_docs_as_homepage": False,
            "enable_network": False,
            "allow_enable_network": False,
        })


class StatusesHandler(Judge0Handler):
    def get(self) -> None:
        self.send_json([{"id": i, "description": d} for i, d in JUDGE0_STATUSES.items()])


class LanguagesHandler(Judge0Handler):
    def get(self) -> None:
        listing = [{"id": i, "name": language.display_name} for i, language in judge0_listing()]
        self.send_json(sorted(listing, key=lambda entry: (entry["name"], entry["id"])))


class LanguageHandler(Judge0Handler):
    def get(self, language_id: str) -> None:
        try:
            language = get_language(int(language_id))
        except (ValueError, UnknownLanguage):
            raise ApiError(404, {"error": f"language with id {language_id} doesn't exist"}) from None
        self.send_json({**language.judge0_details(), "id": int(language_id)})


class SubmissionsHandler(Judge0Handler):
    async def post(self) -> None:
        wait = self._flag("wait")
        if wait and not self.service.config.enable_wait_result:
            raise bad_request("wait not allowed")
        fields = parse_fields(self.get_query_argument("fields", None))
        request = parse_submission(self.json_body(), base64_encoded=self._flag("base64_encoded"),
                                   config=self.service.config)
        record = self._submit([request])[0]
        if not wait:
            self.send_json({"token": record.token}, 201)
            return
        await record.finished.wait()
        self._submission_json(record, fields, 201)

    def _submit(self, requests: list[SubmissionRequest]) -> list[SubmissionRecord]:
        try:
            return self.service.submit_many(requests, _owner_key(self.user))
        except QueueFull as exc:
            raise ApiError(429, {"error": "queue is full"},
                           {"Retry-After": str(exc.retry_after)}) from None


class SubmissionHandler(Judge0Handler):
    def get(self, token: str) -> None:
        fields = parse_fields(self.get_query_argument("fields", None))
        self._submission_json(self._find(token), fields)

    def delete(self, token: str) -> None:
        raise bad_request("delete not allowed")


class BatchHandler(SubmissionsHandler):
    async def post(self) -> None:
        body = self.json_body()
        items = body.get("submissions") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise bad_request('the body must be {"submissions": [...]}')
        self._check_batch_size(len(items))
        base64_encoded = self._flag("base64_encoded")
        parsed: list[SubmissionRequest | ApiError] = []
        for item in items:
            try:
                parsed.append(parse_submission(item, base64_encoded=base64_encoded,
                                               config=self.service.config))
            except ApiError as exc:
                parsed.append(exc)
        valid = [p for p in parsed if isinstance(p, SubmissionRequest)]
        records = iter(self._submit(valid)) if valid else iter(())
        response = [{"token": next(records).token} if isinstance(p, SubmissionRequest) else p.body
                    for p in parsed]
        self.send_json(response, 201 if valid else 422)

    def get(self) -> None:
        tokens = [t for t in self.get_query_argument("tokens", "").strip().split(",") if t]
        self._check_batch_size(len(tokens))
        fields = parse_fields(self.get_query_argument("fields", None))
        base64_encoded = self._flag("base64_encoded")
        submissions = []
        for token in tokens:
            try:
                record = self._find(token)
            except ApiError:
                submissions.append(None)
                continue
            try:
                submissions.append(serialize(record, fields, base64_encoded))
            except NotUtf8:
                raise bad_request("some attributes for one or more submissions cannot be "
                                  "converted to UTF-8, use base64_encoded=true query parameter"
                                  ) from None
        self.send_json({"submissions": submissions})

    def _check_batch_size(self, count: int) -> None:
        limit = self.service.config.max_submission_batch_size
        if count > limit:
            raise bad_request(
                f"number of submissions in a batch should be less than or equal to {limit}")
        if count == 0:
            raise bad_request("there should be at least one submission in a batch")


class SubmissionStreamHandler(_Judge0Mixin, tornado.websocket.WebSocketHandler):
    """Live output of one submission as JSON messages:

    ``{"event": "status", "status": {...}}`` when it starts running,
    ``{"event": "output", "stream": "stdout"|"stderr"|"compile_output", "data": "..."}``
    per chunk (text, or Base64 with ``?base64_encoded=true``), and finally
    ``{"event": "done", "submission": {...default fields...}}`` before the server closes.
    A client joining late first gets what was already printed. Browsers cannot set
    headers on WebSockets, so the auth token may come as a query parameter.
    """

    record: SubmissionRecord | None = None

    async def get(self, token: str) -> None:
        try:
            await self._authenticate()
            self.record = self._find(token)
        except ApiError as exc:
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps(exc.body))
            return
        await super().get(token)

    def check_origin(self, origin: str) -> bool:
        # Same rules as the HTTP endpoints: the token (or hook) authenticates, not cookies.
        return True

    def open(self, token: str) -> None:
        record = self.record
        self._base64 = self._flag("base64_encoded")
        self._send({"event": "status", "status": {"id": record.status_id,
                                                  "description": JUDGE0_STATUSES[record.status_id]}})
        for stream, chunk in record.live_output:
            self._send({"event": "output", "stream": stream, "chunk": chunk})
        if record.is_done:
            self._send({"event": "done"})
        else:
            record.listeners.add(self._send)

    def _send(self, event: dict) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if event["event"] == "output":
            event = {"event": "output", "stream": event["stream"],
                     "data": base64.b64encode(event["chunk"]).decode() if self._base64
                     else event["chunk"].decode(errors="replace")}
        elif event["event"] == "done":
            try:
                submission = serialize(self.record, DEFAULT_FIELDS, self._base64)
            except NotUtf8:
                submission = serialize(self.record, DEFAULT_FIELDS, True)
                submission["base64_encoded"] = True
            event = {"event": "done", "submission": submission}
        self.write_message(json.dumps(event))
        if event["event"] == "done":
            self.close(1000)

    def on_close(self) -> None:
        if self.record is not None:
            self.record.listeners.discard(self._send)


def judge0_handlers(service: Judge0Service, base_path: str = "",
                    authenticate: Authenticator | None = None) -> list[tornado.web.URLSpec]:
    """The API's routes, to serve standalone or to add to another application."""
    base = base_path.rstrip("/")
    kwargs = {"service": service, "authenticate": authenticate}
    routes = [
        (r"/about", AboutHandler),
        (r"/authenticate", AuthenticateHandler),
        (r"/config_info", ConfigInfoHandler),
        (r"/statuses", StatusesHandler),
        (r"/languages", LanguagesHandler),
        (r"/languages/([^/]+)", LanguageHandler),
        (r"/submissions", SubmissionsHandler),
        (r"/submissions/batch", BatchHandler),
        (r"/submissions/([^/]+)/stream", SubmissionStreamHandler),
        (r"/submissions/([^/]+)", SubmissionHandler),
    ]
    return [tornado.web.url(f"{base}{pattern}/?", handler, kwargs) for pattern, handler in routes]


def make_app(config: Judge0Config | None = None, *, base_path: str | None = None,
             authenticate: Authenticator | None = None, sandbox: Sandbox | None = None,
             **settings: Any) -> tornado.web.Application:
    """A Tornado application serving the Judge0-compatible API.

    ``authenticate(handler)`` (optionally async) returns the user or None (then 401); when
    given it replaces the ``X-Auth-Token`` check, which is how the LMS mounts the API
    under ``/services/lms/api/judge0/`` with Hub tokens. ``application.settings["judge0"]``
    is the ``Judge0Service``.
    """
    config = config or Judge0Config()
    if base_path is not None:
        config = dataclasses.replace(config, base_path=base_path)
    service = Judge0Service(config, sandbox)
    app = tornado.web.Application(
        judge0_handlers(service, config.base_path, authenticate),
        default_handler_class=NotFoundHandler,
        default_handler_args={"service": service, "authenticate": authenticate},
        judge0=service,
        **settings,
    )
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the API standalone: ``python -m graders.judge0 --port 2358``."""
    parser = argparse.ArgumentParser(prog="lms judge0", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=2358, help="port to listen on")
    parser.add_argument(
        "--auth-token", action="append", default=None,
        help="require this X-Auth-Token (repeatable). Prefer the JUDGE0_AUTH_TOKEN "
             "environment variable (space-separated tokens): a command line is visible "
             "to every user of the machine")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="runs at the same time (default: number of cores)")
    parser.add_argument("--queue-size", type=int, default=100,
                        help="submissions waiting for a worker before 429")
    parser.add_argument("--base-path", default="", help="URL prefix, e.g. /judge0")
    parser.add_argument("--warm-spares", type=int, default=None,
                        help="Python sandboxes started ahead of time, each used for one run "
                             "(default: as many as --workers; 0 turns them off)")
    args = parser.parse_args(argv)
    tokens = tuple(args.auth_token or os.environ.get("JUDGE0_AUTH_TOKEN", "").split())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = Judge0Config(auth_tokens=tokens, base_path=args.base_path,
                          max_workers=args.workers, max_queue_size=args.queue_size,
                          warm_spares=args.warm_spares)
    default_sandbox()  # fail now, with the reason, if the host cannot sandbox

    async def serve() -> None:
        app = make_app(config)
        server = app.listen(args.port, args.host)
        log.info("Judge0-compatible API on http://%s:%d%s/", args.host, args.port, args.base_path)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        server.stop()
        await app.settings["judge0"].close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
