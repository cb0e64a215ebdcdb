"""The Judge0-compatible API's Tornado handlers and routes.

Endpoints (under an optional ``base_path``): ``GET /about``, ``/config_info``,
``/languages``, ``/languages/{id}``, ``/statuses``, ``POST /authenticate``,
``POST /submissions`` (``wait``, ``base64_encoded``, ``fields``),
``GET|DELETE /submissions/{token}``, ``POST /submissions/batch``,
``GET /submissions/batch?tokens=...``, and a WebSocket ``/submissions/{token}/stream``
that sends stdout/stderr chunks while the program runs and then the final result.

The ``X-Auth-Token`` header (or query parameter) when tokens are configured, or an
``authenticate`` hook. Deliberate differences from Judge0: a full queue answers ``429``
with ``Retry-After`` (Judge0 says 503); a submission compiles once and then runs
``number_of_runs`` times; Base64 output has no line breaks; memory is the peak of the
whole run's cgroup, in KB.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

import tornado.web
import tornado.websocket

from graders.judge0 import statuses
from graders.judge0.pool import QueueFull
from graders.judge0.schema import (
    DEFAULT_FIELDS,
    JUDGE0_VERSION,
    MAX_NUMBER_OF_RUNS,
    NOT_UTF8,
    ApiError,
    NotUtf8,
    SubmissionRecord,
    SubmissionRequest,
    bad_request,
    parse_fields,
    parse_submission,
    serialize,
)
from graders.judge0.service import Judge0Service
from graders.languages import UnknownLanguage, get_language, judge0_listing
from graders.limits import Limits


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
        record = self.service.find(token)
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
        self.send_json([statuses.status_json(i) for i in statuses.DESCRIPTIONS])


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
        record = self._submit([request], wait=wait)[0]
        if not wait:
            self.send_json({"token": record.token}, 201)
            return
        await record.finished.wait()
        self._submission_json(record, fields, 201)

    def _submit(self, requests: list[SubmissionRequest], wait: bool = False) -> list[SubmissionRecord]:
        try:
            return self.service.submit_many(requests, _owner_key(self.user), wait=wait)
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
    A client joining late first gets what was already printed; one connected to another
    process than the one running the submission gets the status and the result only.
    Browsers cannot set headers on WebSockets, so the auth token may come as a query
    parameter.
    """

    record: SubmissionRecord | None = None
    _follower: asyncio.Future | None = None

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
        self._send({"event": "status", "status": statuses.status_json(record.status_id)})
        for stream, chunk in record.live_output:
            self._send({"event": "output", "stream": stream, "chunk": chunk})
        if record.is_done:
            self._send({"event": "done"})
        elif self.service.is_live(record):
            record.listeners.add(self._send)
        else:  # it runs in another process: its output stays there, its result comes here
            self._follower = asyncio.ensure_future(self._follow(record))

    async def _follow(self, record: SubmissionRecord) -> None:
        self.record = await self.service.finished(record)
        self._send({"event": "done"})

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
        if self._follower is not None:
            self._follower.cancel()


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
