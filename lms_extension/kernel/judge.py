"""``%%judge``: compile and run C++, Java, C, JavaScript or Python from a notebook cell.

In a student's kernel::

    %%judge cpp --stdin "3 4" --save my_solution
    #include <iostream>
    int main() { int a, b; std::cin >> a >> b; std::cout << a + b << "\\n"; }

submits the cell to the platform's Judge0-compatible API, prints the program's stdout and
stderr into the cell while it runs, then shows the final status (compile errors, runtime
errors with their signal, time and memory). ``--save NAME`` keeps the source in the
notebook's namespace, so graded test cells can run it again with other inputs::

    from lms_extension.kernel.judge import judge
    r = judge(my_solution, "cpp", stdin="10 20\\n")
    assert r.stdout == "30\\n"

Where the code runs (read from the environment at every call):

* ``LMS_JUDGE_LOCAL=1``: compiled and run here with ``subprocess`` in a temporary
  directory, with CPU, wall-clock, memory and output limits, using the commands of
  ``graders.languages``. This is for the notebook autograder, which executes the whole
  notebook inside the sandbox already (no network there).
* ``LMS_JUDGE0_URL`` (+ optional ``LMS_JUDGE0_AUTH_TOKEN``): a standalone Judge0-compatible
  server such as ``lms judge0``.
* ``LMS_SERVICE_URL`` + ``JUPYTERHUB_API_TOKEN`` (both set in every student server): the
  platform's API at ``{LMS_SERVICE_URL}api/judge0``, as the user (through
  :class:`lms_extension.kernel.client.LMSClient`, which sends the token nowhere else).

Both backends return the same :class:`JudgeResult`. Cells still holding nbgrader's
unanswered stub (``raise NotImplementedError()``) raise ``NotImplementedError`` without
being sent anywhere, as an unanswered Python exercise does.
"""
from __future__ import annotations

import argparse
import atexit
import base64
import codecs
import collections
import hashlib
import html
import json
import math
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .client import LMSClient, LMSError
from .judge0_tables import (ACCEPTED, COMPILATION_ERROR, DESCRIPTIONS, IN_QUEUE, INTERNAL_ERROR, LANGUAGE_ALIASES,
                            LANGUAGE_NAMES, MAX_CPU_SECONDS, MAX_MEMORY_KB, MAX_WALL_SECONDS, PROCESSING, PYTHON_ID,
                            RUNTIME_ERROR_NZEC, RUNTIME_ERROR_OTHER, SIGNAL_STATUS_IDS, TIME_LIMIT_EXCEEDED,
                            WRONG_ANSWER)

__all__ = ["JudgeError", "JudgeResult", "JudgeUnavailable", "NotAnswered", "judge",
           "load_ipython_extension"]

# --------------------------------------------------------------------------------------
# Languages and statuses (Judge0 CE ids)
# --------------------------------------------------------------------------------------
# The tables themselves are in judge0_tables, shared with graders.
DEFAULT_WALL_SECONDS = 10.0
MAX_MEMORY_MB = MAX_MEMORY_KB // 1024  # 500
OUTPUT_LIMIT_BYTES = 1024 * 1024  # per stream, Judge0's default max_file_size

# nbgrader's ClearSolutions puts the Python stub into every solution region of a Python
# notebook, also inside the C++ or Java of a %%judge cell.
NBGRADER_STUB_LINE = "raise NotImplementedError()"

OutputCallback = Callable[[str, bytes], object]
"""``on_output(stream, chunk)`` with ``stream`` "stdout", "stderr" or "compile_output"."""


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------
class _ShortTraceback:
    """IPython shows ``_render_traceback_()`` instead of a Python traceback: the student
    sees the judge's message, not this module's internals."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class JudgeError(_ShortTraceback, RuntimeError):
    """The judge could not be asked (network, authentication, refused request)."""


class JudgeUnavailable(JudgeError):
    """No judge is configured in this environment."""


class UnknownLanguage(_ShortTraceback, ValueError):
    pass


class NotAnswered(_ShortTraceback, NotImplementedError):
    """The cell still holds nbgrader's stub where the solution goes."""


class _SubmissionLost(JudgeError):
    pass


class JudgeFailed(JudgeError):
    """``%%judge`` ran the program and it did not succeed; renders the result."""

    def __init__(self, result: "JudgeResult", expected_output: str | None = None):
        super().__init__(f"{result.status} ({result.language})")
        self.result = result
        self.expected_output = expected_output

    def _render_traceback_(self) -> list[str]:
        header = f"\x1b[1;31m{self.result.status}\x1b[0m ({self.result.language})"
        return [header, *failure_details(self.result, self.expected_output)]


