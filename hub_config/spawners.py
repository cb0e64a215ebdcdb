"""Choose the spawner from ``LMS_SPAWNER=auto|sandbox|docker|kubernetes``."""
from __future__ import annotations

import logging

from .settings import HubSettings

log = logging.getLogger("lms.hub")
CHOICES = ("auto", "sandbox", "docker", "kubernetes")


def resolve(settings: HubSettings) -> str:
    if settings.spawner not in CHOICES:
        raise ValueError(f"LMS_SPAWNER={settings.spawner!r}: choose one of {', '.join(CHOICES)}")
    if settings.spawner != "auto":
        return settings.spawner
    from . import docker_spawner

    return "docker" if docker_spawner.docker_available(settings) else "sandbox"


def configure(c, settings: HubSettings) -> str:
    kind = resolve(settings)
    if kind == "sandbox":
        from . import sandbox_spawner as module
    elif kind == "docker":
        from . import docker_spawner as module
    else:
        from . import kubernetes_spawner as module
    module.configure(c, settings)
    log.info("spawner: %s", kind)
    return kind
