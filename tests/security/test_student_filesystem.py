"""What a student's server sees on disk: a minimal read-only runtime and their own home.

Checked from inside a real student kernel: the checkout, ``courses/``, the LMS data folder,
other homes, ``/root``, ``/etc/shadow`` and PostgreSQL's files are not there; a walk of the
whole tree finds no file that is one of those on the host (same device and inode: bind
mounts keep both) and no file holding a hidden-test marker planted for this test.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import COURSES
from tests.e2e.platform import REPO, Platform
from tests.security.conftest import kernel_json

COURSE = "python-for-beginners"
MARKER = "HIDDEN-MARKER-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def marked_platform(sandbox_platform, tmp_path_factory):
    """The demo platform, with a course version whose hidden tests hold ``MARKER``."""
    course = tmp_path_factory.mktemp("marked") / COURSE
    shutil.copytree(COURSES / COURSE, course)
    planted = 0
    for nb_path in (course / "lessons").glob("*.ipynb"):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if "### BEGIN HIDDEN TESTS" in src:
                cell["source"] = src.replace("### BEGIN HIDDEN TESTS", f"### BEGIN HIDDEN TESTS\n# {MARKER}", 1)
                planted += 1
        nb_path.write_text(json.dumps(nb))
    assert planted
    subprocess.run([str(Path(sys.executable).parent / "lms"), "course", "import", str(course)],
                   env=sandbox_platform.env, check=True, capture_output=True)
    shutil.rmtree(course)  # the marker now lives only in the LMS database
    return sandbox_platform


@pytest.fixture(scope="module")
def student(marked_platform):
    p = marked_platform
    tokens = {name: p.token(name) for name in ("maria", "noah")}
    for name in tokens:
        p.start_server(name)
    # maria opens a lesson, so her home holds the released version (without hidden tests)
    first = p.as_user(tokens["maria"]).get(p.lms + f"api/v1/courses/{COURSE}").json()["lessons"][0]["id"]
    p.as_user(tokens["maria"]).post(p.lms + f"api/v1/courses/{COURSE}/enroll")
    p.as_user(tokens["maria"]).get(f"{p.url}/user/maria/lms/open", params={"course": COURSE, "lesson": first},
                                   allow_redirects=False)
    yield tokens["maria"]
    for name in tokens:
        p.stop_server(name)


def secret_files(p) -> dict[str, list[int]]:
    """(device, inode) of files on the host a student must not reach, keyed by a readable path."""
    roots = [REPO / "courses", REPO / "tests", REPO / ".git", p.data_dir, Path("/var/lib/postgresql")]
    found: dict[str, list[int]] = {}
    maria_id = (p.data_dir / "homes" / "maria").stat().st_uid - 20000  # uid_base + hub user id
    own = {p.data_dir / "homes" / "maria", p.data_dir / "run" / str(maria_id)}

    def add(path: Path) -> None:
        try:
            st = path.lstat()
        except OSError:
            return
        found[str(path)] = [st.st_dev, st.st_ino]

    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            if Path(dirpath) in own:
                dirnames[:] = []  # her own home, and her server's run directory (/run/lms)
                continue
            for name in filenames:
                add(Path(dirpath) / name)
    for entry in REPO.iterdir():  # the checkout's own files (README, pyproject, scripts, ...)
        if entry.is_file():
            add(entry)
    for entry in Path("/root").iterdir():  # root's home, apart from the interpreter under it
        if entry.name != ".pyenv":
            add(entry)
    add(Path("/etc/shadow"))
    return found


def test_secret_paths_are_not_there(student, marked_platform):
    p = marked_platform
    paths = [REPO / "courses", REPO / "tests", REPO / ".git", REPO / "README.md", REPO / "pyproject.toml",
             p.data_dir, p.data_dir / "lms.sqlite", p.data_dir / "homes", p.data_dir / "homes" / "noah",
             "/etc/shadow", "/var/lib/postgresql", "/root/.bash_history", "/root/.ssh", "/home/noah"]
    code = f'''
import json, os
paths = {[str(x) for x in paths]!r}
print(json.dumps({{
    "exists": {{x: os.path.lexists(x) for x in paths}},
    "root_listing": sorted(os.listdir("/root")) if os.path.isdir("/root") else None,
    "home_listing": sorted(os.listdir("/home")),
    "checkout_listing": sorted(os.listdir({str(REPO)!r})) if os.path.isdir({str(REPO)!r}) else None,
    "write_usr": os.access("/usr/lib", os.W_OK),
}}))
'''
    facts = kernel_json(p, "maria", student, code)
    visible = sorted(x for x, there in facts["exists"].items() if there)
    assert visible == [], f"visible to a student: {visible}"
    assert facts["home_listing"] == ["maria"]
    assert facts["root_listing"] in (None, [], [".pyenv"]), facts["root_listing"]
    # if the runtime (the venv) lives in the checkout, nothing else of the checkout comes along
    assert facts["checkout_listing"] in (None, [], [".venv"]), facts["checkout_listing"]
    assert not facts["write_usr"]


def test_walk_of_the_root_finds_no_secret(student, marked_platform):
    """Every file reachable from the kernel is compared with the host's secret files by
    (device, inode), and every small file outside the system's read-only software trees is
    read for the planted marker."""
    p = marked_platform
    secrets_by_path = secret_files(p)
    assert any("/courses/" in path for path in secrets_by_path)
    code = f'''
import json, os, sys
secret = {{tuple(v): k for k, v in json.loads({json.dumps(secrets_by_path)!r}).items()}}
marker = {MARKER!r}.encode()
software = tuple(os.path.realpath(x) + "/" for x in {{"/usr", sys.base_prefix, sys.prefix}})
hits, marked, files = [], [], 0
for dirpath, dirnames, filenames in os.walk("/"):
    if dirpath in ("/proc", "/sys", "/dev"):
        dirnames[:] = []
        continue
    for name in dirnames + filenames:
        path = os.path.join(dirpath, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        files += 1
        if (st.st_dev, st.st_ino) in secret:
            hits.append([path, secret[(st.st_dev, st.st_ino)]])
        if name in filenames and (path + "/").startswith(software) is False and 0 < st.st_size < 4 << 20:
            try:
                with open(path, "rb") as f:
                    if marker in f.read():
                        marked.append(path)
            except OSError:
                pass
print(json.dumps({{"hits": hits[:50], "marked": marked[:50], "files": files}}))
'''
    facts = kernel_json(p, "maria", student, code, timeout=900)
    assert facts["files"] > 100  # the walk saw the runtime
    assert facts["hits"] == [], f"host files a student can reach: {facts['hits']}"
    assert facts["marked"] == [], f"files holding the hidden-test marker: {facts['marked']}"


def test_server_runs_from_a_minimal_root(student, marked_platform):
    """The root is built from a short list of mounts, not from the host's ``/`` with parts masked."""
    code = r'''
import json, os
print(json.dumps({"top": sorted(os.listdir("/")), "etc": sorted(os.listdir("/etc"))}))
'''
    facts = kernel_json(marked_platform, "maria", student, code)
    system = {"bin", "lib", "lib32", "lib64", "libx32", "sbin", "usr", "etc", "home", "tmp", "run", "proc",
              "dev", "var", "opt"}
    # the interpreter and the venv are bound where they live on the host, so their top folder shows
    runtime = {Path(x).resolve().parts[1] for x in (sys.base_prefix, sys.prefix)}
    extra = sorted(set(facts["top"]) - system - runtime)
    assert extra == [], f"host folders in the student's root: {extra}"
    for secret in ("shadow", "gshadow", "ssh", "sudoers", "ssl/private"):
        assert secret not in facts["etc"], secret