# --------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class JudgeResult:
    """What a run ended with, the same from either backend (Judge0's fields, decoded)."""

    language: str
    status: str  # Judge0's description: "Accepted", "Compilation Error", ...
    status_id: int
    stdout: str = ""
    stderr: str = ""
    compile_output: str = ""
    message: str = ""
    time: float | None = None  # CPU seconds
    memory: int | None = None  # peak, KB
    exit_code: int | None = None
    exit_signal: int | None = None
    token: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_id == ACCEPTED

    def __repr__(self) -> str:
        return (f"JudgeResult(status={self.status!r}, time={self.time!r}, memory={self.memory!r}, "
                f"stdout={_clip(self.stdout, 80)!r}, stderr={_clip(self.stderr, 80)!r}"
                + (f", compile_output={_clip(self.compile_output, 80)!r}" if self.compile_output else "")
                + ")")

    def __str__(self) -> str:
        """A readable report, for ``assert r.ok, r`` in test cells."""
        lines = [f"{self.status} ({self.language}){usage(self)}"]
        if not self.ok:
            lines += failure_details(self, None, include_usage=False)
        if self.stdout:
            lines += ["stdout:", _clip(self.stdout, 2000)]
        if self.stderr:
            lines += ["stderr:", _clip(self.stderr, 2000)]
        return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def usage(result: JudgeResult) -> str:
    parts = []
    if result.time is not None:
        parts.append(f"{result.time:.3f} s")
    if result.memory:
        parts.append(f"{result.memory / 1024:.1f} MB")
    return (" · " + " · ".join(parts)) if parts else ""


_SIGNAL_HINTS = {
    signal.SIGSEGV: "invalid memory access: an index out of bounds, a null or dangling "
                    "pointer, or recursion too deep for the stack",
    signal.SIGFPE: "arithmetic error, usually an integer division or modulo by zero",
    signal.SIGABRT: "the program aborted: an uncaught C++ exception (std::bad_alloc when out of "
                    "memory), a failed assert, or a corrupted heap",
    signal.SIGKILL: "killed, usually for using too much memory",
    signal.SIGXFSZ: "too much output",
}


def failure_details(result: JudgeResult, expected_output: str | None, *,
                    include_usage: bool = True) -> list[str]:
    """Lines explaining an unsuccessful run (without its status line)."""
    lines: list[str] = []
    if result.status_id == COMPILATION_ERROR:
        lines += (result.compile_output or result.message or "(no compiler output)").rstrip().splitlines()
        if result.language == "Java" and "should be declared in a file named" in result.compile_output:
            lines.append("Hint: the public class must be called Main (it is compiled as Main.java).")
        return lines
    if result.status_id == TIME_LIMIT_EXCEEDED:
        lines.append(f"{result.message or 'Time limit exceeded'}: look for an endless loop, or an "
                     "algorithm slower than the exercise needs.")
    elif result.status_id == WRONG_ANSWER:
        lines += _answer_difference(expected_output, result.stdout)
    elif result.status_id == INTERNAL_ERROR:
        lines.append(f"The judge failed: {result.message or 'internal error'}. Run the cell again; "
                     "if it keeps failing, tell the course staff.")
    elif result.message == "Memory limit exceeded":
        lines.append("Memory limit exceeded: the program needed more memory than it may use "
                     "(%%judge --memory MB raises the limit).")
    else:  # runtime errors
        if result.exit_signal:
            try:
                name = signal.Signals(result.exit_signal).name
                hint = _SIGNAL_HINTS.get(signal.Signals(result.exit_signal))
            except ValueError:
                name, hint = str(result.exit_signal), None
            lines.append(f"Killed by signal {result.exit_signal} ({name})" + (f": {hint}." if hint else "."))
        elif result.exit_code:
            lines.append(f"Exited with status {result.exit_code}"
                         + (" (an uncaught exception: see the error output above)."
                            if result.stderr else "."))
        if result.message and "signal" not in result.message and "status" not in result.message:
            lines.append(result.message)
    if include_usage and usage(result):
        lines.append("used" + usage(result).replace(" · ", " ", 1))
    return lines


def _answer_difference(expected: str | None, actual: str) -> list[str]:
    if expected is None:
        return ["The output differs from the expected output."]
    want, got = expected.rstrip().split("\n"), actual.rstrip().split("\n")
    for number, (w, g) in enumerate(zip(want, got), start=1):
        if w.rstrip() != g.rstrip():
            return [f"line {number}: expected {w!r}, got {g!r}"]
    if len(want) > len(got):
        return [f"the output stops after {len(got)} lines; expected line {len(got) + 1}: "
                f"{want[len(got)]!r}"]
    return [f"expected {len(want)} lines, got {len(got)}; extra line: {got[len(want)]!r}"]


# --------------------------------------------------------------------------------------
# Submissions and backends
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    source: str
    language_id: int
    stdin: bytes = b""
    expected_output: str | None = None
    cpu_time_limit: float | None = None  # seconds; None: the judge's default
    wall_time_limit: float | None = None
    memory_limit: int | None = None  # KB

    @property
    def language(self) -> str:
        return LANGUAGE_NAMES.get(self.language_id, str(self.language_id))


class Backend(Protocol):
    def run(self, submission: Submission, on_output: OutputCallback | None) -> JudgeResult: ...


