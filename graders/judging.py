"""Verdicts: what a sandboxed run ended with, in the sandbox's terms and in Judge0's.

The sandbox measures (``Execution``: outputs, exit, signal, times, memory, why it was
killed); this module decides what that means (``judge``, ``compile_failure``) and how
Judge0 numbers it (``RunResult.judge0_status_id``, from ``graders.judge0.statuses``).
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass
from typing import Protocol

from graders.judge0 import statuses as judge0_statuses
from graders.limits import Limits


class RanOutOfMemory(Protocol):
    """What a verdict needs from a language (``graders.languages.Language``)."""

    def ran_out_of_memory(self, output: bytes) -> bool: ...


# --------------------------------------------------------------------------------------
# Statuses and results
# --------------------------------------------------------------------------------------
class Status(str, enum.Enum):
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    TIME_LIMIT_EXCEEDED = "time_limit_exceeded"
    MEMORY_LIMIT_EXCEEDED = "memory_limit_exceeded"
    RUNTIME_ERROR = "runtime_error"
    COMPILATION_ERROR = "compilation_error"
    INTERNAL_ERROR = "internal_error"


# Judge0 has no memory status: isolate reports the cgroup OOM kill as signal 9 ("Other").
_JUDGE0_STATUS_IDS = {
    Status.ACCEPTED: judge0_statuses.ACCEPTED,
    Status.WRONG_ANSWER: judge0_statuses.WRONG_ANSWER,
    Status.TIME_LIMIT_EXCEEDED: judge0_statuses.TIME_LIMIT_EXCEEDED,
    Status.COMPILATION_ERROR: judge0_statuses.COMPILATION_ERROR,
    Status.MEMORY_LIMIT_EXCEEDED: judge0_statuses.RUNTIME_ERROR_OTHER,
    Status.INTERNAL_ERROR: judge0_statuses.INTERNAL_ERROR,
}


@dataclass
class RunResult:
    """What a run ended with. Outputs are bytes; ``time`` is CPU seconds of all processes."""

    status: Status
    stdout: bytes = b""
    stderr: bytes = b""
    compile_output: bytes | None = None
    exit_code: int | None = None
    signal: str | None = None
    time: float | None = None
    wall_time: float | None = None
    memory: int | None = None
    message: str | None = None

    @property
    def exit_signal(self) -> int | None:
        return signal.Signals[self.signal].value if self.signal else None

    @property
    def judge0_status_id(self) -> int:
        if self.status is Status.RUNTIME_ERROR:
            return judge0_statuses.runtime_error_id(self.signal)
        return _JUDGE0_STATUS_IDS[self.status]

    @property
    def judge0_status(self) -> dict:
        return judge0_statuses.status_json(self.judge0_status_id)


# --------------------------------------------------------------------------------------
# Comparison (Judge0's rule)
# --------------------------------------------------------------------------------------
_RUBY_WHITESPACE = b" \t\n\v\f\r\x00"


def normalize_output(text: bytes | str) -> bytes:
    """Judge0 compares outputs with trailing whitespace of every line and of the whole
    text removed (``split("\\n").map(&:rstrip).join("\\n").rstrip``)."""
    data = text.encode() if isinstance(text, str) else text
    return b"\n".join(line.rstrip(_RUBY_WHITESPACE) for line in data.split(b"\n")).rstrip(
        _RUBY_WHITESPACE
    )


def outputs_match(expected: bytes | str, actual: bytes | str) -> bool:
    return normalize_output(expected) == normalize_output(actual)


# --------------------------------------------------------------------------------------
# Judging one execution
# --------------------------------------------------------------------------------------
@dataclass
class Execution:
    """The raw outcome of one sandboxed command, before any judging."""

    stdout: bytes
    stderr: bytes
    exit_code: int | None  # the program's exit status; None if it never started or we killed it
    signal: int | None  # the signal that ended the program, if one did
    cpu_time: float
    wall_time: float
    memory_kb: int
    oom_killed: bool
    killed_for: str | None  # "cpu", "wall" or "output" when the sandbox ended the run
    setup_error: str | None  # bubblewrap (or joining the cgroup) failed: nothing ran

    @property
    def output_exceeded(self) -> bool:
        return self.killed_for == "output"


def timed_out(execution: Execution, limits: Limits) -> str | None:
    if execution.killed_for == "wall" or execution.wall_time > limits.wall_time:
        return "Time limit exceeded (wall clock)"
    if (execution.killed_for == "cpu" or execution.cpu_time > limits.cpu_time
            or execution.signal == signal.SIGXCPU):
        return "Time limit exceeded"
    return None


def compile_failure(execution: Execution, limits: Limits) -> RunResult | None:
    """None when the compiler succeeded; otherwise the result to report."""
    measured = dict(time=round(execution.cpu_time, 3), wall_time=round(execution.wall_time, 3),
                    memory=execution.memory_kb)
    if execution.setup_error:
        return RunResult(Status.INTERNAL_ERROR, message=execution.setup_error, **measured)
    if timed_out(execution, limits):
        return RunResult(Status.COMPILATION_ERROR,
                         compile_output=b"Compilation time limit exceeded.", **measured)
    if execution.oom_killed:
        return RunResult(Status.COMPILATION_ERROR,
                         compile_output=b"Compilation memory limit exceeded.", **measured)
    if execution.killed_for == "output":
        return RunResult(Status.COMPILATION_ERROR, message="Compiler output limit exceeded",
                         **measured)
    if execution.exit_code != 0:
        return RunResult(Status.COMPILATION_ERROR, **measured)
    return None


def judge(execution: Execution, limits: Limits, language: RanOutOfMemory,
           expected_output: str | bytes | None) -> RunResult:
    result = RunResult(
        Status.ACCEPTED,
        stdout=execution.stdout,
        stderr=execution.stderr,
        exit_code=execution.exit_code,
        signal=signal.Signals(execution.signal).name if execution.signal else None,
        time=round(execution.cpu_time, 3),
        wall_time=round(execution.wall_time, 3),
        memory=execution.memory_kb,
    )
    if execution.setup_error:
        result.status, result.message = Status.INTERNAL_ERROR, execution.setup_error
    elif message := timed_out(execution, limits):
        result.status, result.message = Status.TIME_LIMIT_EXCEEDED, message
    elif execution.oom_killed or (
        # The JVM reports its heap running out on stdout, V8 and CPython on stderr.
        (execution.exit_code or execution.signal)
        and language.ran_out_of_memory(execution.stderr[-4096:] + execution.stdout[-4096:])
    ):
        result.status, result.message = Status.MEMORY_LIMIT_EXCEEDED, "Memory limit exceeded"
    elif execution.output_exceeded or execution.signal == signal.SIGXFSZ:
        result.status, result.signal = Status.RUNTIME_ERROR, "SIGXFSZ"
        result.message = ("Output limit exceeded" if execution.output_exceeded
                          else "File size limit exceeded")
    elif execution.signal:
        result.status = Status.RUNTIME_ERROR
        result.message = f"Caught fatal signal {execution.signal}"
    elif execution.exit_code:
        result.status = Status.RUNTIME_ERROR
        result.message = f"Exited with error status {execution.exit_code}"
    elif expected_output is not None and not outputs_match(expected_output, execution.stdout):
        result.status = Status.WRONG_ANSWER
    return result
