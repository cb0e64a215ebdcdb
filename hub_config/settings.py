"""Settings for the hub configuration, read once from ``LMS_*`` environment variables.

The hub's own configuration file is plain Python (``jupyterhub_config.py``), so the
settings it needs are read here in one place; the LMS service itself uses traitlets
(``lms_extension.config``).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


@dataclass(frozen=True)
class HubSettings:
    """Everything the hub configuration pieces read (one immutable object)."""

    data_dir: Path
    port: int
    hub_port: int
    proxy_api_port: int
    service_port: int
    spawner: str  # auto | sandbox | docker | kubernetes
    demo: bool
    db_url: str
    mem_limit: str  # e.g. "1G"
    cpu_limit: float
    docker_image: str
    open_signup: bool
    allow_2fa: bool
    # rate limits and login throttle shared by replicas; empty: a SQLite file in data_dir
    redis_url: str = ""
    redis_prefix: str = "lms:"
    # instructors and admins must have two-factor authentication to log in
    require_2fa: bool = False
    # failed logins allowed per username and per client address, as COUNT/SECONDS ("0": no limit)
    login_failures_per_user: str = "5/900"
    login_failures_per_address: str = "50/900"
    # size of each student's home (hub_config/homes.py); "0" or "none": no limit
    disk_limit: str = "2G"
    # none: a student's server reaches only the hub and the LMS; internet: also public addresses
    student_egress: str = "none"
    extra: dict = field(default_factory=dict)

    @property
    def homes_dir(self) -> Path:
        return self.data_dir / "homes"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def load() -> HubSettings:
    data_dir = Path(_env("LMS_DATA_DIR", str(REPO_ROOT / ".lms-data"))).resolve()
    demo = _env("LMS_DEMO", "1") == "1"
    return HubSettings(
        data_dir=data_dir,
        port=int(_env("LMS_PORT", "8000")),
        hub_port=int(_env("LMS_HUB_PORT", "8081")),
        proxy_api_port=int(_env("LMS_PROXY_API_PORT", "8001")),
        service_port=int(_env("LMS_SERVICE_PORT", "10101")),
        spawner=_env("LMS_SPAWNER", "auto"),
        demo=demo,
        db_url=_env("LMS_DB_URL", f"sqlite:///{data_dir / 'lms.sqlite'}"),
        mem_limit=_env("LMS_MEM_LIMIT", "1G"),
        cpu_limit=float(_env("LMS_CPU_LIMIT", "1.0")),
        docker_image=_env("LMS_DOCKER_IMAGE", "jupyter-lms/student:latest"),
        open_signup=_env("LMS_OPEN_SIGNUP", "1" if demo else "0") == "1",
        allow_2fa=_env("LMS_ALLOW_2FA", "1") == "1",
        redis_url=_env("LMS_REDIS_URL", ""),
        redis_prefix=_env("LMS_REDIS_PREFIX", "lms:"),
        require_2fa=_env("LMS_REQUIRE_2FA", "0") == "1",
        login_failures_per_user=_env("LMS_LOGIN_FAILURES_PER_USER", "5/900"),
        login_failures_per_address=_env("LMS_LOGIN_FAILURES_PER_ADDRESS", "50/900"),
        disk_limit=_disk_limit(_env("LMS_DISK_LIMIT", "2G")),
        student_egress=_egress(_env("LMS_STUDENT_EGRESS", "none")),
    )


def _disk_limit(value: str) -> str:
    from .homes import parse_limit

    parse_limit(value)  # a bad size stops the hub at start, not every student's spawn
    return value


def _egress(value: str) -> str:
    if value not in ("none", "internet"):
        raise ValueError(f"LMS_STUDENT_EGRESS={value!r}: choose none or internet")
    return value


def new_secret() -> str:
    return secrets.token_hex(32)
