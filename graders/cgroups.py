"""Per-run control groups: memory, process and CPU accounting for one sandboxed run.

Both cgroup versions are supported behind one small interface:

* v1 (this machine; older distributions): one directory per controller hierarchy
  (``memory``, ``pids``, ``cpuacct``), the peak from ``memory.max_usage_in_bytes``, OOM
  kills from the ``oom_kill`` line of ``memory.oom_control``.
* v2 (unified; current distributions and containers): one directory, ``memory.max``,
  ``memory.swap.max``, ``pids.max``, the peak from ``memory.peak`` (kernel 5.19+, otherwise
  the highest ``memory.current`` we sampled), OOM kills from ``memory.events``, and
  ``cgroup.kill`` to end everything at once.

Run groups live under ``<the server's own cgroup>/lms-sandbox`` so whatever limits the
server itself runs under (a container, a systemd service) also bound the runs. Each run's
directory name starts with the server's pid, which lets a restarted server remove what a
crashed one left behind without touching the runs of other live workers.

Student servers (``hub_config/sandbox_spawner.py``) get a ``StudentCgroup`` each: memory,
CPU and process limits under ``lms/`` at the top of every hierarchy they limit, outside the
hub's own group, so a student's server outlives a hub restart with its limits intact.

Standard library only: the grading runner's sandbox gets a copy of this module.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_MOUNT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpuacct")
KILL_ATTEMPTS = 400  # x at most 5 ms: a fork bomb is bounded by pids.max, so this always ends


class CgroupUnavailable(RuntimeError):
    """Neither a usable cgroup v2 hierarchy nor the v1 controllers we need are mounted."""


@dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int
    max_tasks: int


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _write_if_exists(path: Path, value: str) -> None:
    if path.exists():
        try:
            _write(path, value)
        except OSError:  # e.g. swap accounting disabled on this kernel
            pass


def is_v2() -> bool:
    return (CGROUP_MOUNT / "cgroup.controllers").exists()


def parse_bytes(text: str) -> int:
    """'512M', '1G', '2048K', '1.5GB' or a plain number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().rstrip("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _keyed(text: str) -> dict[str, int]:
    """Parse 'key value' lines (memory.events, cpu.stat, memory.oom_control)."""
    result = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            result[key] = int(value)
    return result


def _own_cgroup_paths() -> dict[str, str]:
    """Controller (or '' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    paths = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _v1_mounts() -> dict[str, Path]:
    """Controller -> mount point of its v1 hierarchy, from /proc/self/mountinfo."""
    mounts = {}
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, options = (right.split(" ") + ["", ""])[:3]
        if fstype != "cgroup":
            continue
        mount_point = Path(left.split(" ")[4])
        for option in options.split(","):
            if option in V1_CONTROLLERS:
                mounts[option] = mount_point
    return mounts


def _sigkill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_pid(run_name: str) -> int | None:
    head = run_name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


class RunCgroup:
    """The cgroup(s) of one run. Created with limits, joined by the run's first process."""

    def __init__(self, directories: list[Path], procs_files: list[Path]):
        self.directories = directories
        self.procs_files = procs_files
        self._sampled_peak = 0

    # --- accounting -------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        raise NotImplementedError

    def memory_peak_bytes(self) -> int:
        raise NotImplementedError

    def oom_kills(self) -> int:
        raise NotImplementedError

    def pids(self) -> set[int]:
        found = set()
        for procs in self.procs_files:
            try:
                found.update(int(p) for p in _read(procs).split())
            except FileNotFoundError:
                pass
        return found

    # --- ending -----------------------------------------------------------------------
    def _signal_all(self) -> None:
        _sigkill(self.pids())

    def is_empty(self) -> bool:
        """True when no task is left (cheap: a few small reads; safe on an event loop)."""
        return not self.pids()

    def kill_all(self) -> None:
        """SIGKILL every process in the group until none is left.

        Killing the pid namespace's init (bwrap's pid 1, a member) makes the kernel kill
        the whole namespace and refuse new forks in it, so a fork bomb cannot outrun this.
        """
        for attempt in range(KILL_ATTEMPTS):
            self._signal_all()
            if not self.pids():
                return
            time.sleep(_backoff(attempt))
        raise RuntimeError(f"processes survived SIGKILL in {self.directories[0]}")

    def remove(self) -> None:
        for directory in self.directories:
            for _ in range(KILL_ATTEMPTS):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    # EBUSY while the kernel is still releasing exited tasks.
                    if exc.errno != errno.EBUSY:
                        raise
                    self._signal_all()
                    time.sleep(_backoff(_))


def _backoff(attempt: int) -> float:
    """Short waits first: an exiting task usually leaves within a millisecond."""
    return min(0.005, 0.0005 * (2 ** attempt))


class _RunCgroupV1(RunCgroup):
    def __init__(self, by_controller: dict[str, Path]):
        self.by_controller = by_controller
        super().__init__(
            list(by_controller.values()), [d / "cgroup.procs" for d in by_controller.values()]
        )

    def cpu_seconds(self) -> float:
        return int(_read(self.by_controller["cpuacct"] / "cpuacct.usage")) / 1e9

    def memory_peak_bytes(self) -> int:
        return int(_read(self.by_controller["memory"] / "memory.max_usage_in_bytes"))

    def oom_kills(self) -> int:
        control = _keyed(_read(self.by_controller["memory"] / "memory.oom_control"))
        if "oom_kill" in control:
            return control["oom_kill"]
        # Kernels before 4.13 have no counter: hitting the limit is the best evidence.
        return 1 if int(_read(self.by_controller["memory"] / "memory.failcnt")) else 0


class _RunCgroupV2(RunCgroup):
    def __init__(self, directory: Path):
        self.directory = directory
        super().__init__([directory], [directory / "cgroup.procs"])

    def cpu_seconds(self) -> float:
        return _keyed(_read(self.directory / "cpu.stat"))["usage_usec"] / 1e6

    def memory_peak_bytes(self) -> int:
        try:
            return int(_read(self.directory / "memory.peak"))
        except FileNotFoundError:
            self._sampled_peak = max(self._sampled_peak, int(_read(self.directory / "memory.current")))
            return self._sampled_peak

    def oom_kills(self) -> int:
        return _keyed(_read(self.directory / "memory.events")).get("oom_kill", 0)

    def kill_all(self) -> None:
        kill_file = self.directory / "cgroup.kill"
        if kill_file.exists():
            _write(kill_file, "1")
        super().kill_all()


class CgroupManager:
    """Creates, and after a crash sweeps, the per-run cgroups under one parent group."""

    def __init__(self, group_name: str = "lms-sandbox"):
        self.group_name = group_name
        if is_v2():
            self.version = 2
            self._parent = self._prepare_v2_parent()
            self._parents = {"": self._parent}
        else:
            self.version = 1
            self._parents = self._prepare_v1_parents()

    # --- setup ------------------------------------------------------------------------
    def _prepare_v1_parents(self) -> dict[str, Path]:
        mounts = _v1_mounts()
        missing = [c for c in V1_CONTROLLERS if c not in mounts]
        if missing:
            raise CgroupUnavailable(
                f"cgroup v1 controllers not mounted: {', '.join(missing)} "
                "(and no cgroup v2 hierarchy at /sys/fs/cgroup)"
            )
        own = _own_cgroup_paths()
        parents = {}
        for controller in V1_CONTROLLERS:
            parent = mounts[controller] / own.get(controller, "/").lstrip("/") / self.group_name
            parent.mkdir(exist_ok=True)
            parents[controller] = parent
        return parents

    def _prepare_v2_parent(self) -> Path:
        own = CGROUP_MOUNT / _own_cgroup_paths().get("", "/").lstrip("/")
        needed = {"memory", "pids"}
        available = set(_read(own / "cgroup.controllers").split())
        if not needed <= available:
            raise CgroupUnavailable(
                f"cgroup v2 controllers {sorted(needed - available)} are not delegated to {own}"
            )
        try:
            _write(own / "cgroup.subtree_control", "+memory +pids")
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            # "No internal processes": a cgroup that hands controllers to children may not
            # hold processes itself (the usual case as PID 1 of a container). Move this
            # server's processes into a leaf of their own, then delegate.
            leaf = own / "lms-server"
            leaf.mkdir(exist_ok=True)
            for pid in _read(own / "cgroup.procs").split():
                try:
                    _write(leaf / "cgroup.procs", pid)
                except OSError:
                    pass  # exited meanwhile, or a kernel thread
            _write(own / "cgroup.subtree_control", "+memory +pids")
        parent = own / self.group_name
        parent.mkdir(exist_ok=True)
        _write(parent / "cgroup.subtree_control", "+memory +pids")
        return parent

    # --- per run ----------------------------------------------------------------------
    def create(self, run_name: str, limits: CgroupLimits) -> RunCgroup:
        if self.version == 2:
            directory = self._parent / run_name
            directory.mkdir()
            group: RunCgroup = _RunCgroupV2(directory)
            _write(directory / "memory.max", str(limits.memory_bytes))
            if (directory / "memory.swap.max").exists():
                _write(directory / "memory.swap.max", "0")
            _write(directory / "pids.max", str(limits.max_tasks))
            return group
        by_controller = {c: p / run_name for c, p in self._parents.items()}
        for directory in by_controller.values():
            directory.mkdir()
        group = _RunCgroupV1(by_controller)
        memory = by_controller["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            # memory+swap equal to memory: a run may not push its pages out to swap.
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        _write(by_controller["pids"] / "pids.max", str(limits.max_tasks))
        return group

    def run_names(self) -> set[str]:
        """Names of the run groups that exist now (runs in progress, or orphans)."""
        names = set()
        for parent in self._parents.values():
            names.update(entry.name for entry in parent.iterdir() if entry.is_dir())
        return names

    def _existing(self, run_name: str) -> RunCgroup:
        if self.version == 2:
            return _RunCgroupV2(self._parent / run_name)
        return _RunCgroupV1({c: p / run_name for c, p in self._parents.items()})

    def sweep_orphans(self) -> list[str]:
        """Kill and remove run groups whose server process is gone (it crashed mid-run)."""
        swept = []
        for name in sorted(self.run_names()):
            pid = owner_pid(name)
            if pid is None or pid_alive(pid):
                continue
            group = self._existing(name)
            group.kill_all()
            group.remove()
            swept.append(name)
        return swept


# --------------------------------------------------------------------------- student servers
class StudentCgroup:
    """One cgroup per student server, under ``lms/`` in every controller it limits."""

    CONTROLLERS_V1 = ("memory", "cpu", "pids")

    def __init__(self, name: str, *, memory_bytes: int, cpu: float, pids: int = 512):
        self.name, self.memory_bytes, self.cpu, self.pids = name, memory_bytes, cpu, pids

    def paths(self) -> list[Path]:
        if is_v2():
            return [CGROUP_MOUNT / "lms" / self.name]
        return [CGROUP_MOUNT / c / "lms" / self.name for c in self.CONTROLLERS_V1]

    def create(self) -> None:
        if is_v2():
            parent = CGROUP_MOUNT / "lms"
            parent.mkdir(exist_ok=True)
            _write(CGROUP_MOUNT / "cgroup.subtree_control", "+memory +cpu +pids")
            _write(parent / "cgroup.subtree_control", "+memory +cpu +pids")
            group = parent / self.name
            group.mkdir(exist_ok=True)
            _write(group / "memory.max", str(self.memory_bytes))
            _write_if_exists(group / "memory.swap.max", "0")
            _write(group / "cpu.max", f"{int(self.cpu * 100000)} 100000")
            _write(group / "pids.max", str(self.pids))
            return
        memory, cpu, pids = self.paths()
        for path in (memory, cpu, pids):
            path.mkdir(parents=True, exist_ok=True)
        # No swap either: memsw (memory + swap) is the strict cap where the kernel accounts
        # swap. The kernel keeps memory <= memsw at every step, so an existing group (a
        # server started again with another limit) is raised memsw first, lowered memory first.
        try:
            _write(memory / "memory.limit_in_bytes", str(self.memory_bytes))
            _write_if_exists(memory / "memory.memsw.limit_in_bytes", str(self.memory_bytes))
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            _write_if_exists(memory / "memory.memsw.limit_in_bytes", str(self.memory_bytes))
            _write(memory / "memory.limit_in_bytes", str(self.memory_bytes))
        _write(cpu / "cpu.cfs_period_us", "100000")
        _write(cpu / "cpu.cfs_quota_us", str(int(self.cpu * 100000)))
        _write(pids / "pids.max", str(self.pids))

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the calling process) into every controller's group."""
        for path in self.paths():
            _write(path / "cgroup.procs", str(pid or os.getpid()))

    def pids_inside(self) -> set[int]:
        found: set[int] = set()
        for path in self.paths():
            try:
                found |= {int(p) for p in _read(path / "cgroup.procs").split()}
            except FileNotFoundError:
                pass
        return found

    def kill_all(self) -> None:
        """SIGKILL what is inside now; the spawner waits for the group to empty."""
        _sigkill(self.pids_inside())

    def remove(self) -> None:
        for path in self.paths():
            try:
                path.rmdir()
            except (FileNotFoundError, OSError):
                pass