def _decode(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data else ""


# --- HTTP: the Judge0-compatible API ---------------------------------------------------
FINAL_FIELDS = ("token,status,stdout,stderr,compile_output,message,time,memory,"
                "exit_code,exit_signal")
BASE64_FIELDS = ("stdout", "stderr", "compile_output", "message")


class HttpBackend:
    """Submits to a Judge0 CE-compatible API, streams output over its WebSocket
    (``/submissions/{token}/stream``) and falls back to polling when that fails."""

    def __init__(self, base_url: str, headers: Mapping[str, str] | None = None, *,
                 timeout: float = 180.0, use_stream: bool = True, auth_hint: str = ""):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.auth_hint = auth_hint  # what to do about a 401, where the token comes from
        self.timeout = timeout
        self.use_stream = use_stream
        # no proxy, no redirect elsewhere: the token reaches the judge and nothing else
        self.client = LMSClient(self.base_url, headers=self.headers)

    def run(self, submission: Submission, on_output: OutputCallback | None) -> JudgeResult:
        deadline = time.monotonic() + self.timeout
        token = self._submit(submission, deadline)
        streamed = {"stdout": bytearray(), "stderr": bytearray()}

        def forward(stream: str, chunk: bytes) -> None:
            if stream in streamed:
                streamed[stream] += chunk
            if on_output is not None:
                on_output(stream, chunk)

        if self.use_stream:
            self._stream(token, forward, deadline)
        try:
            final = self._wait(token, deadline)
        except _SubmissionLost:
            # Another replica of the service answered and does not know the submission
            # (they keep them in memory): run it again in one request, which one replica
            # serves from start to end.
            final = self._run_in_one_request(submission, deadline)
        outputs = {name: base64.b64decode(final.get(name) or "") for name in BASE64_FIELDS}
        if on_output is not None:
            # A client that connected late (or polled) gets the rest from the final result.
            for stream, seen in streamed.items():
                if outputs[stream].startswith(seen) and len(outputs[stream]) > len(seen):
                    on_output(stream, outputs[stream][len(seen):])
        status = final.get("status") or {}
        return JudgeResult(
            language=submission.language,
            status=status.get("description") or DESCRIPTIONS.get(status.get("id"), "?"),
            status_id=int(status.get("id") or INTERNAL_ERROR),
            stdout=_decode(outputs["stdout"]),
            stderr=_decode(outputs["stderr"]),
            compile_output=_decode(outputs["compile_output"]),
            message=_decode(outputs["message"]),
            time=float(final["time"]) if final.get("time") is not None else None,
            memory=final.get("memory"),
            exit_code=final.get("exit_code"),
            exit_signal=final.get("exit_signal"),
            token=token,
        )

    # -- HTTP ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, query: Mapping[str, str] | None = None,
                 body: object = None, timeout: float = 30.0) -> object:
        try:
            return self.client.call(method, path, body, params=query, timeout=timeout)
        except LMSError as exc:
            if exc.status is None:
                raise JudgeError(f"cannot reach the judge at {self.base_url}: {exc.reason}") from None
            raise

    def _submit(self, submission: Submission, deadline: float) -> str:
        answer = self._post(submission, deadline, {"base64_encoded": "true"})
        if not answer.get("token"):
            raise JudgeError(f"the judge answered without a token: {answer}")
        return answer["token"]

    def _run_in_one_request(self, submission: Submission, deadline: float) -> dict:
        return self._post(submission, deadline,
                          {"base64_encoded": "true", "wait": "true", "fields": FINAL_FIELDS},
                          timeout=max(1.0, deadline - time.monotonic()))

    def _post(self, submission: Submission, deadline: float, query: Mapping[str, str],
              timeout: float = 30.0) -> dict:
        body: dict[str, object] = {
            "language_id": submission.language_id,
            "source_code": _b64(submission.source.encode()),
            "stdin": _b64(submission.stdin),
        }
        if submission.expected_output is not None:
            body["expected_output"] = _b64(submission.expected_output.encode())
        for name, value in (("cpu_time_limit", submission.cpu_time_limit),
                            ("wall_time_limit", submission.wall_time_limit),
                            ("memory_limit", submission.memory_limit)):
            if value is not None:
                body[name] = value
        while True:
            try:
                answer = self._request("POST", "submissions", query, body, timeout)
            except LMSError as exc:
                if exc.status in (429, 503) and time.monotonic() < deadline:
                    # the judge is busy: wait as long as it asks (Retry-After), a little at a time
                    time.sleep(min(5.0, float(exc.retry_after or 1)))
                    continue
                raise self._refused(exc) from None
            if isinstance(answer, dict):
                return answer
            raise JudgeError(f"the judge answered something else than a submission: {answer!r}"[:300])

    def _refused(self, refusal: LMSError) -> JudgeError:
        status, answer = refusal.status, refusal.body
        if status == 401:
            return JudgeError(f"the judge at {self.base_url} refused the credentials (401)"
                              + (f": {self.auth_hint}" if self.auth_hint else ""))
        if status == 404:
            return _SubmissionLost("the judge does not know this submission (404)")
        if status == 413:
            return JudgeError("the submission is too large for the judge (413): make the input "
                              "(--stdin) or the source smaller")
        if status == 422 and isinstance(answer, dict):
            problems = "; ".join(f"{field} {', '.join(map(str, messages))}"
                                 for field, messages in answer.items())
            return JudgeError(f"the judge refused the submission: {problems}")
        return JudgeError(f"the judge answered {status}: {refusal.message}")

    def _get(self, token: str) -> dict:
        try:
            answer = self._request("GET", f"submissions/{urllib.parse.quote(token)}",
                                   {"base64_encoded": "true", "fields": FINAL_FIELDS})
        except LMSError as exc:
            raise self._refused(exc) from None
        if not isinstance(answer, dict):
            raise JudgeError(f"the judge answered something else than a submission: {answer!r}"[:300])
        return answer

    def _wait(self, token: str, deadline: float) -> dict:
        pause = 0.1
        while True:
            answer = self._get(token)
            if (answer.get("status") or {}).get("id") not in (IN_QUEUE, PROCESSING):
                return answer
            if time.monotonic() > deadline:
                raise JudgeError(f"no result from the judge after {self.timeout:.0f} s")
            time.sleep(pause)
            pause = min(1.0, pause * 1.5)

    # -- WebSocket ----------------------------------------------------------------------
    def _stream(self, token: str, forward: OutputCallback, deadline: float) -> None:
        """Forward output events until the run is done; any failure just ends streaming
        (the caller polls for the result)."""
        try:
            import websocket  # websocket-client, a dependency of jupyter_server
        except ImportError:
            return
        url = re.sub(r"^http", "ws", self.base_url) + \
            f"/submissions/{urllib.parse.quote(token)}/stream?base64_encoded=true"
        try:
            connection = websocket.create_connection(
                url, header=[f"{k}: {v}" for k, v in self.headers.items()],
                timeout=max(1.0, min(30.0, deadline - time.monotonic())), http_no_proxy=["*"],
                redirect_limit=0)  # a redirect would carry the token to wherever it points
        except Exception:  # refused upgrade, proxy without WebSocket support, ...
            return
        try:
            while time.monotonic() < deadline:
                message = connection.recv()
                if not message:
                    return
                event = json.loads(message)
                if event.get("event") == "output":
                    forward(event.get("stream", "stdout"), base64.b64decode(event.get("data") or ""))
                elif event.get("event") == "done":
                    return
        except (websocket.WebSocketException, OSError, ValueError):
            return
        finally:
            connection.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- Local: subprocess inside an existing sandbox ---------------------------------------
