"""Judge0 CE's submission statuses, as the API and the verdicts name them.

The table itself is ``lms_extension.kernel.judge0_tables``: the ``%%judge`` magic in a
student's kernel needs it too, and a student's server sees only ``lms_extension``.
"""

from __future__ import annotations

from lms_extension.kernel.judge0_tables import (
    ACCEPTED,
    COMPILATION_ERROR,
    DESCRIPTIONS,
    EXEC_FORMAT_ERROR,
    IN_QUEUE,
    INTERNAL_ERROR,
    PROCESSING,
    RUNTIME_ERROR_NZEC,
    RUNTIME_ERROR_OTHER,
    SIGNAL_STATUS_IDS,
    TIME_LIMIT_EXCEEDED,
    WRONG_ANSWER,
    is_final,
    runtime_error_id,
    status_json,
)

__all__ = ["ACCEPTED", "COMPILATION_ERROR", "DESCRIPTIONS", "EXEC_FORMAT_ERROR", "IN_QUEUE", "INTERNAL_ERROR",
           "PROCESSING", "RUNTIME_ERROR_NZEC", "RUNTIME_ERROR_OTHER", "SIGNAL_STATUS_IDS", "TIME_LIMIT_EXCEEDED",
           "WRONG_ANSWER", "is_final", "runtime_error_id", "status_json"]
