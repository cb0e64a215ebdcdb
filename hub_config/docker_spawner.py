"""DockerSpawner for one server: each student's JupyterLab in its own container.

Containers share the host's network namespace and listen on 127.0.0.1 only, so
the hub and proxy reach them on loopback and nothing ever talks to a Docker
bridge (172.x) address; the engine may even run with ``--bridge=none``.
"""
from __future__ import annotations

from hub_config.settings import HubSettings

CONTAINER_PREFIX = "lms-student"
HOME_VOLUME = "lms-home-{username}"
HOME = "/home/jovyan"


def _spawner_class():
    # imported lazily: dockerspawner is an optional extra and the hub config
    # must load without it when another spawner is chosen
    from dockerspawner import DockerSpawner
    from jupyterhub.utils import random_port

    class HostNetDockerSpawner(DockerSpawner):
        """DockerSpawner with ``network_mode=host``: every server picks its own
        free loopback port, and ``docker port`` (empty with host networking)
        is never asked where the server is."""

        async def start(self):
            self.port = random_port()
            return await super().start()

        async def get_ip_and_port(self):
            return "127.0.0.1", self.port

    return HostNetDockerSpawner


def _limits(settings: HubSettings) -> tuple[str | None, float | None]:
    mem = settings.mem_limit if settings.mem_limit.lower() not in ("", "0", "none") else None
    cpu = settings.cpu_limit if settings.cpu_limit > 0 else None
    return mem, cpu


def configure(c, settings: HubSettings) -> None:
    """Make ``c`` (the hub's traitlets config) spawn students with Docker."""
    c.JupyterHub.spawner_class = _spawner_class()
    ds = c.DockerSpawner
    ds.image = settings.docker_image
    ds.pull_policy = "never"  # images are built locally (docker/build-images.sh)
    ds.remove = True  # the container is disposable; the home volume is not
    ds.prefix = CONTAINER_PREFIX  # default name_template: {prefix}-{username}[--{servername}]
    ds.network_name = "host"
    # With host networking use_internal_ip must be True: False makes DockerSpawner
    # add port bindings, which the engine rejects for network_mode=host.
    ds.use_internal_ip = True
    ds.ip = "127.0.0.1"  # jupyterhub-singleuser listens on loopback only
    ds.host_ip = "127.0.0.1"
    ds.volumes = {HOME_VOLUME: HOME}  # one named volume per student, kept across spawns
    ds.notebook_dir = HOME
    ds.default_url = "/lab"  # lesson links open /user/<name>/lab/tree/<notebook>
    mem, cpu = _limits(settings)
    if mem:
        ds.mem_limit = mem
        # Docker's default swap allowance is another mem_limit; make the cap strict.
        ds.extra_host_config = {"memswap_limit": mem}
    if cpu:
        ds.cpu_limit = cpu
    # a cold container at 0.5 CPU takes ~9 s to answer; leave room on busy hosts
    ds.start_timeout = 180
    ds.http_timeout = 120


def docker_available(settings: HubSettings, timeout: float = 2.0) -> bool:
    """True when a Docker engine answers within ``timeout`` and has the student image.

    Used by the automatic spawner choice, so it must be quick and never raise.
    """
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
    except DockerException:
        return False
    try:
        client.ping()
        client.images.get(settings.docker_image)
        return True
    except Exception:  # NotFound, APIError, timeouts, refused connections: all mean "no"
        return False
    finally:
        client.close()