@dataclass
class _Execution:
    stdout: bytes
    stderr: bytes
    exit_code: int | None
    signal: int | None
    cpu_time: float
    wall_time: float
    memory_kb: int | None  # peak while it ran, sampled; None if it ended before a sample
    killed_for: str | None  # "wall" or "output"


@dataclass(frozen=True)
class _Build:
    directory: Path
    failed: bool
    compile_output: str
    message: str = ""


class LocalBackend:
    """Compiles and runs with ``graders.languages``' commands in temporary directories.

    No isolation of its own: it is meant for a process that is sandboxed already (the
    notebook autograder). Limits are rlimits (CPU time, address space for programs
    without their own heap flag, stack), a wall-clock deadline and an output cap.
    Successful and failed compilations are cached by source, so test cells that run one
    solution on many inputs compile it once.
    """

    def __init__(self, cache_entries: int = 16, output_limit: int = OUTPUT_LIMIT_BYTES):
        self.cache_entries = cache_entries
        self.output_limit = output_limit
        self._builds: collections.OrderedDict[str, _Build] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._root: Path | None = None

    def run(self, submission: Submission, on_output: OutputCallback | None) -> JudgeResult:
        from graders.judging import outputs_match
        from graders.languages import get_language
        from graders.limits import Limits

        language = get_language(submission.language_id)
        defaults = Limits()
        limits = Limits(
            cpu_time=submission.cpu_time_limit or defaults.cpu_time,
            wall_time=submission.wall_time_limit or defaults.wall_time,
            memory=submission.memory_limit or defaults.memory,
        )
        result = _result_factory(submission)
        with self._lock:
            build = self._build(language, submission.source) if language.compile_cmd else None
        if build is not None and build.failed:
            return result(COMPILATION_ERROR, compile_output=build.compile_output,
                          message=build.message)
        with tempfile.TemporaryDirectory(prefix="lms-judge-run-", ignore_cleanup_errors=True) as box:
            if build is not None:
                shutil.copytree(build.directory, box, dirs_exist_ok=True)
            else:
                Path(box, language.source_file).write_text(submission.source)
            argv = language.run_command(limits, [])
            execution = _execute(
                argv, Path(box), stdin=submission.stdin,
                program=os.path.realpath(os.path.join(box, argv[0])),
                cpu_seconds=limits.cpu_time + limits.cpu_extra_time,
                wall_seconds=limits.wall_time,
                # runtimes with their own heap limit (JVM, V8) reserve far more address
                # space than they use: only cap the others' address space
                memory_kb=None if language.memory_options else int(limits.memory),
                stack_kb=int(limits.stack), output_limit=self.output_limit, on_output=on_output)
        compile_output = build.compile_output if build is not None else ""
        measured = dict(stdout=_decode(execution.stdout), stderr=_decode(execution.stderr),
                        compile_output=compile_output, time=round(execution.cpu_time, 3),
                        memory=execution.memory_kb, exit_code=execution.exit_code,
                        exit_signal=execution.signal)
        tail = execution.stderr[-4096:] + execution.stdout[-4096:]
        if execution.killed_for == "wall" or execution.wall_time > limits.wall_time:
            return result(TIME_LIMIT_EXCEEDED, message="Time limit exceeded (wall clock)", **measured)
        if execution.cpu_time > limits.cpu_time or execution.signal == signal.SIGXCPU:
            return result(TIME_LIMIT_EXCEEDED, message="Time limit exceeded", **measured)
        if (execution.exit_code or execution.signal) and (
                language.ran_out_of_memory(tail)
                # C and C++ under the address-space limit: allocation fails instead of a kill
                or (language.compile_cmd and b"std::bad_alloc" in tail)):
            return result(RUNTIME_ERROR_OTHER, message="Memory limit exceeded", **measured)
        if execution.killed_for == "output" or execution.signal == signal.SIGXFSZ:
            return result(SIGNAL_STATUS_IDS["SIGXFSZ"], message="Output limit exceeded",
                          **{**measured, "exit_signal": signal.SIGXFSZ.value})
        if execution.signal:
            name = signal.Signals(execution.signal).name
            return result(SIGNAL_STATUS_IDS.get(name, RUNTIME_ERROR_OTHER),
                          message=f"Caught fatal signal {execution.signal}", **measured)
        if execution.exit_code:
            return result(RUNTIME_ERROR_NZEC, message=f"Exited with error status {execution.exit_code}",
                          **measured)
        if submission.expected_output is not None and not outputs_match(
                submission.expected_output, execution.stdout):
            return result(WRONG_ANSWER, **measured)
        return result(ACCEPTED, **measured)

    def _build(self, language, source: str) -> _Build:
        from graders.limits import Limits

        key = hashlib.sha256(f"{language.id}\0{source}".encode()).hexdigest()
        if key in self._builds:
            self._builds.move_to_end(key)
            return self._builds[key]
        directory = self._cache_root() / key
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        (directory / language.source_file).write_text(source)
        compile_limits = Limits.for_compilation()
        compiled = _execute(language.compile_command([]), directory, stdin=b"",
                            cpu_seconds=compile_limits.cpu_time,
                            wall_seconds=compile_limits.wall_time,
                            memory_kb=None, stack_kb=None, output_limit=self.output_limit,
                            on_output=None, merge_stderr=True)
        output = _decode(compiled.stdout)
        if compiled.killed_for == "wall" or compiled.cpu_time > compile_limits.cpu_time:
            build = _Build(directory, True, "Compilation time limit exceeded.")
        elif compiled.killed_for == "output":
            build = _Build(directory, True, output, "Compiler output limit exceeded")
        else:
            build = _Build(directory, compiled.exit_code != 0 or compiled.signal is not None, output)
        self._builds[key] = build
        while len(self._builds) > self.cache_entries:
            _, evicted = self._builds.popitem(last=False)
            shutil.rmtree(evicted.directory, ignore_errors=True)
        return build

    def _cache_root(self) -> Path:
        if self._root is None or not self._root.is_dir():
            self._root = Path(tempfile.mkdtemp(prefix="lms-judge-builds-"))
            atexit.register(shutil.rmtree, self._root, True)
        return self._root


