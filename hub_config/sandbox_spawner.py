"""The embedded default spawner: each student's server under bubblewrap.

The hub runs as root. For every student server it prepares a home folder owned by the
student's own unprivileged uid and a cgroup with memory/CPU/process limits, then starts
``bwrap`` (as root, so it can bind the interpreter from a root-only path) which builds
private mount, pid, ipc, uts and network namespaces and finally drops to the student's uid
with ``setpriv`` (no capabilities, no_new_privs).

What the student sees on disk is built from a short list of read-only binds, not from the
host's ``/``: ``/usr`` (and the merged-usr links), a handful of ``/etc`` files plus a
generated ``passwd``/``group``/``hosts``, the Python installation and venv the server runs
from (at their own paths, parents created traversable), the ``lms_extension`` package at
``/opt/lms``; their own home (writable), private ``/tmp`` and ``/run``. Never the checkout,
``courses/``, the LMS data folder, other homes or ``/root``'s files. So it works wherever the
checkout lives, even in a folder only root can enter.

Network: only loopback inside (``hub_config/netbridge.py`` explains the bridge). The proxy
reaches the server through a listening socket the hub creates on its own loopback and hands
to ``netns_forwarder.py``; the hub API and the LMS through Unix sockets of the server's run
directory, bound at ``/run/lms``; the internet, when ``LMS_STUDENT_EGRESS=internet``, through
the bridge's egress proxy.
"""
from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from tornado import web
from traitlets import Dict, Integer, List, Unicode

from graders.cgroups import StudentCgroup, parse_bytes
from lms_extension.config import LMSConfig

from . import netbridge, student_server
from .homes import StudentHome, parse_limit
from .settings import HubSettings

SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PACKAGE = student_server.PACKAGE
# where the server's own code and the forwarder appear inside
INSIDE_CODE = "/opt/lms"
# what of the host's /etc the runtime needs: the loader, name service switch, TLS roots,
# time zone, MIME types, terminals, and the JVM's configuration for `java` in a terminal
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "host.conf", "gai.conf",
               "protocols", "services", "ssl/certs", "ssl/openssl.cnf", "ca-certificates.conf", "localtime",
               "timezone", "mime.types", "alternatives", "fonts", "bash.bashrc", "profile", "inputrc",
               "terminfo", "debian_version", "os-release", "locale.alias", "java-17-openjdk", "magic",
               "magic.mime", "xdg")
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
SERVER_LOG_LINES = 12


class SpawnFailed(web.HTTPError):
    """A spawn failure the student can read: shown on the spawn page, returned by the API."""

    def __init__(self, message: str):
        super().__init__(503, log_message=message.replace("%", "%%"))
        self.jupyterhub_message = message


def runtime_paths() -> list[Path]:
    """Installations the student's server runs from: the interpreter's prefix and the venv."""
    return sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()})


def _under(path: Path, roots) -> bool:
    return any(path == r or r in path.parents for r in roots)


