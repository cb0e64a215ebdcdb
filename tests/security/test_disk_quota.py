"""A student's home has a size limit (LMS_DISK_LIMIT) that their own code cannot pass.

The platform runs with the sandbox spawner and a 64M limit. From inside a real student
kernel, writing past the limit ends in OSError ENOSPC; the host disk under the data folder
is charged no more than the limit; another student still writes; saving through the
Jupyter contents API on a full home answers with Jupyter's own clear error, not a hang.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.e2e.kernel import run_code
from tests.e2e.platform import Platform

MiB = 2**20
LIMIT = 64 * MiB
ROOT_AND_LOOP = os.geteuid() == 0 and shutil.which("mkfs.ext4") and Path("/dev/loop-control").exists()
pytestmark = pytest.mark.skipif(not ROOT_AND_LOOP, reason="home images need root, mkfs.ext4 and loop devices "
                                                          "(scripts/system-deps.sh installs e2fsprogs)")

FILL = """
import errno, json, os
written, error = 0, None
chunk = b"x" * (1 << 20)
try:
    with open(os.path.expanduser("~/fill.bin"), "wb", buffering=0) as f:
        while written < {cap}:
            written += f.write(chunk)
            os.fsync(f.fileno())
except OSError as e:
    error = e.errno
print(json.dumps({{"written": written, "errno": error, "home": os.path.expanduser("~")}}))
"""


def host_bytes(folder: Path) -> int:
    """Disk space the host's own file system gives to everything under ``folder``
    (allocated blocks, not apparent sizes; file systems mounted below are not counted)."""
    device, total = folder.stat().st_dev, 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(root, d)).st_dev == device]
        for name in files:
            st = os.lstat(os.path.join(root, name))
            if st.st_dev == device:
                total += st.st_blocks * 512
    return total


@pytest.fixture(scope="module")
def quota_platform(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("quota") / "data", extra_env={"LMS_DISK_LIMIT": "64M"}).start()
    yield p
    p.stop()


def kernel(p: Platform, user: str, token: str, code: str) -> dict:
    out = run_code(p.url, user, token, code, timeout=120)
    assert out["error"] is None, out
    return json.loads(out["stdout"].strip().splitlines()[-1])


def test_writing_past_the_limit_from_a_kernel_fails_with_enospc(quota_platform):
    p = quota_platform
    tokens = {name: p.token(name) for name in ("quota-ann", "quota-ben")}
    for name in tokens:
        p.start_server(name)
    headers = {"Authorization": f"token {tokens['quota-ann']}"}
    notes = f"{p.url}/user/quota-ann/api/contents/notes.txt"

    def save(url, text):
        return requests.put(url, headers=headers, timeout=60, json={"type": "file", "format": "text", "content": text})

    try:
        assert save(notes, "my notes").status_code == 201
        before = host_bytes(p.data_dir)
        full = kernel(p, "quota-ann", tokens["quota-ann"], FILL.format(cap=2 * LIMIT))
        grown = host_bytes(p.data_dir) - before
        print(f"limit {LIMIT} bytes: wrote {full['written']} bytes before errno {full['errno']}; "
              f"host disk under the data folder grew by {grown} bytes")
        assert full["errno"] == errno.ENOSPC, full
        assert LIMIT * 3 // 4 <= full["written"] <= LIMIT, full
        assert grown <= LIMIT, f"the host was charged {grown} bytes for a {LIMIT}-byte home"
        # the host's own file system is not full: root still writes next to the homes
        probe = p.data_dir / "host-probe"
        probe.write_bytes(b"y" * (4 * MiB))
        probe.unlink()

        # another student is unaffected
        other = kernel(p, "quota-ben", tokens["quota-ben"], FILL.format(cap=8 * MiB))
        assert other == {**other, "written": 8 * MiB, "errno": None}, other

        # saving from JupyterLab on the full home: Jupyter's own error, promptly, and the
        # file keeps what it had (Jupyter writes over a backup copy it restores on failure)
        r = save(notes, "z" * (4 * MiB))
        assert r.status_code == 500 and "No space left on device" in r.json()["message"], r.text[:300]
        assert requests.get(notes, headers=headers, timeout=60).json()["content"] == "my notes"
        # a new file: jupyter_server's atomic writer reports the missing backup instead of
        # ENOSPC, but it is still its ordinary "Unexpected error while saving" answer
        r = save(f"{p.url}/user/quota-ann/api/contents/new.txt", "z" * (4 * MiB))
        assert r.status_code == 500 and "Unexpected error while saving file" in r.json()["message"], r.text[:300]

        # deleting the big file gives the room back
        assert requests.delete(f"{p.url}/user/quota-ann/api/contents/fill.bin", headers=headers,
                               timeout=60).status_code == 204
        again = kernel(p, "quota-ann", tokens["quota-ann"], FILL.format(cap=8 * MiB))
        assert again["errno"] is None and again["written"] == 8 * MiB, again
    finally:
        for name in tokens:
            p.stop_server(name)


def test_a_server_that_died_gives_back_its_home(quota_platform):
    """JupyterHub calls the spawner's stop() only for a server still running; the home of
    one that died (OOM-killed, crashed) is unmounted all the same when the hub clears it."""
    p, user = quota_platform, "quota-gone"
    p.token(user)
    p.start_server(user)
    home = p.data_dir / "homes" / user
    assert os.path.ismount(home)
    uid = home.stat().st_uid
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                os.kill(int(pid), 9)
        except (FileNotFoundError, ProcessLookupError):
            pass
    p.stop_server(user)
    assert not os.path.ismount(home), "the home of a server that died is still mounted"


# --- the home images themselves (hub_config.homes), on real loop mounts -------------------

def mounted(path: Path) -> bool:
    return os.path.ismount(path)


def test_existing_home_is_moved_into_the_image_without_loss(tmp_path):
    from hub_config.homes import StudentHome

    folder = tmp_path / "homes" / "old-student"
    (folder / "courses" / "c1").mkdir(parents=True)
    (folder / "courses" / "c1" / "lesson.ipynb").write_text('{"cells": []}')
    (folder / ".hidden").write_bytes(os.urandom(3 * MiB))
    os.symlink("courses/c1/lesson.ipynb", folder / "link")
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, 20077, 20077)
    expected = (folder / ".hidden").read_bytes()
    home = StudentHome(folder, uid=20077, limit=32 * MiB)
    home.prepare()
    try:
        assert mounted(folder)
        assert (folder / "courses" / "c1" / "lesson.ipynb").read_text() == '{"cells": []}'
        assert (folder / ".hidden").read_bytes() == expected
        assert os.readlink(folder / "link") == "courses/c1/lesson.ipynb"
        assert (folder / ".hidden").stat().st_uid == 20077
        st = folder.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (20077, 0o700)
    finally:
        home.release()
    assert not mounted(folder) and not any(folder.iterdir()), "the old copy is gone from the host folder"
    home.prepare()  # and the next start finds everything again
    try:
        assert (folder / ".hidden").read_bytes() == expected
    finally:
        home.release()


def test_a_raised_limit_grows_the_home_and_keeps_the_data(tmp_path):
    from hub_config.homes import StudentHome

    folder = tmp_path / "homes" / "grower"
    small = StudentHome(folder, uid=20078, limit=16 * MiB)
    small.prepare()
    try:
        (folder / "keep.txt").write_text("kept")
        size_small = shutil.disk_usage(folder).total
    finally:
        small.release()
    big = StudentHome(folder, uid=20078, limit=48 * MiB)
    big.prepare()
    try:
        assert (folder / "keep.txt").read_text() == "kept"
        assert shutil.disk_usage(folder).total > size_small + 24 * MiB
    finally:
        big.release()


def test_no_limit_means_a_plain_folder(tmp_path):
    from hub_config.homes import StudentHome, parse_limit

    assert parse_limit("0") is None and parse_limit("none") is None and parse_limit("2G") == 2 * 2**30
    folder = tmp_path / "homes" / "free"
    home = StudentHome(folder, uid=20079, limit=None)
    home.prepare()
    assert folder.is_dir() and not mounted(folder) and folder.stat().st_uid == 20079
    home.release()


def test_a_home_left_mounted_by_a_crashed_hub_is_reused(tmp_path):
    from hub_config.homes import StudentHome

    folder = tmp_path / "homes" / "crash"
    first = StudentHome(folder, uid=20080, limit=16 * MiB)
    first.prepare()
    (folder / "a.txt").write_text("a")
    try:
        StudentHome(folder, uid=20080, limit=16 * MiB).prepare()  # a new hub process starts the server
        assert (folder / "a.txt").read_text() == "a"
        mounts = subprocess.run(["findmnt", "-rn", "-o", "TARGET", str(folder)], capture_output=True, text=True)
        assert mounts.stdout.split() == [str(folder)], "mounted once, not stacked"
    finally:
        first.release()
    assert not mounted(folder)


def test_a_home_still_busy_at_stop_is_never_mounted_twice(tmp_path):
    """Something on the host still holds the home when the server stops: it is detached
    lazily, and the next start mounts the same live file system again (same loop device,
    no resize of a file system in use), never a second copy of it."""
    from hub_config.homes import StudentHome

    folder = tmp_path / "homes" / "busy"
    StudentHome(folder, uid=20081, limit=16 * MiB).prepare()
    holder = subprocess.Popen(["sleep", "30"], cwd=folder)
    try:
        StudentHome(folder, uid=20081, limit=16 * MiB).release()
        assert not mounted(folder)
        bigger = StudentHome(folder, uid=20081, limit=32 * MiB)
        bigger.prepare()
        devices = subprocess.run(["losetup", "-j", str(bigger.image)], capture_output=True, text=True).stdout
        assert len(devices.splitlines()) == 1, devices
        assert bigger.image.stat().st_size == 16 * MiB, "e2fsck and resize2fs ran on a file system in use"
    finally:
        holder.kill()
        holder.wait()
        StudentHome(folder, uid=20081, limit=32 * MiB).release()