def _result_factory(submission: Submission) -> Callable[..., JudgeResult]:
    def result(status_id: int, **fields) -> JudgeResult:
        return JudgeResult(language=submission.language, status=DESCRIPTIONS[status_id],
                           status_id=status_id, **fields)
    return result


_CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"


def _execute(argv: list[str], cwd: Path, *, stdin: bytes, cpu_seconds: float,
             wall_seconds: float, memory_kb: int | None, stack_kb: int | None,
             output_limit: int, on_output: OutputCallback | None,
             merge_stderr: bool = False, program: str | None = None) -> _Execution:
    """Run ``argv`` in ``cwd`` under soft rlimits set by ``sh`` (no preexec_fn: the
    kernel has threads), forwarding output chunks from this thread as they arrive.

    Peak memory is sampled from ``/proc/PID/status`` (VmHWM) once the process runs
    ``program``: the rusage of a child forked from this process counts this process's
    own peak from before the exec, which would swamp a small program's."""
    limits = ["-c 0", f"-t {max(1, math.ceil(cpu_seconds))}"]
    if memory_kb:
        limits.append(f"-v {memory_kb}")
    if stack_kb:
        limits.append(f"-s {stack_kb}")
    # soft limits only, each on its own: one the outer sandbox forbids must not stop the run
    script = "".join(f"ulimit -S {limit} 2>/dev/null; " for limit in limits) + 'exec "$@"'
    started = time.monotonic()
    process = subprocess.Popen(
        ["/bin/sh", "-c", script, "judge", *argv], cwd=cwd, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        start_new_session=True, close_fds=True,
        env={"PATH": _CHILD_PATH, "LANG": "C.UTF-8", "HOME": str(cwd), "TMPDIR": str(cwd)})
    chunks: queue.Queue[tuple[str, bytes | None]] = queue.Queue()
    pipes = {"stdout": process.stdout} if merge_stderr else {"stdout": process.stdout,
                                                             "stderr": process.stderr}
    for name, pipe in pipes.items():
        threading.Thread(target=_pump, args=(name, pipe, chunks), daemon=True).start()
    threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True).start()

    collected = {name: bytearray() for name in pipes}
    open_pipes = set(pipes)
    wait_status = rusage = None
    exited_at = 0.0
    killed_for = None
    peak_kb = 0
    try:
        while open_pipes or wait_status is None:
            if program is not None and wait_status is None:
                peak_kb = max(peak_kb, _peak_memory_kb(process.pid, program))
            try:
                # short programs are common: look at them often at first
                name, chunk = chunks.get(timeout=0.001 if time.monotonic() - started < 0.2 else 0.01)
            except queue.Empty:
                pass
            else:
                if chunk is None:
                    open_pipes.discard(name)
                elif killed_for != "output":
                    room = output_limit - len(collected[name])
                    collected[name] += chunk[:room]
                    if on_output is not None and room > 0:
                        on_output(name, chunk[:room])
                    if len(chunk) > room:
                        killed_for = "output"
                        _kill_group(process.pid)
            if wait_status is None:
                pid, status, usage_now = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    wait_status, rusage, exited_at = status, usage_now, time.monotonic()
            now = time.monotonic()
            if wait_status is None and now - started > wall_seconds:
                killed_for = killed_for or "wall"
                _kill_group(process.pid)
                _, wait_status, rusage = os.wait4(process.pid, 0)
                exited_at = time.monotonic()
            elif wait_status is not None and open_pipes and now - exited_at > 0.5:
                _kill_group(process.pid)  # a leftover child still holds the pipes
                if now - exited_at > 2:
                    break  # it left the process group: stop waiting for its output
    except BaseException:  # KeyboardInterrupt (kernel interrupt) included
        _kill_group(process.pid)
        if wait_status is None:
            os.wait4(process.pid, 0)
        process.returncode = -1
        raise
    # The pipes are closed by the threads that use them (after EOF): closing one under a
    # blocked reader would let its next read hit whatever file reuses the descriptor.
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    signaled = os.WIFSIGNALED(wait_status)
    return _Execution(
        stdout=bytes(collected["stdout"]), stderr=bytes(collected.get("stderr", b"")),
        exit_code=None if signaled else os.WEXITSTATUS(wait_status),
        signal=os.WTERMSIG(wait_status) if signaled else None,
        cpu_time=rusage.ru_utime + rusage.ru_stime, wall_time=exited_at - started,
        memory_kb=peak_kb or None, killed_for=killed_for)


