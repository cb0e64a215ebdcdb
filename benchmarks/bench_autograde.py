"""Autograding throughput against real ``nbgrader autograde``, and submit-to-score latency.

Builds an nbgrader course directory with one assignment of two bundled lesson notebooks,
released by real ``nbgrader generate_assignment``, and N submissions (reference solutions,
unsolved releases, partial solutions: a mix), then on two copies of that directory runs,
side by side, from the command line:

* ``nbgrader autograde ASSIGNMENT --force``;
* ``python -m graders.autograde ASSIGNMENT --course-dir DIR --force`` (``lms autograde``),
  which grades in the sandbox, several submissions per sandbox run, one run per CPU;

and prints submissions per second for both, the ratio, and whether every gradebook row
(auto score, needs manual grade, comments) is identical. Then the latency of one
submission through ``graders.notebook.grade_submission`` in a warm process (what the
grading worker does): p50 and max, against the "score visible within 2 s" target.

Targets (2 cores): >= 10x nbgrader's throughput with identical scores; p50 <= 2 s.

    sudo .venv/bin/python benchmarks/bench_autograde.py [--submissions 20] [--latency-runs 10]
        [--lessons python-for-beginners/lessons/02-strings.ipynb,...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_LESSONS = ("python-for-beginners/lessons/02-strings.ipynb",
                   "python-for-beginners/lessons/04-conditionals.ipynb")
ASSIGNMENT = "lesson"


def environment(course: Path) -> dict:
    bindir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                JUPYTER_CONFIG_DIR=str(course / ".jupyter-config"), LMS_JUDGE_LOCAL="1")


def nbgrader(course: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("nbgrader")), *args], cwd=course,
                          env=environment(course), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def ours(course: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "graders.autograde", ASSIGNMENT,
                           "--course-dir", str(course), "--force", "--quiet"],
                          cwd=ROOT, env=environment(course), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"lms autograde failed:\n{done.stderr[-3000:]}")
    return elapsed


def solve(release: str, source: str, grade_ids: set[str]) -> str:
    from graders.notebook_nbgrader import meta, reads

    solutions = {meta(c).get("grade_id"): c["source"] for c in reads(source)["cells"]}
    nb = json.loads(release)
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in grade_ids:
            cell["source"] = solutions[gid]
    return json.dumps(nb)


def build_course(base: Path, lessons: list[str], submissions: int) -> tuple[Path, dict, dict]:
    from graders.notebook_nbgrader import is_solution, meta, reads

    course = base / "template"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n")
    sources = {}
    for lesson in lessons:
        path = ROOT / "courses" / lesson
        sources[path.name] = path.read_text()
        shutil.copy(path, course / "source" / ASSIGNMENT / path.name)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    releases = {name: (course / "release" / ASSIGNMENT / name).read_text() for name in sources}
    rng = random.Random(4)
    kinds = ["reference", "blank", "partial", "partial"]
    for number in range(submissions):
        kind = kinds[number % len(kinds)]
        folder = course / "submitted" / f"student{number:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, source in sources.items():
            if kind == "reference":
                text = source
            elif kind == "blank":
                text = releases[name]
            else:
                ids = [meta(c)["grade_id"] for c in reads(source)["cells"] if is_solution(c)]
                text = solve(releases[name], source, set(rng.sample(ids, k=len(ids) // 2)))
            (folder / name).write_text(text)
    return course, sources, releases


def gradebook_rows(course: Path) -> list[tuple]:
    sys.modules.setdefault("rfc3987_syntax", None)
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "bench") as gb:
        for student in sorted(s.id for s in gb.students):
            for notebook in sorted(gb.find_submission(ASSIGNMENT, student).notebooks, key=lambda n: n.name):
                rows += [(student, notebook.name, g.name, g.auto_score, g.needs_manual_grade)
                         for g in sorted(notebook.grades, key=lambda g: g.name)]
                rows += [(student, notebook.name, c.name, c.auto_comment)
                         for c in sorted(notebook.comments, key=lambda c: c.name)]
    return rows


def latency(sources: dict, submitted: dict, runs: int) -> list[float]:
    from graders.notebook import grade_submission

    async def measure() -> list[float]:
        await grade_submission(sources, submitted)  # warm: masters parsed, sandbox set up
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            result = await grade_submission(sources, submitted)
            samples.append(time.perf_counter() - started)
            assert result.error is None, result.error
        return samples

    return asyncio.run(measure())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--latency-runs", type=int, default=10)
    parser.add_argument("--lessons", default=",".join(DEFAULT_LESSONS),
                        help="comma-separated lesson notebooks under courses/ (one assignment)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("the sandbox needs root: run with sudo", file=sys.stderr)
        return 2
    lessons = [x for x in args.lessons.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        base = Path(tmp)
        print(f"course: {len(lessons)} notebooks ({', '.join(Path(x).stem for x in lessons)}), "
              f"{args.submissions} submissions, {os.cpu_count()} CPUs")
        template, sources, releases = build_course(base, lessons, args.submissions)
        theirs, mine = base / "nbgrader", base / "lms"
        shutil.copytree(template, theirs)
        shutil.copytree(template, mine)
        their_time = nbgrader(theirs, "autograde", ASSIGNMENT, "--force")
        our_time = ours(mine)
        their_rows, our_rows = gradebook_rows(theirs), gradebook_rows(mine)
        identical = their_rows == our_rows
        n = args.submissions
        print(f"nbgrader autograde : {their_time:7.2f} s  {n / their_time:7.2f} submissions/s")
        print(f"lms autograde      : {our_time:7.2f} s  {n / our_time:7.2f} submissions/s")
        print(f"throughput ratio   : {their_time / our_time:7.1f}x  (target >= 10x)")
        print(f"identical scores   : {'yes' if identical else 'NO'} ({len(their_rows)} gradebook rows)")
        if not identical:
            for a, b in zip(their_rows, our_rows):
                if a != b:
                    print(f"  nbgrader {a}\n  lms      {b}")
        samples = sorted(latency(sources, {k: v for k, v in sources.items()}, args.latency_runs))
        p50 = samples[len(samples) // 2]
        print(f"submit-to-score    : p50 {p50:.2f} s, max {samples[-1]:.2f} s over {len(samples)} runs "
              f"(one {len(sources)}-notebook submission, its own sandbox run; target p50 <= 2 s)")
        return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
