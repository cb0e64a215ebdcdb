"""Settings of one Judge0-compatible API instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from graders.limits import Limits


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
    # Seconds a run goes on before the store is told it is "Processing": until then other
    # processes answer "In Queue" for it; shorter runs (most) are spared that write.
    mark_processing_after: float = 0.5
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
