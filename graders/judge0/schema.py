"""Judge0's request and response shapes: validation of submissions, rendering of records.

Behaviour follows Judge0 CE 1.13.1 so its clients (the official ``judge0`` Python SDK
among them) work unmodified: the same field names, defaults and maxima, 422 bodies of the
form ``{"field": ["message"]}``, 400 ``{"error": ...}`` for malformed requests. Texts are
kept as bytes from parsing to rendering, so ``base64_encoded`` round-trips any output.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import datetime as dt
import logging
import math
import shlex
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graders.judge0 import statuses
from graders.judge0.config import Judge0Config
from graders.judging import RunResult, Status
from graders.languages import Language, UnknownLanguage, get_language
from graders.limits import Limits

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


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(eq=False)
class SubmissionRecord:
    token: str
    request: SubmissionRequest
    owner: str | None = None
    status_id: int = statuses.IN_QUEUE
    result: RunResult | None = None
    created_at: dt.datetime = field(default_factory=now)
    finished_at: dt.datetime | None = None
    live_output: list[tuple[str, bytes]] = field(default_factory=list)
    listeners: set[Callable[[dict], None]] = field(default_factory=set)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_done(self) -> bool:
        return statuses.is_final(self.status_id)

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
        "status": lambda: statuses.status_json(record.status_id),
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
