"""What a sandboxed run sees of the host: the runtime it needs, read-only, and nothing else.

Probed from inside the sandbox twice: a code run (Judge0 language 71, as code challenges and
the Judge0-compatible API run it) and a notebook grading run (a student cell of a graded
submission). From inside, ``/`` holds only the runtime's directories; the checkout,
``courses/``, the LMS data folder, ``/home``, ``/root``, ``/var/lib``, ``/usr/local`` and
``/etc/shadow`` are absent. Marker files planted on the host (in ``/tmp``, ``/var/tmp`` and
the checkout) are not found by a walk of the whole tree, and the walk is checked to have
completed: its verdict does not depend on how many files the host has.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import pytest

from graders.judging import Status
from graders.limits import Limits

REPO = Path(__file__).resolve().parents[2]
# Top-level names a run may see: the runtime (/usr and its merged-usr links, a few files of
# /etc, /opt/lms for the notebook runner's packages) and its own private places.
ALLOWED_ROOT = {"bin", "box", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc",
                "sbin", "tmp", "usr"}

PROBE = r'''
import json, os, sys

def probe(job):
    report = {"root": sorted(os.listdir("/")), "present": [], "found": [], "entries": 0,
              "unreadable": [], "complete": False}
    for path in job["absent"]:
        try:
            os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:  # it exists, only refused: that is not absent
            report["present"].append(f"{path} ({type(exc).__name__})")
            continue
        report["present"].append(path)
    names = set(job["markers"])
    for top in sorted(os.listdir("/")):
        if top in ("proc", "sys", "dev"):
            continue
        for dirpath, dirnames, filenames in os.walk("/" + top,
                                                    onerror=lambda e: report["unreadable"].append(e.filename)):
            report["entries"] += len(dirnames) + len(filenames)
            for name in names.intersection(dirnames + filenames):
                report["found"].append(os.path.join(dirpath, name))
    report["complete"] = True
    return report
'''


@pytest.fixture(scope="module")
def sandbox():
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (cgroups, tmpfs mounts, per-run uids)")
    if not shutil.which("bwrap"):
        pytest.fail("bubblewrap is not installed (apt-get install bubblewrap)")
    from graders.submissions import default_sandbox

    return default_sandbox()


@pytest.fixture(scope="module")
def planted():
    """Marker files in host folders a run must not see, each with a hidden-test line."""
    name = f"lms-planted-{secrets.token_hex(6)}"
    folders = [Path("/tmp") / f"{name}-dir", Path("/var/tmp") / f"{name}-dir", REPO / f".{name}-dir"]
    for folder in folders:
        folder.mkdir(mode=0o755)
        (folder / name).write_text("### BEGIN HIDDEN TESTS\nassert answer == 42\n")
        os.chmod(folder / name, 0o644)
    yield name, folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def absent_paths(planted_folders) -> list[str]:
    from lms_extension.config import LMSConfig

    data_dir = Path(LMSConfig().data_dir)
    paths = [REPO, REPO / "courses", REPO / "graders", REPO / "README.md", REPO / ".git", data_dir,
             Path("/etc/shadow"), Path("/home"), Path("/root"), Path("/var/lib"), Path("/var/tmp"),
             Path("/usr/local"), Path("/run/lms-sandbox"), Path("/work"),
             *[folder / "x" for folder in planted_folders]]
    paths += [folder for folder in planted_folders if not str(folder).startswith("/tmp/")]
    return sorted({str(p) for p in paths})


def check(report: dict, allowed_extra: set[str] = frozenset()) -> None:
    assert report["complete"], report
    assert set(report["root"]) <= ALLOWED_ROOT | allowed_extra, report["root"]
    assert report["present"] == [], f"visible inside the sandbox: {report['present']}"
    assert report["found"] == [], f"planted host files found inside: {report['found']}"
    # the walk went through the runtime (it is not empty) and ended by itself
    assert report["entries"] > 1000


def test_code_run_sees_only_the_runtime(sandbox, planted):
    name, folders = planted
    job = {"absent": absent_paths(folders), "markers": [name]}
    source = PROBE + f"\nprint(json.dumps(probe({json.dumps(job)})))\n"
    result = sandbox.run(source, 71, limits=Limits(cpu_time=15, wall_time=20, max_file_size=4096))
    assert result.status is Status.ACCEPTED, (result.status, result.message, result.stderr[-2000:])
    check(json.loads(result.stdout))


def test_every_language_still_runs_in_the_small_root(sandbox):
    programs = {
        50: '#include <stdio.h>\nint main(void){printf("ok\\n");return 0;}',
        52: '#include <iostream>\nint main(){std::cout<<"ok"<<std::endl;}',
        62: 'public class Main{public static void main(String[] a){System.out.println("ok");}}',
        63: 'console.log("ok")',
        71: 'print("ok")',
    }
    for language, source in programs.items():
        result = sandbox.run(source, language, expected_output="ok\n")
        assert result.status is Status.ACCEPTED, (language, result.status, result.message,
                                                  result.stderr[-1000:], result.compile_output)


def test_notebook_grading_run_sees_only_the_runtime(planted):
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (cgroups, tmpfs mounts, per-run uids)")
    from graders.notebook import grade_submission_sync, runner_environment

    name, folders = planted
    prefix = os.path.realpath(os.path.dirname(os.path.dirname(runner_environment().interpreter)))
    allowed_extra = set()
    absent = absent_paths(folders)
    if prefix != "/usr":
        # an interpreter outside /usr (pyenv, say) is visible at its own path, and only it
        allowed_extra.add(prefix.strip("/").split("/")[0])
        absent = [p for p in absent if not (prefix + "/").startswith(p.rstrip("/") + "/")]
        parent = os.path.dirname(prefix)
        absent += [os.path.join(parent, entry) for entry in os.listdir(parent)
                   if os.path.join(parent, entry) != prefix]
    job = {"absent": absent, "markers": [name]}
    source = {"nbformat": 4, "nbformat_minor": 5,
              "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                          "language": "python"}},
              "cells": [
                  {"cell_type": "code", "id": "probe", "execution_count": None, "outputs": [],
                   "metadata": {"nbgrader": {"schema_version": 3, "grade": False, "solution": True,
                                             "locked": False, "task": False, "grade_id": "probe"}},
                   "source": "### BEGIN SOLUTION\npass\n### END SOLUTION"},
                  {"cell_type": "code", "id": "check", "execution_count": None, "outputs": [],
                   "metadata": {"nbgrader": {"schema_version": 3, "grade": True, "solution": False,
                                             "locked": True, "task": False, "grade_id": "check",
                                             "points": 1}},
                   "source": "assert True"}]}
    submitted = json.loads(json.dumps(source))
    submitted["cells"][0]["source"] = (PROBE + f"\nimport graders\nreport = probe({json.dumps(job)})\n"
                                       "report['graders'] = graders.__file__\n"
                                       "print('REPORT' + json.dumps(report))\n")
    result = grade_submission_sync({"probe.ipynb": json.dumps(source)},
                                   {"probe.ipynb": json.dumps(submitted)}, cell_timeout=60)
    assert result.error is None, result.error
    graded = json.loads(result.notebooks[0].autograded_notebook)
    outputs = graded["cells"][0]["outputs"]
    text = "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                   for o in outputs if o.get("output_type") == "stream")
    assert "REPORT" in text, outputs
    report = json.loads(text.split("REPORT", 1)[1].splitlines()[0])
    check(report, allowed_extra)
    # the runner's own modules come from a copy, not from the checkout
    assert not report["graders"].startswith(str(REPO) + "/"), report["graders"]
