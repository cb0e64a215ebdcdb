"""Shared fixtures for the security tests: a real platform (sandbox spawner) and helpers that run
code inside a real student kernel and read what the host sees, to compare the two."""
from __future__ import annotations

import json
import os

import pytest

from tests.e2e.kernel import run_code
from tests.e2e.platform import Platform


def kernel_json(p: Platform, user: str, token: str, code: str, timeout: float = 120) -> dict:
    """Run ``code`` in ``user``'s kernel; it must print one JSON document as its last line."""
    out = run_code(p.url, user, token, code, timeout=timeout)
    assert out["error"] is None, out
    return json.loads(out["stdout"].strip().splitlines()[-1])


def pids_of_uid(uid: int) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                pids.append(int(pid))
        except OSError:
            continue
    return pids


def socket_inodes_of_uid(uid: int) -> set[int]:
    """Inodes of every socket held by processes of ``uid``, read from the host's /proc."""
    inodes: set[int] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        except OSError:
            continue
    return inodes


@pytest.fixture(scope="module")
def sandbox_platform(tmp_path_factory):
    """One real platform per test module (SQLite, sandbox spawner, demo data)."""
    p = Platform(tmp_path_factory.mktemp("security-platform") / "data").start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def two_students(sandbox_platform):
    """Two students with running servers: ``{name: token}``."""
    p = sandbox_platform
    tokens = {name: p.token(name) for name in ("maria", "noah")}
    for name in tokens:
        p.start_server(name)
    yield tokens
    for name in tokens:
        p.stop_server(name)
