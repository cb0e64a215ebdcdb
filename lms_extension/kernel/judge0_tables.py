"""Judge0 CE's tables: submission statuses, the languages the platform runs, the maxima.

The one copy, used by the sandbox's verdicts (``graders.judging``), the Judge0-compatible
API (``graders.judge0.statuses`` re-exports the statuses), the limits (``graders.limits``)
and the ``%%judge`` magic. It lives beside the magic because a student's server sees
``lms_extension`` and not ``graders``; it imports nothing, so the grading runner's sandbox
and a student's kernel can load it on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

IN_QUEUE = 1
PROCESSING = 2
ACCEPTED = 3
WRONG_ANSWER = 4
TIME_LIMIT_EXCEEDED = 5
COMPILATION_ERROR = 6
RUNTIME_ERROR_NZEC = 11
RUNTIME_ERROR_OTHER = 12
INTERNAL_ERROR = 13
EXEC_FORMAT_ERROR = 14

DESCRIPTIONS: Mapping[int, str] = {
    IN_QUEUE: "In Queue",
    PROCESSING: "Processing",
    ACCEPTED: "Accepted",
    WRONG_ANSWER: "Wrong Answer",
    TIME_LIMIT_EXCEEDED: "Time Limit Exceeded",
    COMPILATION_ERROR: "Compilation Error",
    7: "Runtime Error (SIGSEGV)",
    8: "Runtime Error (SIGXFSZ)",
    9: "Runtime Error (SIGFPE)",
    10: "Runtime Error (SIGABRT)",
    RUNTIME_ERROR_NZEC: "Runtime Error (NZEC)",
    RUNTIME_ERROR_OTHER: "Runtime Error (Other)",
    INTERNAL_ERROR: "Internal Error",
    EXEC_FORMAT_ERROR: "Exec Format Error",
}

# The signals Judge0 names in a status of their own; any other signal is "Other".
SIGNAL_STATUS_IDS: Mapping[str, int] = {"SIGSEGV": 7, "SIGXFSZ": 8, "SIGFPE": 9, "SIGABRT": 10}


def runtime_error_id(signal_name: str | None) -> int:
    """The status of a program that failed at run time: killed by ``signal_name``, or
    (None) exited with a non-zero code."""
    if signal_name is None:
        return RUNTIME_ERROR_NZEC
    return SIGNAL_STATUS_IDS.get(signal_name, RUNTIME_ERROR_OTHER)


def is_final(status_id: int) -> bool:
    return status_id not in (IN_QUEUE, PROCESSING)


def status_json(status_id: int) -> dict:
    """``{"id": ..., "description": ...}`` as Judge0 renders a status."""
    return {"id": status_id, "description": DESCRIPTIONS[status_id]}


# Judge0 CE language ids of the languages ``graders.languages`` runs, with the names the
# magic shows and the short names it accepts.
LANGUAGE_NAMES: Mapping[int, str] = {52: "C++", 62: "Java", 50: "C", 63: "JavaScript", 71: "Python"}
LANGUAGE_ALIASES: Mapping[str, int] = {
    "cpp": 52, "c++": 52, "java": 62, "c": 50, "javascript": 63, "js": 63, "python": 71,
}
PYTHON_ID = 71

# Judge0 CE's maxima (judge0.conf): the API refuses a request beyond them.
MAX_CPU_SECONDS = 15.0
MAX_WALL_SECONDS = 20.0
MAX_MEMORY_KB = 512_000
