"""Code runs and notebook grading work wherever the checkout lives, even in a folder only root
may enter, and the run still sees nothing but the runtime.

The checkout and its venv are placed in a fresh ``mktemp -d`` folder (mode 0700) without
copying them: in a mount namespace of the test's own, this checkout is bound at
``<tmp>/jupyter-lms`` and its usual place is covered by an empty tmpfs, so every path the
host side uses (the venv, its site-packages, the modules imported) lies under the private
folder and nothing is found at the old place. There, the probes of ``test_grader_root`` run
unchanged: a code run and a notebook grading run walk the whole tree they see and look for
the checkout, ``courses/``, the LMS data, markers planted in the checkout, and more.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBES = ("test_code_run_sees_only_the_runtime", "test_notebook_grading_run_sees_only_the_runtime")


@pytest.fixture
def private_folder():
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (cgroups, tmpfs mounts, per-run uids)")
    for tool in ("bwrap", "unshare", "mount"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (scripts/system-deps.sh installs it)")
    folder = tempfile.mkdtemp(prefix="lms-private-")  # what `mktemp -d` makes: 0700, root's
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def run_probes(private_folder: Path, probes: tuple[str, ...], hide: tuple[str, ...] = ()):
    """Run probes of test_grader_root with this checkout at ``<private_folder>/jupyter-lms``
    (and the files ``hide`` covered by an empty one), in a mount namespace of their own."""
    checkout = private_folder / "jupyter-lms"
    checkout.mkdir()
    python = checkout / ".venv" / "bin" / "python"
    inner = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "-rfE",
             *[f"tests/security/test_grader_root.py::{name}" for name in probes]]
    # Everything below lives in the namespace's copy of the mount table: the host never
    # sees the bind, the covers or any mount the sandbox makes meanwhile.
    script = ('set -e; mount --rbind "$1" "$2"; '
              'mount -t tmpfs -o ro,size=4k,mode=0755 cover "$1"; cd "$2"; shift 2; '
              'while [ "$1" != -- ]; do mount --bind /dev/null "$1"; shift; done; '
              'shift; exec "$@"')
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "VIRTUAL_ENV", "PYTHON"))}
    env["PYTHONPATH"] = str(checkout)
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "lms-private",
         str(REPO), str(checkout), *hide, "--", *inner],
        env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, output
    assert f"{len(probes)} passed" in done.stdout, output


def test_code_and_notebook_runs_from_a_checkout_only_root_can_enter(private_folder):
    run_probes(private_folder, PROBES)
    assert_still_private(private_folder)


def test_notebook_runs_with_an_interpreter_only_root_can_reach(private_folder):
    """The venv's interpreter lives in a folder only root may enter (pyenv under /root) and
    the system has no Python of its version: the sandbox shows its prefix, and only it."""
    base = Path(os.path.realpath(sys.executable))
    if base.parent.parent == Path("/usr") or all(
            os.stat(folder).st_mode & 0o001 for folder in base.parents):
        pytest.skip(f"the venv's interpreter ({base}) is one every user may reach already")
    version = "%d.%d" % sys.version_info[:2]
    hide = tuple(path for path in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}")
                 if os.path.exists(path))
    run_probes(private_folder, PROBES[1:], hide)
    assert_still_private(private_folder)


def assert_still_private(private_folder: Path) -> None:
    # the folder stayed private: the sandbox made nothing of it visible to others, and no
    # mount on the host shows any part of it
    checkout = private_folder / "jupyter-lms"
    assert stat.S_IMODE(os.stat(private_folder).st_mode) == 0o700
    assert not checkout.joinpath("README.md").exists()  # the bind was the namespace's only
    with open("/proc/self/mountinfo") as mounts:
        assert str(private_folder) not in mounts.read()


@pytest.fixture(autouse=True)
def no_view_left(private_folder):
    """The empty folder the sandbox showed this test's site-packages at goes with the test
    (views are named after the real path of their source; this one will not come back)."""
    yield
    with contextlib.suppress(OSError, ValueError):  # ValueError: a venv outside the checkout
        site = Path(sysconfig.get_paths()["purelib"]).resolve().relative_to(REPO)
        name = hashlib.sha256(os.fsencode(private_folder / "jupyter-lms" / site)).hexdigest()[:16]
        os.rmdir(Path("/run/lms-sandbox/views") / name)
