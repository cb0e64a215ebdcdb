"""Run untrusted programs: bubblewrap namespaces, per-run cgroups, a private tmpfs, limits.

Every program a student submits (and every compiler that reads their source) runs here:

* **Namespaces** (bubblewrap): its own user, pid, network, IPC, UTS, mount and cgroup
  namespaces; no way to create more user namespaces (``--disable-userns``); a new session
  (no controlling terminal, so no TIOCSTI into the server's tty); killed with the server
  (``--die-with-parent``). The network namespace has only a loopback that is down.
* **Filesystem**: a root built from a short list of read-only binds (the parts of
  ``/usr`` the runtimes need, the merged-usr symlinks, a few files of ``/etc``, a
  synthesized passwd/group/hosts; see ``SandboxConfig.read_only_paths``), nothing else of
  the host (no ``/home``, ``/root``, ``/usr/local``, ``/var``, the checkout, ``courses/``,
  the LMS data, ``/etc/shadow``). A bound path that the run's uid could not reach on the
  host (the venv of a checkout in a folder only root may enter) is bound in a mount
  namespace of the run's own at a root-owned place first (see ``Sandbox._view_of``): the
  host keeps no mount of it (only an empty folder per such source in
  ``<state_dir>/views``), and the run sees it at its usual place like any other. The
  only writable places are ``/box`` (the working directory), ``/tmp`` and ``/dev/shm``,
  which are three directories of one fresh tmpfs per run with a size and inode quota,
  mounted by the host and detached afterwards. The host writes the source file into it before any untrusted
  code runs and never opens a path inside it afterwards (stdin comes from a memfd, output
  through pipes, removal is ``umount``), so symlinks or hardlinks planted there can make the
  host neither read, write, chmod nor delete anything; and a hardlink to a host file cannot
  exist on a separate tmpfs.
* **Identity**: the run's processes have a uid of their own on the host, leased from a
  configured range for the run's duration (uid 1000 "sandbox" inside), no supplementary
  groups, no capabilities, no_new_privs; the uid is dropped before bwrap starts.
* **Limits**: a cgroup per run (v1 or v2) caps memory (+swap) and tasks; CPU time is the
  cgroup's total (all processes and threads), checked while the run goes on and backed by
  RLIMIT_CPU; wall time; RLIMIT_FSIZE caps every file written, and each output stream is
  capped at the same size (beyond it the run is killed, as Judge0 reports SIGXFSZ);
  RLIMIT_STACK, RLIMIT_NOFILE, RLIMIT_NPROC, no core dumps; a seccomp filter denies
  administrative and escape-prone syscalls (see ``graders.seccomp``).
* **Cleanup**: when the program ends, everything left in its cgroup is killed (daemons
  that double-forked or called setsid included; killing the namespace's init takes down
  the whole pid namespace), the cgroup is removed and the tmpfs detached. A server that
  crashed mid-run leaves groups and mounts named after its pid; the next ``Sandbox`` of
  any process sweeps them.

Everything that runs untrusted code later (code challenges, the Judge0-compatible API,
notebook autograding) goes through :class:`Sandbox`: this module is isolation only (the
root, the views, the namespaces, the limits, running one command in a workspace). Whole
submissions (compile, run, judge) are :mod:`graders.submissions`; sandboxes started ahead
of time are :mod:`graders.warm_pool`. The host must run as root (to create
cgroups, mount the tmpfs and drop to the per-run uid) with ``bwrap``, ``prlimit`` and
``unshare`` (util-linux) and libseccomp installed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import fcntl
import functools
import glob
import hashlib
import json
import logging
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from graders import seccomp
from graders.judging import Execution
from graders.limits import Limits
from graders.cgroups import (
    CgroupLimits,
    CgroupManager,
    CgroupUnavailable,
    RunCgroup,
    owner_pid,
    pid_alive,
)

log = logging.getLogger(__name__)

OutputCallback = Callable[[str, bytes], object]
"""``on_output(stream, chunk)``: called in the event loop for every chunk of output as it
arrives; ``stream`` is ``"stdout"``, ``"stderr"`` or ``"compile_output"``."""

# Standby workspaces (and their cgroups), held by a live process ahead of a run (the warm
# pool's spares): "<server pid>-w<hex>[-<step>]".
_STANDBY_NAME = re.compile(r"^(\d+)-w[0-9a-f]+(?:-|$)")

# bwrap's monitor process and the namespace's init live in the run's cgroup too.
SANDBOX_OWN_TASKS = 2
SANDBOX_UID_INSIDE = 1000
SANDBOX_HOME = "/box"


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SandboxConfig:
    """Host-side settings. Built once at startup; never changed per run."""

    state_dir: Path = Path("/run/lms-sandbox")
    cgroup_name: str = "lms-sandbox"
    # Host uids leased to runs, one per concurrent run; no account needs to exist.
    uids: range = range(1_500_000, 1_500_000 + 1024)
    # /box, /tmp and /dev/shm of a run together (one tmpfs).
    scratch_bytes: int = 64 * 1024 * 1024
    scratch_inodes: int = 4096
    # The root a run sees is built from this list alone: host paths visible read-only at
    # the same place (globs allowed, missing ones skipped). It is what the five languages
    # need: the interpreters and compilers (python3, node, the JDK, gcc/g++ with their
    # libexec, headers and binutils), the shared libraries and the loader's cache, the C
    # locale and time zones. Not /usr as a whole: /usr/local, /usr/share and whatever
    # else is installed on the host stay out, as do /home, /root, /var and the checkout.
    read_only_paths: tuple[str, ...] = (
        "/usr/bin",
        "/usr/libexec",
        "/usr/include",
        "/usr/lib64",
        "/usr/lib/*-linux-gnu*",
        "/usr/lib/gcc",
        "/usr/lib/bfd-plugins",
        "/usr/lib/compat-ld",
        "/usr/lib/gold-ld",
        "/usr/lib/jvm",
        "/usr/lib/python3*",
        "/usr/lib/locale",
        "/usr/share/zoneinfo",
        "/etc/alternatives",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/localtime",
        "/etc/java-*",
    )
    # Host paths shown read-only at another place inside: (host path, path inside). The
    # notebook runner's packages go under /opt/lms, so the run learns nothing of where
    # the host keeps them and never sees what lies next to them.
    mounts: tuple[tuple[str, str], ...] = ()
    path_env: str = "/usr/local/bin:/usr/bin:/bin"
    # How often a running program's CPU time is checked (the cost of a late kill).
    poll_interval: float = 0.05


class SandboxUnavailable(RuntimeError):
    """The host cannot run the sandbox (not root, bwrap missing, no cgroups...)."""


class SandboxBusy(RuntimeError):
    """Every uid of the configured range is leased to a running run."""


# --------------------------------------------------------------------------------------
# Host plumbing: tmpfs scratch, uid leases
# --------------------------------------------------------------------------------------
_MS_NOSUID = 2
_MS_NODEV = 4
_MNT_DETACH = 2


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(target: Path, size: int, inodes: int) -> None:
    options = f"size={size},nr_inodes={inodes},mode=0755".encode()
    if _libc().mount(b"tmpfs", os.fsencode(target), b"tmpfs", _MS_NOSUID | _MS_NODEV, options):
        err = ctypes.get_errno()
        raise OSError(err, f"mounting the scratch tmpfs on {target}: {os.strerror(err)}")


def _detach(target: Path) -> None:
    # Lazy detach: no path inside is resolved, and nothing still open can keep it busy.
    if _libc().umount2(os.fsencode(target), _MNT_DETACH):
        err = ctypes.get_errno()
        raise OSError(err, f"detaching the scratch tmpfs {target}: {os.strerror(err)}")


def _remove_scratch(root: Path) -> None:
    if os.path.ismount(root):
        _detach(root)
    root.rmdir()


def _reachable_by_others(path: str) -> bool:
    """Whether every folder leading to ``path`` lets others through (bwrap resolves a
    bind's source as the run's uid)."""
    parent = os.path.dirname(os.path.realpath(path))
    while True:
        try:
            if not os.stat(parent).st_mode & 0o001:
                return False
        except OSError:
            return False
        if parent in ("/", ""):
            return True
        parent = os.path.dirname(parent)


# Runs as root in the run's fresh mount namespace, before the uid is dropped: shows each
# source ("$1") read-only at its view ("$2"), an empty root-owned folder that others may
# traverse, so that bwrap finds it under the run's uid. Neither the host nor other runs
# see these mounts; they go with the namespace when the run ends.
_BIND_VIEWS_THEN_EXEC = (
    'while [ "$1" != -- ]; do mount --bind -o ro -- "$1" "$2" || exit 125; shift 2; done; '
    'shift; exec "$@"'
)


def memfd_with(name: str, data: bytes) -> int:
    """A sealed in-memory file holding ``data``: the run's stdin, readable and seekable;
    nothing of the run (the namespace's init holds it too) can write to it or grow it. It
    may empty it: the notebook runner truncates its job (hidden tests) once read, so that
    no later process can read it back through /proc/1/fd/0."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class _UidLeases:
    """One host uid per concurrent run, across every process on the host (flock files)."""

    def __init__(self, uids: range, lock_dir: Path):
        if not len(uids):
            raise SandboxUnavailable("the sandbox uid range is empty")
        self.uids = uids
        self.lock_dir = lock_dir

    @contextlib.contextmanager
    def lease(self) -> Iterator[int]:
        start = random.randrange(len(self.uids))
        for offset in range(len(self.uids)):
            uid = self.uids[(start + offset) % len(self.uids)]
            fd = os.open(self.lock_dir / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield uid
            finally:
                os.close(fd)  # releases the lock
            return
        raise SandboxBusy(f"all {len(self.uids)} sandbox uids are in use")


@dataclass(frozen=True)
class Workspace:
    """One submission's scratch tmpfs and uid, shared by its compile step and its runs."""

    name: str  # "<server pid>-<random>": also names the cgroups of its steps
    root: Path
    uid: int

    @property
    def box(self) -> Path:
        return self.root / "box"


# --------------------------------------------------------------------------------------
# One sandboxed process tree
# --------------------------------------------------------------------------------------
class _OutputCapture:
    """Collects a stream up to ``limit`` bytes, forwarding each kept chunk live."""

    def __init__(self, limit: int, on_output: OutputCallback | None):
        self.limit = limit
        self.on_output = on_output
        self.overflow = asyncio.Event()
        self.buffers: dict[str, bytearray] = {}

    async def pump(self, reader: asyncio.StreamReader, stream: str) -> None:
        buffer = self.buffers.setdefault(stream, bytearray())
        while chunk := await reader.read(65536):
            kept = chunk[: max(self.limit - len(buffer), 0)]
            if len(kept) < len(chunk):
                self.overflow.set()  # the rest is read and dropped until the kill lands
            if kept:
                buffer += kept
                self._forward(stream, kept)

    def _forward(self, stream: str, chunk: bytes) -> None:
        if self.on_output is None:
            return
        try:
            self.on_output(stream, chunk)
        except Exception:  # a broken listener must not break the run
            log.exception("on_output callback failed")


class _Child:
    """A spawned process watched from the event loop without blocking it.

    ``Popen`` runs in a worker thread (its vfork waits until the child has exec'd, which
    under load takes milliseconds), the pipes are read by the loop, and the exit is
    noticed through a pidfd: no waiter thread per process."""

    def __init__(self, popen: subprocess.Popen, loop: asyncio.AbstractEventLoop,
                 threads: concurrent.futures.Executor):
        self.popen = popen
        self.loop = loop
        self.threads = threads
        self.exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(popen.pid)
        loop.add_reader(self._pidfd, self._on_exit)

    @classmethod
    async def spawn(cls, argv: Sequence[str], threads: concurrent.futures.Executor,
                    **popen_options) -> tuple[_Child, list]:
        loop = asyncio.get_running_loop()
        popen = await loop.run_in_executor(
            threads, functools.partial(subprocess.Popen, argv, **popen_options))
        child = cls(popen, loop, threads)
        readers = []
        for pipe in (popen.stdout, popen.stderr):
            if pipe is None:
                continue
            reader = asyncio.StreamReader(limit=1 << 16)
            await loop.connect_read_pipe(lambda r=reader: asyncio.StreamReaderProtocol(r), pipe)
            readers.append(reader)
        return child, readers

    def _on_exit(self) -> None:
        self.loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self.popen.wait()  # already exited: this only reaps it
        if not self.exited.done():
            self.exited.set_result(self.popen.returncode)

    async def reap(self, timeout: float = 10) -> None:
        """Wait for the exit after everything was killed; never leave a zombie."""
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), timeout)
        except asyncio.TimeoutError:
            self.popen.kill()
            await self.loop.run_in_executor(self.threads, self.popen.wait)
            if self._pidfd != -1:
                self._on_exit()


