"""Code challenges: run with live output over a WebSocket, submit against every test."""
from __future__ import annotations

import asyncio
import json

from graders.judge0.pool import QueueFull
from tornado import websocket

from ...errors import InvalidInput, LMSError, NotAuthenticated
from ...services import challenges
from ..base import APIHandler, LMSHandlerMixin, requires_user
from .spec import ERROR, errors, response


class TooManyRuns(LMSError):
    status = 429
    code = "too_many_runs"


def _pool_and_sandbox(settings):
    service = settings["judge0"]
    return service.pool, service.sandbox


async def _in_pool(settings, owner: str, work):
    pool, _ = _pool_and_sandbox(settings)
    try:
        pool.reserve(1, owner)
    except QueueFull as exc:
        raise TooManyRuns(f"busy: retry in {exc.retry_after} s", retry_after=exc.retry_after) from None
    return await pool.run(work, owner)


class SubmissionsAPI(APIHandler):
    @requires_user
    def get(self, challenge_id: str):
        user = self.require_user()
        challenge = challenges.find_by_id(self.db, user, int(challenge_id))
        self.write_json({"submissions": [challenges.submission_view(s)
                                         for s in challenges.submissions_of(self.db, user, challenge)]})

    @requires_user
    async def post(self, challenge_id: str):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict):
            raise InvalidInput("send a JSON object with language_id and source")
        challenge = challenges.find_by_id(self.db, user, int(challenge_id))
        language_id = challenges.validate_code(body.get("language_id"), body.get("source"))
        source, cases, limits = body["source"], challenges.cases(challenge), challenges.limits_for(challenge)
        self.db.commit()  # no transaction held open while the code runs
        _, sandbox = _pool_and_sandbox(self.settings)
        try:
            failure, results = await _in_pool(
                self.settings, user.hub_name,
                lambda: sandbox.run_tests(source, language_id, [(c.stdin, c.expected) for c in cases], limits=limits))
        except TooManyRuns as exc:
            self.set_header("Retry-After", str(exc.details["retry_after"]))
            raise
        result = challenges.outcome(cases, failure, results)
        submission = challenges.record(self.db, user, challenge, language_id, source, result)
        self.db.commit()
        self.write_json(challenges.submission_view(submission), 201)


class RunSocket(LMSHandlerMixin, websocket.WebSocketHandler):
    """One run per connection: the client sends the code, output streams back live."""

    async def get(self, challenge_id: str):
        user = self.lms_user
        if user is None:
            raise NotAuthenticated("log in first")
        self.challenge = challenges.find_by_id(self.db, user, int(challenge_id))
        self.limits = challenges.limits_for(self.challenge)
        self.owner = user.hub_name
        self.db.commit()
        self.db.close()
        self._started = False
        await super().get(challenge_id)

    def on_message(self, message):
        # the run goes on in a task so that this handler keeps reading frames: a client
        # that closes (Stop, tab closed) ends the run at once instead of after its limits
        if self._started:
            return
        self._started = True
        self._run = asyncio.ensure_future(self._run_code(message))

    def on_close(self):
        run = getattr(self, "_run", None)
        if run is not None and not run.done():
            run.cancel()  # the sandbox kills the run's processes when its task is cancelled

    async def _run_code(self, message):
        try:
            body = json.loads(message)
            if not isinstance(body, dict):
                raise InvalidInput("send a JSON object")
            language_id = challenges.validate_code(body.get("language_id"), body.get("source"), body.get("stdin", ""))
        except (ValueError, LMSError) as exc:
            self._send({"type": "error", "message": getattr(exc, "message", None) or f"malformed message: {exc}"})
            self.close()
            return
        _, sandbox = _pool_and_sandbox(self.settings)

        def stream(name, chunk):
            self._send({"type": "output", "stream": name, "text": chunk.decode("utf-8", "replace")})

        try:
            result = await _in_pool(self.settings, self.owner, lambda: sandbox.run_async(
                body["source"], language_id, stdin=body.get("stdin", ""), limits=self.limits, on_output=stream))
        except TooManyRuns as exc:
            self._send({"type": "error", "message": exc.message})
        else:
            self._send({"type": "done", "status": result.judge0_status, "time": f"{result.time or 0:.3f}",
                        "memory": result.memory, "exit_code": result.exit_code, "message": result.message})
        self.close()

    def _send(self, message: dict) -> None:
        if self.ws_connection is not None and not self.ws_connection.is_closing():
            self.write_message(json.dumps(message))


default_handlers = [
    (r"api/v1/challenges/([0-9]{1,9})/submissions", SubmissionsAPI),
    (r"api/v1/challenges/([0-9]{1,9})/run", RunSocket),
]


# OpenAPI ---------------------------------------------------------------------------------

CHALLENGE = {"name": "challenge", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI_PATHS: dict = {
    "/challenges/{challenge}/submissions": {
        "get": {"summary": "My submissions to a code challenge", "security": [{"hubToken": []}],
                "parameters": [CHALLENGE],
                "responses": {"200": response("Submissions, newest first", {
                    "type": "object", "required": ["submissions"], "properties": {"submissions": {
                        "type": "array", "items": {"$ref": "#/components/schemas/ChallengeSubmission"}}}}),
                    **errors(401, 403, 404)}},
        "post": {"summary": "Submit code: compiled once, run against every test case",
                 "security": [{"hubToken": []}], "parameters": [CHALLENGE],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["language_id", "source"], "properties": {
                         "language_id": {"type": "integer", "enum": [50, 52, 62, 63, 71]},
                         "source": {"type": "string", "maxLength": 65536}}}}}},
                 "responses": {"201": response("Graded and stored", {"$ref": "#/components/schemas/ChallengeSubmission"}),
                               "429": response("Too many runs: retry after Retry-After seconds", ERROR),
                               **errors(400, 401, 403, 404, 413)}}},
    "/challenges/{challenge}/run": {"get": {
        "summary": "WebSocket: send {language_id, source, stdin}; receive output chunks live, then the status",
        "security": [{"hubToken": []}], "parameters": [CHALLENGE],
        "responses": {"101": response("Switching protocols to WebSocket"), **errors(401, 403, 404)}}},
}
OPENAPI_SCHEMAS: dict = {
    "ChallengeSubmission": {"type": "object", "required": ["id", "status", "passed", "total", "tests"],
                            "properties": {
                                "id": {"type": "integer"}, "language_id": {"type": "integer"},
                                "language_name": {"type": "string"},
                                "status": {"type": "string", "enum": ["passed", "failed", "compilation_error", "error"]},
                                "passed": {"type": "integer"}, "total": {"type": "integer"},
                                "score": {"type": "number"},
                                "compile_output": {"type": "string", "nullable": True},
                                "created_at": {"type": "string"},
                                "tests": {"type": "array", "items": {"type": "object", "properties": {
                                    "index": {"type": "integer"}, "hidden": {"type": "boolean"},
                                    "status": {"type": "string"}, "time": {"type": "string"},
                                    "memory": {"type": "integer"},
                                    "stdin": {"type": "string", "description": "public tests only"},
                                    "expected": {"type": "string", "description": "public tests only"},
                                    "stdout": {"type": "string", "description": "public tests only"}}}}}},
}
