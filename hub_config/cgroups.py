"""Per-student cgroups for memory, CPU and process limits (cgroup v1 and v2)."""
from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def parse_bytes(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().rstrip("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def is_v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


class StudentCgroup:
    """One cgroup per student server, under ``lms/`` in every controller it limits."""

    def __init__(self, name: str, *, memory_bytes: int, cpu: float, pids: int = 512):
        self.name, self.memory_bytes, self.cpu, self.pids = name, memory_bytes, cpu, pids

    def paths(self) -> list[Path]:
        if is_v2():
            return [ROOT / "lms" / self.name]
        return [ROOT / c / "lms" / self.name for c in ("memory", "cpu", "pids")]

    def create(self) -> None:
        if is_v2():
            parent = ROOT / "lms"
            parent.mkdir(exist_ok=True)
            (ROOT / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            (parent / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            group = parent / self.name
            group.mkdir(exist_ok=True)
            (group / "memory.max").write_text(str(self.memory_bytes))
            _write_if_exists(group / "memory.swap.max", "0")
            (group / "cpu.max").write_text(f"{int(self.cpu * 100000)} 100000")
            (group / "pids.max").write_text(str(self.pids))
            return
        memory, cpu, pids = self.paths()
        for path in (memory, cpu, pids):
            path.mkdir(parents=True, exist_ok=True)
        # No swap either: memsw (memory + swap) is the strict cap where the kernel accounts
        # swap. The kernel keeps memory <= memsw at every step, so an existing group (a
        # server started again with another limit) is raised memsw first, lowered memory first.
        try:
            (memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
            _write_if_exists(memory / "memory.memsw.limit_in_bytes", str(self.memory_bytes))
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            _write_if_exists(memory / "memory.memsw.limit_in_bytes", str(self.memory_bytes))
            (memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
        (cpu / "cpu.cfs_period_us").write_text("100000")
        (cpu / "cpu.cfs_quota_us").write_text(str(int(self.cpu * 100000)))
        (pids / "pids.max").write_text(str(self.pids))

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the calling process) into every controller's group."""
        for path in self.paths():
            (path / "cgroup.procs").write_text(str(pid or os.getpid()))

    def pids_inside(self) -> set[int]:
        found: set[int] = set()
        for path in self.paths():
            try:
                found |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
            except FileNotFoundError:
                pass
        return found

    def kill_all(self) -> None:
        for pid in self.pids_inside():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self) -> None:
        for path in self.paths():
            try:
                path.rmdir()
            except (FileNotFoundError, OSError):
                pass


def _write_if_exists(path: Path, value: str) -> None:
    if path.exists():
        try:
            path.write_text(value)
        except OSError:  # e.g. swap accounting disabled on this kernel
            pass
