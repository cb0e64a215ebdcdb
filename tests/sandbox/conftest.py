"""Fixtures for the sandbox tests: a real Sandbox (bwrap, cgroups, compilers; no mocks).

Every test here ends with a check that nothing of any run is left on the host: no run
cgroup, no scratch directory or mount, no process of a sandbox uid.
"""

import os
import shutil

import pytest

from graders.submissions import SubmissionSandbox


@pytest.fixture(scope="session")
def sandbox() -> SubmissionSandbox:
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (cgroups, tmpfs mounts, per-run uids)")
    if not shutil.which("bwrap"):
        pytest.fail("bubblewrap is not installed (apt-get install bubblewrap)")
    return SubmissionSandbox()


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    yield
    if "sandbox" in request.fixturenames:
        assert request.getfixturevalue("sandbox").residue() == []