def _peak_memory_kb(pid: int, program: str) -> int:
    try:
        if os.readlink(f"/proc/{pid}/exe") != program:
            return 0  # still this process's copy, or the shell, before the exec
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):  # it just ended
        pass
    return 0


def _pump(name: str, pipe, chunks: queue.Queue) -> None:
    fd = pipe.fileno()
    try:
        while chunk := os.read(fd, 65536):
            chunks.put((name, chunk))
    except (OSError, ValueError):
        pass
    finally:
        pipe.close()
    chunks.put((name, None))


def _feed(pipe, data: bytes) -> None:
    try:
        if data:
            pipe.write(data)
        pipe.close()
    except (OSError, ValueError):  # the program exited without reading everything
        pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------------------
# Choosing the backend, the Python API
# --------------------------------------------------------------------------------------
_local_backend: LocalBackend | None = None
_local_lock = threading.Lock()


def backend_from_environment(environ: Mapping[str, str] | None = None) -> Backend:
    """The backend this process should use (see the module docstring)."""
    global _local_backend
    env = os.environ if environ is None else environ
    if env.get("LMS_JUDGE_LOCAL", "").strip().lower() in ("1", "true", "yes", "on"):
        with _local_lock:
            if _local_backend is None:
                _local_backend = LocalBackend()
            return _local_backend
    if env.get("LMS_JUDGE0_URL"):
        token = env.get("LMS_JUDGE0_AUTH_TOKEN")
        return HttpBackend(env["LMS_JUDGE0_URL"], {"X-Auth-Token": token} if token else {})
    service, token = env.get("LMS_SERVICE_URL"), env.get("JUPYTERHUB_API_TOKEN")
    if service and token:
        return HttpBackend(service.rstrip("/") + "/api/judge0", {"Authorization": f"token {token}"},
                           auth_hint="restart your server from the hub's home page")
    raise JudgeUnavailable(
        "no judge is configured here: in a student's server LMS_SERVICE_URL and "
        "JUPYTERHUB_API_TOKEN are set; elsewhere set LMS_JUDGE0_URL to a Judge0-compatible "
        "server (lms judge0), or LMS_JUDGE_LOCAL=1 to compile and run in this process "
        "(only inside a sandbox)")