class RootOnlyCheckoutPlatform(Platform):
    """The platform run from a checkout (and its venv) inside a folder only root can enter.

    In a private mount namespace of the platform's own, this checkout is bound at
    ``<mktemp -d>/checkout`` and everything runs from there: the interpreter from the venv
    at that path, the packages from that path (PYTHONPATH), as a clone there would. Other
    processes on the machine see nothing of it."""

    def __init__(self, folder: Path):
        self.checkout = folder / "checkout"
        self.checkout.mkdir()
        super().__init__(folder / "data", extra_env={"PYTHONPATH": str(self.checkout)})

    def command(self) -> list[str]:
        script = 'mount --bind "$0" "$1" && cd "$1" && exec "$1/.venv/bin/python" -m lms_extension.cli run'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(REPO), str(self.checkout)]


def test_spawn_works_with_the_checkout_in_a_root_only_folder():
    folder = Path(tempfile.mkdtemp(prefix="lms-root-only-"))  # mode 0700, as `mktemp -d` makes it
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    p = RootOnlyCheckoutPlatform(folder)
    try:
        p.start()
        token = p.token("ada")
        p.start_server("ada")
        facts = kernel_json(p, "ada", token, "import json, sys, lms_extension\n"
                                            "print(json.dumps({'prefix': sys.prefix, 'pkg': lms_extension.__file__}))")
        assert facts["prefix"] == str(p.checkout / ".venv")  # really the venv inside the root-only folder
        assert not facts["pkg"].startswith(str(REPO))
        p.stop_server("ada")
    finally:
        p.stop()
        if not any(p.checkout.iterdir()):  # never remove anything through a bind still mounted
            shutil.rmtree(folder, ignore_errors=True)
