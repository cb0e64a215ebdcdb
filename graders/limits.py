"""Limits of one sandboxed run, with Judge0 CE's defaults and maxima.

Shared by the sandbox (which enforces them), the languages (which tell runtimes with a
heap of their own the memory limit) and the Judge0-compatible API (which validates
requests against the maxima). Depends on nothing else in ``graders``; the maxima the
``%%judge`` magic checks too come from ``lms_extension.kernel.judge0_tables``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from lms_extension.kernel import judge0_tables


@dataclass(frozen=True)
class Limits:
    """Limits of one run; a course's override is simply another ``Limits``.

    Defaults and maxima are Judge0 CE's (judge0.conf). Units: seconds, kilobytes.
    """

    cpu_time: float = 5.0  # CPU seconds of all processes and threads together
    cpu_extra_time: float = 1.0  # grace before the kill, so the real time is reported
    wall_time: float = 10.0
    memory: int = 128_000  # KB of memory (resident + tmpfs + kernel) of the whole run
    stack: int = 64_000  # KB per process (RLIMIT_STACK)
    max_processes: int = 60  # processes and threads together
    max_file_size: int = 1024  # KB per file written and per output stream

    MAXIMA: ClassVar[Mapping[str, float]] = {
        "cpu_time": judge0_tables.MAX_CPU_SECONDS,
        "cpu_extra_time": 5,
        "wall_time": judge0_tables.MAX_WALL_SECONDS,
        "memory": judge0_tables.MAX_MEMORY_KB,
        "stack": 128_000,
        "max_processes": 120,
        "max_file_size": 4096,
    }
    # The only limit that may be zero: compilers get no grace time, as in Judge0.
    MAY_BE_ZERO: ClassVar[frozenset[str]] = frozenset({"cpu_extra_time"})

    def __post_init__(self) -> None:
        problems = self.problems(dataclasses.asdict(self))
        if problems:
            details = "; ".join(f"{name} {' and '.join(msgs)}" for name, msgs in problems.items())
            raise ValueError(f"invalid sandbox limits: {details}")

    @classmethod
    def problems(cls, values: Mapping[str, object]) -> dict[str, list[str]]:
        """Judge0-worded problems ("must be less than or equal to 15") per invalid field."""
        problems: dict[str, list[str]] = {}
        for name, value in values.items():
            maximum = cls.MAXIMA.get(name)
            if maximum is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                problems[name] = ["is not a number"]
            elif name in cls.MAY_BE_ZERO and value < 0:
                problems[name] = ["must be greater than or equal to 0"]
            elif name not in cls.MAY_BE_ZERO and value <= 0:
                problems[name] = ["must be greater than 0"]
            elif value > maximum:
                problems[name] = [f"must be less than or equal to {maximum:g}"]
        return problems

    @classmethod
    def for_compilation(cls) -> Limits:
        """Compilers run with the maximum limits and no grace time, as Judge0 does."""
        return cls(**{**cls.MAXIMA, "cpu_extra_time": 0})