def language_id(language: str | int) -> int:
    """Judge0 id for a name (cpp, c++, java, c, javascript, js, python) or an id."""
    if isinstance(language, int) and not isinstance(language, bool) and language in LANGUAGE_NAMES:
        return language
    if isinstance(language, str):
        key = language.strip().lower()
        if key in LANGUAGE_ALIASES:
            return LANGUAGE_ALIASES[key]
        if key.isdigit() and int(key) in LANGUAGE_NAMES:
            return int(key)
    raise UnknownLanguage(f"unknown language {language!r}: use one of "
                          + ", ".join(LANGUAGE_ALIASES))


def is_unanswered(source: str, language: int) -> bool:
    """Whether the source still holds nbgrader's stub (in Python it is real code)."""
    return language != PYTHON_ID and any(
        line.strip() == NBGRADER_STUB_LINE for line in source.splitlines())


def judge(source: str, language: str | int, stdin: str | bytes = "", *,
          expected_output: str | None = None, time_limit: float | None = None,
          memory_limit: int | None = None, on_output: Callable[[str, str], object] | None = None,
          backend: Backend | None = None) -> JudgeResult:
    """Compile and run ``source``; return its :class:`JudgeResult`.

    ``language``: cpp/c++, java, c, javascript/js, python (or a Judge0 id).
    ``stdin``: the program's input. ``expected_output``: judged as Judge0 does (trailing
    whitespace ignored; a mismatch is "Wrong Answer"). ``time_limit``: CPU seconds (at
    most 15). ``memory_limit``: MB (at most 500). ``on_output(stream, text)`` receives
    stdout/stderr/compile_output text while the program runs.
    """
    lang = language_id(language)
    if not isinstance(source, str) or not source.strip():
        raise ValueError("source must be a non-empty string of code")
    if is_unanswered(source, lang):
        raise NotAnswered(f"this exercise is not answered yet: replace the lines "
                          f"'# YOUR CODE HERE' and '{NBGRADER_STUB_LINE}' with your "
                          f"{LANGUAGE_NAMES[lang]} code")
    wall = None
    if time_limit is not None:
        if not 0 < time_limit <= MAX_CPU_SECONDS:
            raise ValueError(f"time_limit must be between 0 and {MAX_CPU_SECONDS:g} seconds")
        wall = min(MAX_WALL_SECONDS, max(DEFAULT_WALL_SECONDS, 2 * time_limit))
    if memory_limit is not None and not 0 < memory_limit <= MAX_MEMORY_MB:
        raise ValueError(f"memory_limit must be between 1 and {MAX_MEMORY_MB} MB")
    submission = Submission(
        source=source, language_id=lang,
        stdin=stdin.encode() if isinstance(stdin, str) else bytes(stdin or b""),
        expected_output=expected_output, cpu_time_limit=time_limit, wall_time_limit=wall,
        memory_limit=int(memory_limit * 1024) if memory_limit is not None else None)
    backend = backend or backend_from_environment()
    if on_output is None:
        return backend.run(submission, None)
    text = _TextStreams(on_output)
    result = backend.run(submission, text.feed)
    text.flush()
    return result


class _TextStreams:
    """Decodes each stream's chunks as UTF-8 without splitting characters between them."""

    def __init__(self, on_output: Callable[[str, str], object]):
        self.on_output = on_output
        self.decoders: dict[str, codecs.IncrementalDecoder] = {}

    def feed(self, stream: str, chunk: bytes) -> None:
        decoder = self.decoders.setdefault(
            stream, codecs.getincrementaldecoder("utf-8")(errors="replace"))
        text = decoder.decode(chunk)
        if text:
            self.on_output(stream, text)

    def flush(self) -> None:
        for stream, decoder in self.decoders.items():
            text = decoder.decode(b"", final=True)
            if text:
                self.on_output(stream, text)


# --------------------------------------------------------------------------------------
# The cell magic
# --------------------------------------------------------------------------------------
class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit the kernel's process
        from IPython.core.error import UsageError

        raise UsageError(f"%%judge: {message}\n{self.format_usage().strip()}")


