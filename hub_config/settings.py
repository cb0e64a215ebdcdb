"""What the hub's configuration pieces read: a frozen view on the one ``LMSConfig``.

``jupyterhub_config.py`` is plain Python, so it does not load traitlets config by itself;
``load()`` takes the ``LMSConfig`` the hub loaded (or loads it: config file + ``LMS_*``
environment, as the service does), freezes it, and copies the hub's part of it, checking what
the hub can check at start. The defaults are the traits' own: none is repeated here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lms_extension.config import LMSConfig

from .homes import parse_limit


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
    redis_url: str
    redis_prefix: str
    # instructors and admins must have two-factor authentication to log in
    require_2fa: bool
    # failed logins allowed per username and per client address, as COUNT/SECONDS ("0": no limit)
    login_failures_per_user: str
    login_failures_per_address: str
    # size of each student's home (hub_config/homes.py); "0" or "none": no limit
    disk_limit: str
    # none: a student's server reaches only the hub and the LMS; internet: also public addresses
    student_egress: str
    hub_db_url: str
    admin_token: str
    demo_password: str
    public_url: str
    heartbeat_seconds: float
    idle_seconds: float
    # the whole configuration (frozen), for the pieces that pass it on: the LMS service's
    # environment, the authenticator's account deletion, the Kubernetes settings
    config: LMSConfig = field(compare=False, repr=False)

    @property
    def homes_dir(self) -> Path:
        return self.data_dir / "homes"


def load(config: LMSConfig | None = None) -> HubSettings:
    """The hub's settings from ``config`` (default: loaded now), which is frozen from here on."""
    c = (config or LMSConfig()).freeze()
    return HubSettings(
        data_dir=Path(c.data_dir).resolve(),
        port=c.port,
        hub_port=c.hub_port,
        proxy_api_port=c.proxy_api_port,
        service_port=c.service_port,
        spawner=c.spawner,
        demo=c.demo,
        db_url=c.db_url,
        mem_limit=c.mem_limit,
        cpu_limit=c.cpu_limit,
        docker_image=c.docker_image,
        open_signup=c.open_signup,
        allow_2fa=c.allow_2fa,
        redis_url=c.redis_url,
        redis_prefix=c.redis_prefix,
        require_2fa=c.require_2fa,
        login_failures_per_user=c.login_failures_per_user,
        login_failures_per_address=c.login_failures_per_address,
        disk_limit=_disk_limit(c.disk_limit),
        student_egress=c.student_egress,
        hub_db_url=c.hub_db_url,
        admin_token=c.admin_token,
        demo_password=c.demo_password,
        public_url=c.public_url,
        heartbeat_seconds=c.heartbeat_seconds,
        idle_seconds=c.idle_seconds,
        config=c,
    )


def _disk_limit(value: str) -> str:
    parse_limit(value)  # a bad size stops the hub at start, not every student's spawn
    return value
