"""The cgroup v2 code path, on the kernel's real cgroup2 filesystem.

This machine runs cgroup v1: every controller the sandbox needs (memory, pids) is bound
to a v1 hierarchy, so a cgroup2 mount here offers none of them. What v2 does without
controllers is still the real kernel's: creating a run group, joining it, the CPU
accounting of ``cpu.stat``, killing a whole tree (daemons included) through
``cgroup.kill``, removal, and refusing to start when memory/pids are not delegated.
The limits themselves (memory.max, pids.max) are exercised by every other sandbox test
on v1 and only there.
"""
import os
import subprocess
import time
from pathlib import Path

import pytest

from graders import cgroups


@pytest.fixture
def cgroup2(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting cgroup2 needs root")
    mount = tmp_path / "cg2"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "cgroup2", "none", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this kernel cannot mount cgroup2 here: {done.stderr.strip()}")
    yield mount
    for child in sorted(mount.glob("lms-v2-test*"), reverse=True):
        for _ in range(100):
            try:
                child.rmdir()
                break
            except OSError:
                time.sleep(0.02)
    subprocess.run(["umount", str(mount)], check=True)


def test_v2_without_memory_and_pids_is_refused_with_the_reason(cgroup2, monkeypatch):
    available = set((cgroup2 / "cgroup.controllers").read_text().split())
    if {"memory", "pids"} <= available:
        pytest.skip("memory and pids are delegated on this host: nothing to refuse")
    monkeypatch.setattr(cgroups, "CGROUP_MOUNT", cgroup2)
    monkeypatch.setattr(cgroups, "_own_cgroup_paths", lambda: {"": "/"})
    with pytest.raises(cgroups.CgroupUnavailable, match=r"cgroup v2 controllers .*'memory'.* not delegated"):
        cgroups.CgroupManager("lms-v2-test")


def test_v2_group_accounts_cpu_and_kills_a_daemonized_tree(cgroup2):
    directory = cgroup2 / "lms-v2-test-run"
    directory.mkdir()
    group = cgroups._RunCgroupV2(directory)
    # a shell that joins the group, burns some CPU, then leaves a double-forked daemon
    script = (f'echo $$ > {directory}/cgroup.procs; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; '
              '(setsid sh -c "sleep 300 & sleep 300" &) ; sleep 300')
    parent = subprocess.Popen(["sh", "-c", script])
    deadline = time.monotonic() + 10
    while len(group.pids()) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    members = group.pids()
    assert len(members) >= 4, members  # the shell, its sleep and the daemon's two
    assert group.cpu_seconds() > 0.005  # the loop's CPU time, from cpu.stat
    group.kill_all()  # cgroup.kill, then a check that nothing is left
    assert group.is_empty()
    assert parent.wait(timeout=5) == -9
    for pid in members:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    group.remove()
    assert not directory.exists()