class SandboxSpawner(LocalProcessSpawner):
    uid_base = Integer(20000, help="Student uid = uid_base + JupyterHub user id.").tag(config=True)
    homes_dir = Unicode(help="Folder holding one home folder per student.").tag(config=True)
    run_root = Unicode(help="Folder holding one run directory per server: the Unix sockets of its "
                            "network bridge and its generated /etc files.").tag(config=True)
    bridged_ports = Dict(Integer(), help="Host loopback ports the student's server reaches, by the name of "
                                         "the Unix socket that leads there (hub.sock: the hub API, "
                                         "lms.sock: the LMS service). Nothing else is reachable.").tag(config=True)
    student_egress = Unicode(LMSConfig.student_egress.default_value,
                             help="none: no network beyond the hub and the LMS; internet: also public addresses "
                                  "through the egress proxy (LMS_STUDENT_EGRESS).").tag(config=True)
    extra_ro_paths = List(Unicode(), help="Further host paths the server needs, bound read-only at the same "
                                          "place (for example a site-wide /etc/pip.conf).").tag(config=True)
    bwrap_command = Unicode("bwrap", help="The bubblewrap executable.").tag(config=True)
    # defaults of LMSConfig, which configure() always sets
    mem_limit_text = Unicode(LMSConfig.mem_limit.default_value,
                             help="Memory limit of a student's server (bytes, K, M, G).").tag(config=True)
    disk_limit_text = Unicode(LMSConfig.disk_limit.default_value,
                              help="Size of a student's home (LMS_DISK_LIMIT; 0 or none: no limit).").tag(config=True)
    cpu_limit_value = Unicode(str(LMSConfig.cpu_limit.default_value),
                              help="CPU limit of a student's server, in cores.").tag(config=True)

    @property
    def student_uid(self) -> int:
        return self.uid_base + self.user.id

    @property
    def home_name(self) -> str:
        name = self.user.name
        return name if SAFE_NAME.match(name) else f"user-{self.user.id}"

    @property
    def home_inside(self) -> str:
        return f"/home/{self.home_name}"

    @property
    def home_outside(self) -> Path:
        return Path(self.homes_dir) / self.home_name

    @property
    def cgroup(self) -> StudentCgroup:
        # user ids restart at 1 in every hub: the hub's data folder tells two hubs' groups apart,
        # so stopping one hub's user 5 never kills another hub's user 5
        hub = hashlib.sha256(str(Path(self.homes_dir).resolve()).encode()).hexdigest()[:8]
        return StudentCgroup(f"u{self.user.id}-{hub}", memory_bytes=parse_bytes(self.mem_limit_text),
                             cpu=float(self.cpu_limit_value))

    @property
    def home(self) -> StudentHome:
        return StudentHome(self.home_outside, uid=self.student_uid, limit=parse_limit(self.disk_limit_text))

    def make_home(self) -> None:
        # owned by the student's uid, mode 0700, and with LMS_DISK_LIMIT an ext4 image of that
        # size mounted on it, so a full home is ENOSPC for this student only
        self.home.prepare()

    @property
    def run_dir(self) -> Path:
        name = self.name or ""
        if name and not SAFE_NAME.match(name):
            name = hashlib.sha256(name.encode()).hexdigest()[:16]
        return Path(self.run_root) / (f"{self.user.id}-{name}" if name else str(self.user.id))

    @property
    def code_binds(self) -> dict[Path, str]:
        """The server's own code on the host -> where it appears inside."""
        binds = {netbridge.FORWARDER: f"{INSIDE_CODE}/netns_forwarder.py"}
        if not _under(PACKAGE, runtime_paths()):  # a checkout, not an installed package
            binds[PACKAGE] = f"{INSIDE_CODE}/lms_extension"
        return binds

    def user_env(self, env):
        env.update(HOME=self.home_inside, USER=self.home_name, LOGNAME=self.home_name, SHELL="/bin/bash",
                   PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin")
        package = self.code_binds.get(PACKAGE)
        if package:
            # found before the venv's editable-install finder, which points into the checkout
            env["PYTHONPATH"] = INSIDE_CODE
        # a student's JupyterLab without nbgrader's instructor plugins
        env.update(student_server.config_path(self.user, Path(package) if package else PACKAGE))
        if self.student_egress == "internet":
            env.update(netbridge.proxy_environment())
        return env

    def make_preexec_fn(self, name):
        cgroup = self.cgroup

        def preexec():
            # runs in the child as root, before exec'ing bwrap: every descendant inherits the group
            cgroup.join()

        return preexec

    def write_etc(self) -> Path:
        """The generated /etc files: who the student is, and a loopback-only hosts file."""
        etc = self.run_dir / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        uid, name, host = self.student_uid, self.home_name, f"lms-{self.home_name}"
        files = {
            "passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\n{name}:x:{uid}:{uid}::{self.home_inside}:/bin/bash\n"
                      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": f"root:x:0:\n{name}:x:{uid}:\nnogroup:x:65534:\n",
            "hosts": f"127.0.0.1\tlocalhost {host}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            "hostname": f"{host}\n",
        }
        for filename, text in files.items():
            (etc / filename).write_text(text)
            (etc / filename).chmod(0o644)
        return etc

    def root_argv(self) -> list[str]:
        """bwrap arguments building the student's root from read-only binds (no host ``/``)."""
        argv = ["--ro-bind", "/usr", "/usr"]
        for name in MERGED_USR:
            host = Path("/") / name
            if host.is_symlink():
                argv += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                argv += ["--ro-bind", str(host), str(host)]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        # bwrap would create missing parents root-only: make each one traversable first
        made: set[str] = {"/", "/usr", "/proc", "/dev"}

        def parents(inside: str) -> list[str]:
            out = []
            for parent in reversed(Path(inside).parents):
                if str(parent) not in made:
                    out += ["--perms", "0755", "--dir", str(parent)]
                    made.add(str(parent))
            return out

        for entry in ETC_ENTRIES:
            host = Path("/etc") / entry
            if host.is_symlink() and not host.exists():
                continue
            argv += parents(str(host))
            if host.is_symlink():
                argv += ["--symlink", os.readlink(host), str(host)]
            elif host.exists():
                argv += ["--ro-bind", str(host), str(host)]
        for name in ("passwd", "group", "hosts", "hostname"):
            argv += ["--ro-bind", str(self.run_dir / "etc" / name), f"/etc/{name}"]
        argv += ["--symlink", "../proc/self/mounts", "/etc/mtab",
                 "--tmpfs", "/tmp", "--tmpfs", "/run", "--perms", "0755", "--dir", "/var",
                 "--tmpfs", "/var/tmp", "--symlink", "../run", "/var/run"]
        made |= {"/tmp", "/run", "/var"}
        # the interpreter and the venv at their own paths (a venv's python finds its base by
        # path); their parents are made traversable, whatever their modes on the host
        places = [(p, str(p)) for p in runtime_paths()]
        places += [(Path(x).resolve(), x) for x in self.extra_ro_paths if Path(x).exists()]
        places += [(host, inside) for host, inside in self.code_binds.items()]
        for host, inside in places:
            if _under(Path(inside), [Path("/usr")]):
                continue
            argv += parents(inside) + ["--ro-bind", str(host), inside]
        # the network bridge's sockets (root's directory, read-only: sockets still connect)
        argv += ["--ro-bind", str(self.run_dir), netbridge.INSIDE_RUN_DIR]
        return argv

    def bwrap_argv(self) -> list[str]:
        uid = str(self.student_uid)
        argv = [self.bwrap_command, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-net", "--unshare-cgroup-try", "--hostname", f"lms-{self.home_name}"]
        argv += self.root_argv()
        argv += ["--perms", "0755", "--tmpfs", "/home", "--bind", str(self.home_outside), self.home_inside,
                 "--chdir", self.home_inside, "--",
                 shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        return argv

    def get_args(self):
        return super().get_args() + student_server.server_args(self.user)

    async def start(self):
        try:
            return await self._start()
        except Exception as exc:
            try:
                await self.release()
            except Exception:
                self.log.exception("Cleaning up after the failed start of %s", self.user.name)
            if isinstance(exc, SpawnFailed):
                raise
            self.log.exception("Preparing the server of %s failed", self.user.name)
            raise SpawnFailed(f"Your server could not be prepared ({type(exc).__name__}: {exc}). "
                              "Please tell your administrator; the hub's log has the details.") from exc

    async def _start(self):
        self.make_home()
        cgroup = self.cgroup
        cgroup.create()
        await self.start_bridge()
        # the proxy's way in: a socket on the host's loopback, handed to the forwarder inside
        listener = netbridge.inbound_listener()
        self.port = listener.getsockname()[1]
        log_read, log_write = os.pipe()
        forwarder = netbridge.forwarder_argv(
            str(Path(sys.executable)), self.code_binds[netbridge.FORWARDER], server_port=self.port,
            inbound_fd=listener.fileno(), egress=self.student_egress == "internet",
            outbound={f"127.0.0.1:{port}": f"{netbridge.INSIDE_RUN_DIR}/{name}"
                      for name, port in self.bridged_ports.items()})
        # the script through this interpreter, not its #! line: a venv that was moved or is
        # seen at another path still starts
        self.cmd = self.bwrap_argv() + forwarder + [sys.executable,
                                                    str(Path(sys.executable).parent / "jupyterhub-singleuser")]
        self.popen_kwargs = {**self.popen_kwargs, "pass_fds": (listener.fileno(),),
                             "stdout": log_write, "stderr": log_write}
        try:
            ip_port = await super().start()
        finally:
            listener.close()
            os.close(log_write)
        self._server_log = collections.deque(maxlen=SERVER_LOG_LINES)
        # held here: a task nobody references may be collected, closing the pipe under the server
        self._log_task = asyncio.ensure_future(self._relay_log(log_read, self._server_log))
        await self._wait_serving()
        return ip_port

    async def _relay_log(self, fd: int, tail: collections.deque) -> None:
        """The server's output into the hub's log, keeping its last lines for a failure message."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                    os.fdopen(fd, "rb", buffering=0))
        try:
            while line := await reader.readline():
                sys.stderr.buffer.write(line)
                sys.stderr.flush()
                text = line.decode(errors="replace").rstrip()
                if text:
                    tail.append(text)
        except (ValueError, OSError):
            pass
        finally:
            transport.close()

    async def _wait_serving(self) -> None:
        """Return once the server answers HTTP; raise with its last words if it exits first.

        The hub would only notice an early exit after its own timeouts, and then as an error
        without a reason."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        delay = 0.05
        while loop.time() < deadline:
            status = self.proc.poll()
            if status is not None:
                await asyncio.sleep(0.2)  # the last lines of its output
                last = "\n".join(self._server_log) or "(no output)"
                raise SpawnFailed(f"Your server stopped while starting (exit status {status}). "
                                  f"Its last messages:\n{last}")
            if await _answers_http("127.0.0.1", self.port, self.server.base_url if self.server else "/"):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    async def start_bridge(self) -> None:
        await self.stop_bridge()
        self.write_etc()
        self._bridge = netbridge.ServerBridge(
            self.run_dir, {name: ("127.0.0.1", port) for name, port in self.bridged_ports.items()},
            egress=self.student_egress == "internet", log=self.log)
        await self._bridge.start()

    async def stop_bridge(self) -> None:
        bridge = getattr(self, "_bridge", None)
        if bridge is not None:
            self._bridge = None
            await bridge.stop()

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            await self.release()

    async def run_post_stop_hook(self):
        # JupyterHub calls stop() only for a server still running: one that exited on its own
        # (or never came up) reaches only this hook
        await self.release()
        return super().run_post_stop_hook()

    async def release(self) -> None:
        """Everything a server held on the host; safe to call again."""
        cgroup = self.cgroup
        cgroup.kill_all()  # anything the student left running (daemons included)
        for _ in range(100):  # a group still holding dying processes cannot be removed
            if not cgroup.pids_inside():
                break
            await asyncio.sleep(0.02)
        cgroup.remove()
        await self.stop_bridge()
        self.home.release()  # nothing of the student runs any more: unmount the home image


def configure(c, settings: HubSettings) -> None:
    c.JupyterHub.spawner_class = SandboxSpawner
    c.SandboxSpawner.homes_dir = str(settings.homes_dir)
    c.SandboxSpawner.mem_limit_text = settings.mem_limit
    c.SandboxSpawner.disk_limit_text = settings.disk_limit
    c.SandboxSpawner.cpu_limit_value = str(settings.cpu_limit)
    c.SandboxSpawner.run_root = str(settings.data_dir / "run")
    c.SandboxSpawner.bridged_ports = {"hub.sock": settings.hub_port, "lms.sock": settings.service_port}
    c.SandboxSpawner.student_egress = settings.student_egress
    # a clean environment: nothing from the hub's environment but these
    c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ"]
    settings.homes_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)


async def _answers_http(host: str, port: int, path: str) -> bool:
    """True once anything answers an HTTP request there (any status: it is up)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        writer.write(f"GET {path}api HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        return line.startswith(b"HTTP/")
    except (OSError, asyncio.TimeoutError):
        return False
    finally:
        writer.close()
