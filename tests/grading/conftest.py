"""Fixtures for the notebook autograder tests: the real sandbox, the bundled courses, and
real nbgrader (run as its CLI) to compare with.

Every test that grades ends with a check that nothing of any run is left on the host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grading.helpers import COURSES, NBGRADER, bin_path

PARITY_LESSONS = {
    # assignment id -> lesson notebook; one per course, the slow comparisons stay few
    "hello": "python-for-beginners/lessons/01-hello-python.ipynb",
    "groupby": "data-analysis-with-pandas/lessons/03-groupby-and-aggregation.ipynb",
    "bfs": "algorithms-cpp-java/lessons/05-graphs-bfs.ipynb",
}
PAIR_LESSONS = [  # an assignment of two notebooks
    "python-for-beginners/lessons/02-strings.ipynb",
    "python-for-beginners/lessons/05-functions.ipynb",
]


@pytest.fixture(scope="session")
def grading_sandbox():
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (cgroups, tmpfs mounts, per-run uids)")
    if not shutil.which("bwrap"):
        pytest.fail("bubblewrap is not installed (apt-get install bubblewrap)")
    from graders.notebook import notebook_sandbox

    return notebook_sandbox()


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    yield
    if "grading_sandbox" in request.fixturenames:
        # runs are named "<server pid>-<random>": other processes on this host (other
        # test sessions) may be running sandboxes of their own meanwhile
        mine = f" {os.getpid()}-"
        leftovers = [r for r in request.getfixturevalue("grading_sandbox").residue()
                     if mine in f" {r.split(' ', 1)[1].rsplit('/', 1)[-1]}"]
        assert leftovers == []


def run_nbgrader(course_dir: Path, *args: str) -> subprocess.CompletedProcess:
    # LMS_JUDGE_LOCAL: nbgrader's kernels (which load %%judge from the venv's IPython
    # config) compile C++/Java exercises locally, as our runner does in the sandbox.
    env = dict(os.environ, PATH=bin_path(), JUPYTER_CONFIG_DIR=str(course_dir / ".jupyter-config"),
               LMS_JUDGE_LOCAL="1")
    env.pop("JUPYTER_CONFIG_PATH", None)
    done = subprocess.run([NBGRADER, *args], cwd=course_dir, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def write_config(course_dir: Path, course_id: str = "lms-test") -> None:
    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
    )


@pytest.fixture(scope="session")
def released_course(tmp_path_factory) -> Path:
    """A course directory where real ``nbgrader generate_assignment`` released one
    assignment per parity lesson plus a two-notebook assignment ``pair``. Tests copy it."""
    if not Path(NBGRADER).exists():
        pytest.skip("nbgrader is not installed in the project venv")
    course = tmp_path_factory.mktemp("course") / "course"
    course.mkdir()
    write_config(course)
    for assignment, lesson in PARITY_LESSONS.items():
        (course / "source" / assignment).mkdir(parents=True)
        shutil.copy(COURSES / lesson, course / "source" / assignment)
    (course / "source" / "pair").mkdir(parents=True)
    for lesson in PAIR_LESSONS:
        shutil.copy(COURSES / lesson, course / "source" / "pair")
    (course / "source" / "pair" / "data.txt").write_text("instructor data\n")
    for assignment in [*PARITY_LESSONS, "pair"]:
        run_nbgrader(course, "generate_assignment", assignment, "--force")
    return course


@pytest.fixture
def course_copy(released_course, tmp_path) -> Path:
    target = tmp_path / "course"
    shutil.copytree(released_course, target)
    return target


@pytest.fixture(scope="session", autouse=True)
def _python_path_for_subprocesses():
    # nbgrader's Gradebook runs `alembic`: the venv's bin must be on PATH in-process too.
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = bin_path()
    yield
    os.environ["PATH"] = old


__all__ = ["run_nbgrader", "write_config", "sys"]
