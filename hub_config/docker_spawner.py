"""DockerSpawner for one server: each student's JupyterLab in its own container.

Each container has a network namespace of its own with nothing but loopback
(``network_mode: none``): no host service, no other container, no Docker bridge address is
reachable from it. The only ways in and out are the Unix sockets of
``hub_config/netbridge.py``, the same bridge the sandbox spawner uses:

- ``<data>/run/docker-<name>/`` (root's, mounted read-only at ``/run/lms``) holds
  ``hub.sock`` and ``lms.sock`` (and ``proxy.sock``, the egress proxy, with
  ``LMS_STUDENT_EGRESS=internet``), served by the hub;
- ``<data>/run/docker-<name>-in/`` (the student's, at ``/run/lms-in``) holds ``server.sock``,
  where the forwarder inside accepts what the proxy sends to the server's host port.

The container's command is ``netns_forwarder.py`` (mounted read-only from the hub's data
folder, so the image needs only python3) followed by ``jupyterhub-singleuser``: the
forwarder listens on ``127.0.0.1:<hub port>`` and ``127.0.0.1:<LMS port>`` inside, so
``JUPYTERHUB_API_URL`` and ``LMS_SERVICE_URL`` keep their usual loopback values.

The home is the same size-limited image as the sandbox's (``hub_config/homes.py``,
``LMS_DISK_LIMIT``), loop-mounted on the host at ``<data>/homes/<name>`` and bind-mounted at
``/home/jovyan``. Docker's named volumes have no size limit on the usual ``local`` driver,
so they are not used; a ``lms-home-<name>`` volume from before is copied in once.

The bridge lives in the hub process. A hub that stops stops the servers
(``cleanup_servers``); one that died is noticed by ``poll``, which stops the orphaned
container so the next start builds a fresh bridge.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from hub_config import student_server
from hub_config.homes import StudentHome, parse_limit
from hub_config.settings import HubSettings
from lms_extension.config import LMSConfig

CONTAINER_PREFIX = "lms-student"
HOME_VOLUME = "lms-home-{username}"  # before homes had a size limit; imported once
HOME = "/home/jovyan"
STUDENT_UID = 1000  # jovyan in docker/student.Dockerfile
SERVER_PORT = 8888  # inside the container's own namespace, so the same for everyone
INSIDE_RUN, INSIDE_INBOUND = "/run/lms", "/run/lms-in"
INSIDE_FORWARDER = "/opt/lms/netns_forwarder.py"
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def home_folder_name(name: str, user_id: int) -> str:
    return name if SAFE_NAME.match(name) else f"user-{user_id}"


def _loopback_port(url: str | None) -> int | None:
    if not url:
        return None
    parts = urlsplit(url)
    return parts.port if parts.hostname in ("127.0.0.1", "localhost") and parts.port else None


def _spawner_class():
    # imported lazily: dockerspawner is an optional extra and the hub config
    # must load without it when another spawner is chosen
    from dockerspawner import DockerSpawner
    from traitlets import Bool, Unicode

    from hub_config import netbridge

    class NetnsDockerSpawner(DockerSpawner):
        """DockerSpawner whose containers have no network but the bridge's sockets."""

        lms_data_dir = Unicode(help="The LMS data folder: homes/ and run/ live in it. It must be the same "
                                    "path for the Docker engine (a host path).").tag(config=True)
        disk_limit_text = Unicode(LMSConfig.disk_limit.default_value,
                                  help="Size of a student's home (LMS_DISK_LIMIT; 0 or none: no limit).").tag(config=True)
        student_egress = Bool(False, help="Let students reach public internet addresses through the "
                                          "egress proxy (LMS_STUDENT_EGRESS=internet).").tag(config=True)

        _bridge = None

        # -- where things are ---------------------------------------------------------------
        @property
        def home(self) -> StudentHome:
            folder = Path(self.lms_data_dir) / "homes" / home_folder_name(self.user.name, self.user.id)
            return StudentHome(folder, uid=STUDENT_UID, limit=parse_limit(self.disk_limit_text))

        @property
        def run_dir(self) -> Path:
            return Path(self.lms_data_dir) / "run" / f"docker-{self.home.folder.name}"

        @property
        def inbound_dir(self) -> Path:
            return self.run_dir.with_name(self.run_dir.name + "-in")

        def _outbound(self) -> dict[str, tuple[str, int]]:
            """Socket name -> host port: the hub API and the LMS, at the URLs the server is given."""
            hub_port = _loopback_port(self.hub.api_url)
            if hub_port is None:
                raise RuntimeError(f"the hub API ({self.hub.api_url}) must listen on 127.0.0.1: students' "
                                   "containers reach it only through the bridge")
            outbound = {"hub.sock": ("127.0.0.1", hub_port)}
            lms_port = _loopback_port(self.environment.get("LMS_SERVICE_URL"))
            if lms_port:
                outbound["lms.sock"] = ("127.0.0.1", lms_port)
            return outbound

        # -- start and stop -------------------------------------------------------------------
        def _prepare_host(self) -> None:
            """Blocking host work (run in a thread): the home and the two run folders."""
            home, imported = self.home, None
            if not home.mounted and not home.image.exists():
                imported = self._import_named_volume(home.folder)
            home.prepare()
            if imported:
                # its data is in the image now; a volume left behind would come back to a
                # later account of the same name once this one is deleted
                self.client.remove_volume(imported)
            inbound = self.inbound_dir
            if inbound.is_symlink():
                raise RuntimeError(f"refusing a symlinked {inbound}")
            inbound.mkdir(parents=True, exist_ok=True)
            for leftover in inbound.iterdir():
                leftover.unlink()
            os.chown(inbound, STUDENT_UID, STUDENT_UID)
            inbound.chmod(0o700)
            # a copy in the data folder: a path the engine can bind even when the hub itself runs
            # in a container (its own copy of hub_config is not on the host)
            forwarder = Path(self.lms_data_dir) / "run" / "netns_forwarder.py"
            shutil.copyfile(netbridge.FORWARDER, forwarder)
            forwarder.chmod(0o644)

        def _import_named_volume(self, folder: Path) -> str | None:
            """Copy a home volume of an earlier version into ``folder``; its name, or None."""
            from docker.errors import NotFound

            volume = HOME_VOLUME.format(username=self.escaped_name)
            try:
                info = self.client.inspect_volume(volume)
            except NotFound:
                return None
            source = Path(info["Mountpoint"])
            if not source.is_dir():
                raise RuntimeError(f"the home volume {volume} exists but {source} is not visible to the hub: "
                                   "run the hub on the engine's host once to move it into the home image")
            self.log.info("importing the home volume %s into %s", volume, folder)
            folder.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", f"{source}/.", str(folder)], check=True)
            return volume

        async def start(self):
            await asyncio.to_thread(self._prepare_host)
            outbound = self._outbound()
            self._bridge = netbridge.ServerBridge(self.run_dir, outbound, egress=self.student_egress, log=self.log)
            await self._bridge.start()
            self.host_port = await self._bridge.start_inbound(self.inbound_dir / "server.sock")
            self.port = SERVER_PORT
            forwarder = Path(self.lms_data_dir) / "run" / "netns_forwarder.py"
            self.volumes = {
                str(self.home.folder): HOME,
                str(self.run_dir): {"bind": INSIDE_RUN, "mode": "ro"},
                str(self.inbound_dir): INSIDE_INBOUND,
                str(forwarder): {"bind": INSIDE_FORWARDER, "mode": "ro"},
            }
            self.cmd = netbridge.forwarder_argv(
                "python3", INSIDE_FORWARDER, server_port=SERVER_PORT,
                inbound_unix=f"{INSIDE_INBOUND}/server.sock",
                outbound={f"127.0.0.1:{port}": f"{INSIDE_RUN}/{name}" for name, (_h, port) in outbound.items()},
                egress=self.student_egress) + ["jupyterhub-singleuser"]
            try:
                return await super().start()
            except BaseException:
                await self._release()
                raise

        def get_args(self):
            return super().get_args() + student_server.server_args(self.user)

        def get_env(self):
            env = super().get_env()
            # a student's JupyterLab without nbgrader's instructor plugins (the image links the
            # package's student labconfig at this path)
            env.update(student_server.config_path(self.user, student_server.IMAGE_STUDENT_CONFIG))
            if self.student_egress:
                env.update(netbridge.proxy_environment())
            return env

        async def get_ip_and_port(self):
            return "127.0.0.1", self.host_port

        async def poll(self):
            status = await super().poll()
            if status is None and self._bridge is None:
                # running, but its bridge died with an earlier hub process, so nothing reaches
                # it: reported as stopped, the hub stops it and the next start is a fresh one
                self.log.warning("%s has no network bridge in this hub", self.object_name)
                return "no network bridge (the hub restarted)"
            return status

        async def stop(self, now=False):
            try:
                await super().stop(now=now)
            finally:
                await self._release()

        async def run_post_stop_hook(self):
            # JupyterHub calls stop() only for a server still running: a container that died
            # (OOM-killed, crashed, auto-removed) reaches only this hook
            await self._release()
            result = super().run_post_stop_hook()
            if inspect.isawaitable(result):
                await result

        async def _release(self):
            if self._bridge is not None:
                await self._bridge.stop()
                self._bridge = None
            await asyncio.to_thread(self.home.release)

    return NetnsDockerSpawner


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
    ds.remove = True  # the container is disposable; the home is not
    ds.prefix = CONTAINER_PREFIX  # default name_template: {prefix}-{username}[--{servername}]
    ds.network_name = "none"
    # no port bindings (there is no network to bind to): the bridge is the way in
    ds.use_internal_ip = True
    ds.ip = "127.0.0.1"  # jupyterhub-singleuser listens on the container's own loopback
    ds.lms_data_dir = str(settings.data_dir)
    ds.disk_limit_text = settings.disk_limit
    ds.student_egress = settings.student_egress == "internet"
    ds.notebook_dir = HOME
    ds.default_url = "/lab"  # lesson links open /user/<name>/lab/tree/<notebook>
    host_config = {
        # the student's code needs no capability and no way to gain one
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": 512,
        # only the home (with its size limit) is disk: the image's own layer is read-only, so
        # nothing written to / can fill the engine's disk; scratch space is memory, charged
        # to the container's memory limit
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=512m,mode=1777", "/var/tmp": "rw,nosuid,nodev,size=64m,mode=1777"},
    }
    mem, cpu = _limits(settings)
    if mem:
        ds.mem_limit = mem
        # Docker's default swap allowance is another mem_limit; make the cap strict.
        host_config["memswap_limit"] = mem
    if cpu:
        ds.cpu_limit = cpu
    ds.extra_host_config = host_config
    # a cold container at 0.5 CPU takes ~9 s to answer; leave room on busy hosts
    ds.start_timeout = 180
    ds.http_timeout = 120
    for folder in (settings.homes_dir, settings.data_dir / "run"):
        folder.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)


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