def magic_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="%%judge", add_help=False,
                             description="Compile and run the cell with the platform's judge.")
    parser.add_argument("language", help="cpp (or c++), java, c, javascript (or js), python")
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--stdin", metavar="TEXT", help=r"the program's input (\n for a new line)")
    given.add_argument("--stdin-var", metavar="NAME",
                       help="take the input from this variable of the notebook")
    parser.add_argument("--save", metavar="NAME",
                        help="store the cell's source in this notebook variable")
    parser.add_argument("--time", metavar="S", type=float, help="CPU time limit in seconds")
    parser.add_argument("--memory", metavar="MB", type=int, help="memory limit in MB")
    parser.add_argument("--expect", metavar="TEXT",
                        help="the expected output; a different one is a Wrong Answer")
    return parser


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def unescape(text: str) -> str:
    r"""``\n``, ``\t`` and ``\\`` in magic arguments, as in ``echo -e``."""
    return re.sub(r"\\([nt\\])", lambda match: _ESCAPES[match.group(1)], text)


@dataclass(frozen=True)
class MagicArguments:
    language_id: int
    stdin: str | bytes
    save: str | None
    time_limit: float | None
    memory_limit: int | None
    expected_output: str | None


def parse_magic_line(line: str, namespace: Mapping[str, object]) -> MagicArguments:
    """The ``%%judge`` line, validated; IPython's UsageError for anything wrong."""
    from IPython.core.error import UsageError

    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%%judge: {exc} in {line!r}") from None
    args = magic_parser().parse_args(words)
    try:
        lang = language_id(args.language)
    except UnknownLanguage as exc:
        raise UsageError(f"%%judge: {exc}") from None
    stdin: str | bytes = ""
    if args.stdin is not None:
        stdin = unescape(args.stdin)
    elif args.stdin_var is not None:
        if args.stdin_var not in namespace:
            raise UsageError(f"%%judge: --stdin-var {args.stdin_var}: no such variable "
                             "(run the cell that defines it first)")
        stdin = namespace[args.stdin_var]
        if not isinstance(stdin, (str, bytes)):
            raise UsageError(f"%%judge: --stdin-var {args.stdin_var} must be a str or bytes, "
                             f"not {type(stdin).__name__}")
    if args.save is not None and not args.save.isidentifier():
        raise UsageError(f"%%judge: --save {args.save!r} is not a valid variable name")
    if args.time is not None and not 0 < args.time <= MAX_CPU_SECONDS:
        raise UsageError(f"%%judge: --time must be between 0 and {MAX_CPU_SECONDS:g} seconds")
    if args.memory is not None and not 0 < args.memory <= MAX_MEMORY_MB:
        raise UsageError(f"%%judge: --memory must be between 1 and {MAX_MEMORY_MB} MB")
    return MagicArguments(
        language_id=lang, stdin=stdin, save=args.save, time_limit=args.time,
        memory_limit=args.memory,
        expected_output=unescape(args.expect) if args.expect is not None else None)


def _live_printer(stream: str, text: str) -> None:
    import sys

    if stream == "compile_output":
        return  # shown once the compiler is done, with the status
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


def _show_success(result: JudgeResult) -> None:
    from IPython.display import display

    plain = f"✔ {result.status} ({result.language}){usage(result)}"
    compiler = result.compile_output.strip()
    if compiler:
        plain += "\ncompiler output:\n" + compiler
    markup = (f'<div class="lms-judge-status" style="color:#1a7f37;font-size:0.9em">'
              f"&#10004; {html.escape(result.status)} ({html.escape(result.language)})"
              f"{html.escape(usage(result))}</div>")
    if compiler:
        markup += f"<pre>{html.escape(compiler)}</pre>"
    display({"text/plain": plain, "text/html": markup}, raw=True)


def _magics_class():
    from IPython.core.error import UsageError
    from IPython.core.magic import Magics, cell_magic, magics_class, no_var_expand

    @magics_class
    class JudgeMagics(Magics):
        @no_var_expand
        @cell_magic
        def judge(self, line: str, cell: str) -> None:
            """Compile and run this cell as C++, Java, C, JavaScript or Python.

            %%judge LANG [--stdin TEXT | --stdin-var NAME] [--save NAME] [--time S]
                         [--memory MB] [--expect TEXT]

            LANG is cpp (or c++), java, c, javascript (or js) or python. The program's
            output appears while it runs, then its status. --save NAME keeps the cell's
            source in the variable NAME, for test cells that call
            ``lms_extension.kernel.judge.judge(NAME, LANG, stdin=...)``. --time is CPU
            seconds (default 5, at most 15), --memory MB (default 125, at most 500).
            In --stdin and --expect, \\n is a new line. Java code needs a class Main.
            """
            args = parse_magic_line(line, self.shell.user_ns)
            if not cell.strip():
                raise UsageError("%%judge: the cell is empty: write the program below the %%judge line")
            if args.save:
                self.shell.user_ns[args.save] = cell
            result = judge(cell, args.language_id, args.stdin,
                           expected_output=args.expected_output, time_limit=args.time_limit,
                           memory_limit=args.memory_limit, on_output=_live_printer)
            if not result.ok:
                raise JudgeFailed(result, args.expected_output)
            _show_success(result)

    return JudgeMagics


def load_ipython_extension(ipython) -> None:
    """``%load_ext lms_extension.kernel.judge`` (done for every kernel by the config in
    ``lms_extension/labserver/etc/ipython``)."""
    ipython.register_magics(_magics_class())
