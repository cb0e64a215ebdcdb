"""Judge0 CE's submission statuses: the one table of ids and descriptions.

Used by the sandbox's verdicts (``graders.judging``), the Judge0-compatible API and the
``%%judge`` magic. Depends on nothing, so any of them can import it cheaply.
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