_JOIN_CGROUP_THEN_EXEC = (
    # Runs as root, before any privilege drop: put this process into the run's cgroup(s)
    # so everything it becomes and forks is accounted and killable, then exec the rest.
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
)


def _parse_bwrap_status(data: bytes) -> tuple[int | None, int | None]:
    """(host pid of the namespace's init, the program's exit status) from bwrap's
    ``--json-status-fd``; the status is absent when the program never ran."""
    decoder = json.JSONDecoder()
    text = data.decode(errors="replace")
    index = 0
    init_pid = exit_code = None
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        try:
            document, index = decoder.raw_decode(text, index)
        except ValueError:
            break
        if isinstance(document, dict):
            if "child-pid" in document:
                init_pid = int(document["child-pid"])
            if "exit-code" in document:
                exit_code = int(document["exit-code"])
    return init_pid, exit_code


def _reap_if_adopted(pid: int) -> None:
    """Reap the namespace's init if it became our child. When bwrap exits first, its init
    is re-parented to the host's init, which reaps it; but when this server is itself
    PID 1 (a container without an init), nobody else would, one zombie per run."""
    for _ in range(200):
        try:
            reaped, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not ours: the host's init takes care of it
        if reaped:
            return
        time.sleep(0.005)


def _read_available(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Launched:
    """A program started in the sandbox, not yet waited for."""

    group: RunCgroup
    child: _Child
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader | None
    status_read: int
    started: float


# --------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------
class Sandbox:
    """Runs commands in isolation, one workspace (scratch and uid) at a time. Thread-safe
    and usable from any event loop; create one per process (whole submissions:
    ``graders.submissions.default_sandbox()``; notebooks: ``graders.notebook``)."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self._check_host()
        try:
            self._cgroups = CgroupManager(self.config.cgroup_name)
        except (CgroupUnavailable, OSError) as exc:
            raise SandboxUnavailable(f"cannot set up cgroups for the sandbox: {exc}") from exc
        state = self.config.state_dir
        self._runs_dir = state / "runs"
        for directory, mode in ((state, 0o755), (self._runs_dir, 0o711), (state / "uids", 0o700),
                                (state / "etc", 0o755)):
            directory.mkdir(mode=mode, parents=True, exist_ok=True)
            os.chmod(directory, mode)
        self._uids = _UidLeases(self.config.uids, state / "uids")
        # Bind sources the run's uid cannot reach (a checkout in a folder only root may
        # enter): real path -> the empty folder it is shown at in the run's namespace.
        self._views: dict[str, str] = {}
        self._views_lock = threading.Lock()
        self._views_dir = state / "views"
        for source in [s for s, _ in self._root_binds()] + self._read_only_paths(under_tmp=True):
            self._view_of(source)
        # Spawning and cleaning up wait on the kernel (vfork until exec, RCU for cgroup
        # and mount removal): done in these threads so the event loop never stalls.
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=16, thread_name_prefix="lms-sandbox")
        self._bwrap_prefix = self._static_bwrap_arguments(self._write_identity_files(state / "etc"))
        # Removal of a finished run's cgroup and scratch, done after its result is out.
        self._cleanups: set[concurrent.futures.Future] = set()
        self._cleanups_lock = threading.Lock()
        self.sweep_orphans()

    # --- setup ------------------------------------------------------------------------
    @staticmethod
    def _check_host() -> None:
        if os.geteuid() != 0:
            raise SandboxUnavailable(
                "the sandbox must be started as root: it creates cgroups, mounts a tmpfs per "
                "run and drops every run to an unprivileged uid of its own"
            )
        missing = [tool for tool in ("bwrap", "prlimit", "unshare")
                   if not shutil.which(tool)]
        if missing:
            raise SandboxUnavailable(
                f"missing {', '.join(missing)}: install the bubblewrap and util-linux packages"
            )
        try:
            seccomp.compiled_filter()
        except seccomp.SeccompUnavailable as exc:
            raise SandboxUnavailable(str(exc)) from exc

    @staticmethod
    def _write_identity_files(etc: Path) -> dict[str, Path]:
        """passwd/group/hosts for inside: only the sandbox user exists there."""
        uid = SANDBOX_UID_INSIDE
        contents = {
            "passwd": f"sandbox:x:{uid}:{uid}:sandbox:{SANDBOX_HOME}:/bin/sh\n"
                      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": f"sandbox:x:{uid}:\nnogroup:x:65534:\n",
            "hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        }
        paths = {}
        for name, text in contents.items():
            path = etc / name
            temporary = etc / f".{name}.{os.getpid()}"
            temporary.write_text(text)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
            paths[name] = path
        return paths

    def _view_of(self, source: str) -> str:
        """Where bwrap finds ``source``: the path itself when the run's uid can reach it,
        otherwise its view (made once per source; the folders are empty, named after the
        source's path and shared by every process on the host)."""
        real = os.path.realpath(source)
        with self._views_lock:
            if real in self._views:
                return self._views[real]
            if _reachable_by_others(real):
                return source
            self._views_dir.mkdir(mode=0o711, exist_ok=True)
            os.chmod(self._views_dir, 0o711)
            view = self._views_dir / hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
            view.mkdir(mode=0o755, exist_ok=True)
            os.chmod(view, 0o755)
            self._views[real] = str(view)
            return str(view)

    def _read_only_paths(self, *, under_tmp: bool) -> list[str]:
        paths = [path for pattern in self.config.read_only_paths for path in sorted(glob.glob(pattern))]
        return [p for p in paths if (p == "/tmp" or p.startswith("/tmp/")) == under_tmp]

    def _root_binds(self) -> list[tuple[str, str]]:
        """(host path, path inside) of everything bound into the root, outside /tmp."""
        binds = [(path, path) for path in self._read_only_paths(under_tmp=False)]
        for source, target in self.config.mounts:
            if not os.path.isabs(target) or target == "/tmp" or target.startswith(("/tmp/", "/box")):
                raise ValueError(f"cannot mount {source} at {target!r} in the sandbox")
            if os.path.exists(source):
                binds.append((source, target))
        return binds

    def _static_bwrap_arguments(self, identity_files: Mapping[str, Path]) -> list[str]:
        args = [
            "bwrap",
            "--unshare-user", "--disable-userns",
            "--uid", str(SANDBOX_UID_INSIDE), "--gid", str(SANDBOX_UID_INSIDE),
            # No --unshare-net: bwrap would bring the new namespace's loopback up. The
            # run gets a network namespace of its own from `unshare --net` instead (see
            # _command), whose loopback stays down and cannot be raised from inside.
            "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox",
            "--die-with-parent", "--new-session",
        ]
        binds = self._root_binds()
        # The root is bwrap's own tmpfs: every directory leading to a bind is made here,
        # traversable by the run's uid, and nothing else exists in it.
        parents: list[str] = []
        for _, target in binds:
            parent = os.path.dirname(target)
            chain = []
            while parent not in ("/", ""):
                chain.append(parent)
                parent = os.path.dirname(parent)
            parents += [p for p in reversed(chain) if p not in parents]
        for parent in parents:
            args += ["--perms", "0755", "--dir", parent]
        for source, target in binds:
            args += ["--ro-bind", self._view_of(source), target]
        inside = [target for _, target in binds]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_symlink():  # merged /usr: keep the same symlinks, if they lead somewhere
                link = os.readlink(host)
                resolved = os.path.normpath(os.path.join("/", link))
                if any(t == resolved or t.startswith(resolved + "/") for t in inside):
                    args += ["--symlink", link, f"/{top}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{top}"]
        for name, path in identity_files.items():
            args += ["--ro-bind", str(path), f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += [
            "--clearenv",
            "--setenv", "PATH", self.config.path_env,
            "--setenv", "HOME", SANDBOX_HOME,
            "--setenv", "LANG", "C.UTF-8",
            "--chdir", SANDBOX_HOME,
        ]
        return args

    def sweep_orphans(self) -> None:
        """Remove cgroups and scratch mounts left by server processes that died mid-run."""
        swept = self._cgroups.sweep_orphans()
        for entry in self._runs_dir.iterdir():
            pid = owner_pid(entry.name)
            if pid is not None and pid_alive(pid):
                continue
            if os.path.ismount(entry):
                _detach(entry)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)  # fd-based: never follows symlinks
            swept.append(entry.name)
        if swept:
            log.warning("removed %d sandbox leftovers of dead processes", len(swept))

    def residue(self) -> list[str]:
        """What runs have on the host right now: cgroups, scratch directories, mounts and
        processes of sandbox uids. Empty whenever no run is in progress; a health check.
        Leftovers of processes that died are swept first, as a new Sandbox would."""
        self.settle()
        self.sweep_orphans()

        def spare(name: str) -> bool:
            # A standby workspace of a live process (a warm spare, this one's or another's:
            # every server keeps its own) waits for a run, or is that run: not residue.
            # Those of dead processes are, until a sweep.
            match = _STANDBY_NAME.match(name)
            return match is not None and pid_alive(int(match.group(1)))

        found = [f"cgroup {name}" for name in sorted(self._cgroups.run_names()) if not spare(name)]
        found += [f"scratch {entry}" for entry in sorted(self._runs_dir.iterdir()) if not spare(entry.name)]
        with open("/proc/self/mountinfo") as mounts:
            found += [f"mount {line.split()[4]}" for line in mounts
                      if line.split()[4].startswith(f"{self._runs_dir}/")
                      and not spare(line.split()[4][len(str(self._runs_dir)) + 1:].split("/")[0])]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = dict(line.split(":\t", 1) for line in
                              (entry / "status").read_text().splitlines() if ":\t" in line)
                uid = int(status["Uid"].split()[0])
                if uid not in self.config.uids:
                    continue
                groups = (entry / "cgroup").read_text().splitlines()
            except (OSError, KeyError, ValueError):
                continue  # exited meanwhile
            in_spare = any(spare(line.rsplit("/", 1)[-1]) for line in groups)
            # A zombie is dead already: the namespace's init, orphaned when bwrap exits,
            # waits there until the host's init reaps it.
            if not in_spare and not status.get("State", "").startswith("Z"):
                found.append(f"process {entry.name} (uid {uid})")
        return found

    def defer(self, function: Callable, *args: object) -> None:
        """Run a cleanup in the background: the processes are dead already, and what is
        left (an empty cgroup, a detached tmpfs, the uid lease) waits on the kernel."""
        future = self._threads.submit(function, *args)
        with self._cleanups_lock:
            self._cleanups.add(future)

        def done(f: concurrent.futures.Future) -> None:
            with self._cleanups_lock:
                self._cleanups.discard(f)
            if f.exception() is not None:
                log.error("sandbox cleanup failed", exc_info=f.exception())
        future.add_done_callback(done)

    def settle(self, timeout: float = 60) -> None:
        """Wait until every finished run's cleanup is done."""
        with self._cleanups_lock:
            pending = list(self._cleanups)
        concurrent.futures.wait(pending, timeout=timeout)

    async def blocking(self, function: Callable, *args: object) -> object:
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    # --- workspaces -------------------------------------------------------------------
    def open_workspace(self, standby: bool = False) -> tuple[Workspace, contextlib.ExitStack]:
        """A fresh scratch tmpfs and uid lease, and the stack that releases them.
        ``standby``: held ahead of a run (a warm spare; see _STANDBY_NAME)."""
        kind = "w" if standby else ""
        stack = contextlib.ExitStack()
        try:
            uid = stack.enter_context(self._uids.lease())
            name = f"{os.getpid()}-{kind}{secrets.token_hex(8)}"
            root = self._runs_dir / name
            root.mkdir(mode=0o700)
            stack.callback(_remove_scratch, root)
            _mount_tmpfs(root, self.config.scratch_bytes, self.config.scratch_inodes)
            for sub in ("box", "tmp", "shm"):
                (root / sub).mkdir(mode=0o700)
                os.chown(root / sub, uid, uid)
        except BaseException:
            stack.close()
            raise
        return Workspace(name, root, uid), stack

    @contextlib.asynccontextmanager
    async def workspace(self) -> AsyncIterator[Workspace]:
        """A fresh scratch tmpfs and uid lease; everything is gone when the block ends."""
        workspace, stack = self.open_workspace()
        try:
            yield workspace
        finally:
            # Detaching waits for the kernel (RCU grace periods): not on the event loop,
            # and not before the result is out.
            self.defer(stack.close)

    @staticmethod
    def write_file(workspace: Workspace, name: str, data: bytes) -> None:
        """Put a file into /box. Only before untrusted code has run in the workspace."""
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        fd = os.open(
            workspace.box / name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
        )
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    # --- executing one command --------------------------------------------------------
    def _command(self, workspace: Workspace, group: RunCgroup, limits: Limits,
                 argv: Sequence[str], seccomp_fd: int, status_fd: int) -> list[str]:
        cpu_soft = math.ceil(limits.cpu_time + limits.cpu_extra_time)
        file_size = int(limits.max_file_size * 1024)
        stack = int(limits.stack * 1024)
        tasks = limits.max_processes + SANDBOX_OWN_TASKS
        # paths to show that live under /tmp (a checkout there) go over the private /tmp;
        # their views first, so that the namespace below has them all
        under_tmp = [(self._view_of(path), path) for path in self._read_only_paths(under_tmp=True)]
        # Each step execs the next in the same process (one pid, already in the cgroup):
        # join the cgroup, set the limits, then, still as root, make the network namespace,
        # so that it belongs to the host's user namespace and the run has no capability
        # over it (it cannot bring its loopback up), and drop to the run's uid, without
        # supplementary groups, to exec bwrap (which sets no_new_privs and drops the rest).
        return [
            "sh", "-c", _JOIN_CGROUP_THEN_EXEC, "lms-sandbox",
            *map(str, group.procs_files), "--",
            "prlimit",
            f"--cpu={cpu_soft}:{cpu_soft + 1}",  # SIGXCPU, then SIGKILL a second later
            f"--fsize={file_size}:{file_size}",
            f"--stack={stack}:{stack}",
            f"--nproc={tasks}:{tasks}",  # the uid is the run's own, so this counts only it
            "--nofile=1024:1024",
            "--core=0:0",
            "--",
            *self._drop_privileges(workspace.uid),
            *self._bwrap_prefix,
            "--bind", str(workspace.root / "box"), "/box",
            "--bind", str(workspace.root / "tmp"), "/tmp",
            *[arg for source, path in under_tmp for arg in ("--ro-bind", source, path)],
            "--bind", str(workspace.root / "shm"), "/dev/shm",
            "--remount-ro", "/dev",
            "--remount-ro", "/",
            "--seccomp", str(seccomp_fd),
            "--json-status-fd", str(status_fd),
            "--",
            *argv,
        ]

    def _drop_privileges(self, uid: int) -> list[str]:
        """The network namespace, the views (in a mount namespace of the run's own, only
        when some source needs one) and the drop to ``uid``: the words before bwrap."""
        with self._views_lock:
            views = list(self._views.items())
        if not views:
            return ["unshare", "--net", f"--setgid={uid}", f"--setuid={uid}", "--"]
        # slave: the host's later unmounts (other runs' scratch) still reach this copy
        return ["unshare", "--net", "--mount", "--propagation", "slave", "--",
                "sh", "-c", _BIND_VIEWS_THEN_EXEC, "lms-sandbox-views",
                *[arg for source, view in views for arg in (source, view)], "--",
                "unshare", f"--setgid={uid}", f"--setuid={uid}", "--"]

    async def execute(
        self,
        workspace: Workspace,
        argv: Sequence[str],
        limits: Limits,
        *,
        step: str = "run",
        stdin: bytes = b"",
        merge_stderr: bool = False,
        on_output: OutputCallback | None = None,
        stream_names: tuple[str, str] = ("stdout", "stderr"),
    ) -> Execution:
        """Run ``argv`` in ``workspace`` under ``limits`` and judge nothing."""
        stdin_fd = memfd_with("lms-sandbox-stdin", stdin)
        try:
            launched = await self.launch(workspace, argv, limits, step=step, stdin_fd=stdin_fd,
                                         merge_stderr=merge_stderr)
        finally:
            os.close(stdin_fd)  # the child has its own copy
        return await self.finish(launched, limits, merge_stderr=merge_stderr,
                                 on_output=on_output, stream_names=stream_names)

    async def launch(self, workspace: Workspace, argv: Sequence[str], limits: Limits, *,
                     step: str, stdin_fd: int, merge_stderr: bool,
                     extra_fds: Sequence[int] = ()) -> Launched:
        """Create the run's cgroup and start ``argv`` in the sandbox; nothing waits yet."""
        group = self._cgroups.create(
            f"{workspace.name}-{step}",
            CgroupLimits(memory_bytes=int(limits.memory * 1024),
                         max_tasks=limits.max_processes + SANDBOX_OWN_TASKS),
        )
        status_read, status_write = os.pipe2(os.O_CLOEXEC)
        try:
            with contextlib.ExitStack() as child_fds:  # our copies close once the child has its own
                child_fds.callback(os.close, status_write)
                seccomp_fd = seccomp.filter_fd()
                child_fds.callback(os.close, seccomp_fd)
                started = time.monotonic()
                child, (stdout_reader, *stderr_reader) = await _Child.spawn(
                    self._command(workspace, group, limits, argv, seccomp_fd, status_write),
                    self._threads,
                    stdin=stdin_fd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                    pass_fds=(seccomp_fd, status_write, *extra_fds),
                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
                    start_new_session=True,
                )
        except BaseException:
            os.close(status_read)
            await self.blocking(_kill_and_remove, group)
            raise
        return Launched(group, child, stdout_reader, stderr_reader[0] if stderr_reader else None,
                         status_read, started)

    async def finish(self, launched: Launched, limits: Limits, *, merge_stderr: bool,
                     on_output: OutputCallback | None,
                     stream_names: tuple[str, str] = ("stdout", "stderr")) -> Execution:
        """Supervise a launched program to its end or its limits, then clean up after it."""
        group, child = launched.group, launched.child
        pumps: list[asyncio.Future] = []
        try:
            capture = _OutputCapture(int(limits.max_file_size * 1024), on_output)
            pumps.append(asyncio.ensure_future(capture.pump(launched.stdout, stream_names[0])))
            if launched.stderr is not None:
                pumps.append(asyncio.ensure_future(capture.pump(launched.stderr, stream_names[1])))
            killed_for = await self._supervise(child, group, limits, capture.overflow, launched.started)
            wall_time = time.monotonic() - launched.started
            # Whatever outlived the program: daemons, setsid, zombies. Usually nothing is
            # left by now; a thread only for the wait when something is.
            if not group.is_empty():
                await self.blocking(group.kill_all)
            await child.reap()
            # Every writer of the pipes is dead now, so they reach EOF promptly.
            await asyncio.wait_for(asyncio.gather(*pumps), timeout=10)
            stdout = bytes(capture.buffers.get(stream_names[0], b""))
            stderr = b"" if merge_stderr else bytes(capture.buffers.get(stream_names[1], b""))
            init_pid, exit_code = _parse_bwrap_status(_read_available(launched.status_read))
            if init_pid is not None:
                _reap_if_adopted(init_pid)
            setup_error = None
            oom_killed = group.oom_kills() > 0
            # No status from bwrap and no kill of ours: nothing ran -- unless the memory
            # limit's OOM killer took bwrap itself (a fork bomb filling the cgroup).
            if exit_code is None and killed_for is None and not oom_killed:
                # Nothing ran: what bwrap (or the cgroup join) said is on stderr.
                said = (stdout if merge_stderr else stderr).decode(errors="replace").strip()
                setup_error = said or f"sandbox setup failed (exit status {child.popen.returncode})"
            program_signal = None
            if exit_code is not None and exit_code > 128 and (exit_code - 128) in _SIGNAL_NUMBERS:
                # bwrap reports death by signal N as 128 + N, like a shell.
                program_signal, exit_code = exit_code - 128, None
            return Execution(
                stdout=stdout,
                stderr=stderr,
                exit_code=exit_code,
                signal=program_signal,
                cpu_time=group.cpu_seconds(),
                wall_time=wall_time,
                memory_kb=group.memory_peak_bytes() // 1024,
                oom_killed=oom_killed,
                killed_for=killed_for,
                setup_error=setup_error,
            )
        finally:
            for pump in pumps:
                pump.cancel()
            if not group.is_empty():  # nothing of the run survives its result
                await self.blocking(group.kill_all)
            self.defer(_kill_and_remove, group)
            await child.reap()
            os.close(launched.status_read)

    async def _supervise(self, child: _Child, group: RunCgroup, limits: Limits,
                         overflow: asyncio.Event, started: float) -> str | None:
        """Wait for the program, killing it at its CPU, wall or output limit. Returns why
        it was killed, or None when it ended by itself."""
        overflowed = asyncio.ensure_future(overflow.wait())
        cpu_deadline = limits.cpu_time + limits.cpu_extra_time
        wall_deadline = started + limits.wall_time + limits.cpu_extra_time
        try:
            while True:
                await asyncio.wait({child.exited, overflowed}, timeout=self.config.poll_interval,
                                   return_when=asyncio.FIRST_COMPLETED)
                if child.exited.done():
                    return None
                if overflowed.done():
                    reason = "output"
                elif group.cpu_seconds() > cpu_deadline:
                    reason = "cpu"
                elif time.monotonic() > wall_deadline:
                    reason = "wall"
                else:
                    continue
                await self.blocking(group.kill_all)
                return reason
        finally:
            overflowed.cancel()

    def abandon(self, launched: Launched) -> None:
        """Tear down a launched program whose event loop is gone (no awaiting possible):
        everything in its cgroup is killed and the cgroup removed."""
        child = launched.child
        launched.group.kill_all()
        with contextlib.suppress(OSError):
            child.popen.kill()
        child.popen.wait(timeout=10)
        if child._pidfd != -1:
            with contextlib.suppress(Exception):
                child.loop.remove_reader(child._pidfd)
            os.close(child._pidfd)
            child._pidfd = -1
        for pipe in (child.popen.stdout, child.popen.stderr):
            if pipe is not None:
                pipe.close()
        _kill_and_remove(launched.group)
        os.close(launched.status_read)


_SIGNAL_NUMBERS = {s.value for s in signal.Signals}


def _kill_and_remove(group: RunCgroup) -> None:
    group.kill_all()
    group.remove()
