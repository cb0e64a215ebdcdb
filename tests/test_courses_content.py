"""End-to-end checks for the bundled course content in ``courses/``.

For every course (one parametrized test per course) and every lesson of it, this:

1. validates ``course.toml`` and the lesson notebooks (format the importer relies on,
   nbgrader cell metadata, no stored outputs);
2. builds a throw-away nbgrader course directory outside the repository, puts each
   lesson notebook under ``source/<lesson-id>/`` and runs the real
   ``nbgrader generate_assignment <lesson-id> --force``;
3. checks that the released (student) notebook contains no solution code and no
   hidden tests;
4. submits the SOURCE notebook for one fake student and the RELEASED (unsolved)
   notebook for another, runs ``nbgrader autograde <lesson-id> --force`` and reads
   the scores through ``nbgrader.api.Gradebook``:
   the source must get full marks on every auto-graded cell, the release must get 0
   on every auto-graded cell (and the grader must not crash on it).

Manually graded (written) answers cannot be scored automatically: for them we only
check that the unanswered release is auto-scored 0 and that the answered source is
flagged for manual grading.

This runs every notebook twice through a Jupyter kernel, so it takes a few minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
COURSES_DIR = REPO / "courses"
COURSE_SLUGS = sorted(
    p.name for p in COURSES_DIR.iterdir() if p.is_dir() and (p / "course.toml").is_file()
) if COURSES_DIR.is_dir() else []

SLUG_RE = re.compile(r"^[a-z0-9-]+$")
LEVELS = {"beginner", "intermediate", "advanced"}
REQUIRED_KEYS = {
    "slug": str, "title": str, "subtitle": str, "description": str, "category": str,
    "level": str, "language": str, "price_cents": int, "currency": str,
    "instructor": str, "tags": list, "lessons": list,
}
NBGRADER_KEYS = {"schema_version", "grade", "solution", "locked", "task", "grade_id"}
CODE_STUB = {"# YOUR CODE HERE", "raise NotImplementedError()"}
TEXT_STUB = "YOUR ANSWER HERE"
SOLUTION_STUDENT = "ref-solution"
BLANK_STUDENT = "blank-release"


# --------------------------------------------------------------------------- helpers

def nbgrader_cmd() -> list[str]:
    """The nbgrader CLI of the project venv (falls back to the running interpreter's)."""
    for candidate in (REPO / ".venv" / "bin" / "nbgrader", Path(sys.executable).with_name("nbgrader")):
        if candidate.exists():
            return [str(candidate)]
    found = shutil.which("nbgrader")
    if found:
        return [found]
    return [sys.executable, "-m", "nbgrader"]


def bin_path() -> str:
    """PATH with the venv's bin dirs first: nbgrader shells out to ``alembic``."""
    dirs = [str(Path(nbgrader_cmd()[0]).parent), str(Path(sys.executable).parent)]
    return os.pathsep.join(dict.fromkeys(dirs + os.environ.get("PATH", "").split(os.pathsep)))


def run_nbgrader(course_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = bin_path()
    # C++/Java %%judge cells compile and run in the kernel itself (as in the sandboxed grader)
    env["LMS_JUDGE_LOCAL"] = "1"
    # Isolate from any user/system nbgrader or jupyter configuration.
    env["JUPYTER_CONFIG_DIR"] = str(course_dir / ".jupyter-config")
    env.pop("JUPYTER_CONFIG_PATH", None)
    proc = subprocess.run(
        [*nbgrader_cmd(), *args], cwd=course_dir, env=env,
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, (
        f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def source_lines(cell) -> list[str]:
    return [line.strip() for line in cell.source.splitlines() if line.strip()]


def split_region(cell, begin: str, end: str) -> tuple[set[str], set[str]]:
    """Return (lines outside the begin/end regions, lines inside them), stripped."""
    outside, inside, in_region = set(), set(), False
    for line in source_lines(cell):
        if begin in line:
            in_region = True
        elif end in line:
            in_region = False
        elif in_region:
            inside.add(line)
        else:
            outside.add(line)
    return outside, inside


def load_course(slug: str) -> dict:
    with open(COURSES_DIR / slug / "course.toml", "rb") as f:
        return tomllib.load(f)


def is_auto_graded(meta: dict) -> bool:
    return bool(meta.get("grade")) and not meta.get("solution")


def is_manual_graded(meta: dict) -> bool:
    return bool(meta.get("grade")) and bool(meta.get("solution"))


# ----------------------------------------------------------------- static validation

def validate_course_toml(slug: str, course: dict) -> list[str]:
    problems = []
    for key, typ in REQUIRED_KEYS.items():
        if not isinstance(course.get(key), typ):
            problems.append(f"course.toml: {key!r} missing or not a {typ.__name__}")
    if problems:
        return problems
    if course["slug"] != slug or not SLUG_RE.match(slug):
        problems.append(f"slug {course['slug']!r} must equal folder name {slug!r} and match [a-z0-9-]+")
    if course["level"] not in LEVELS:
        problems.append(f"level {course['level']!r} not in {sorted(LEVELS)}")
    if course["price_cents"] < 0 or isinstance(course["price_cents"], bool):
        problems.append("price_cents must be a non-negative integer")
    if not course["lessons"]:
        problems.append("course has no lessons")
    if not all(isinstance(t, str) and t for t in course["tags"]):
        problems.append("tags must be non-empty strings")
    seen = set()
    for lesson in course["lessons"]:
        lid = lesson.get("id", "")
        if not SLUG_RE.match(lid):
            problems.append(f"lesson id {lid!r} must match [a-z0-9-]+")
        if lid in seen:
            problems.append(f"duplicate lesson id {lid!r}")
        seen.add(lid)
        if not isinstance(lesson.get("title"), str) or not lesson["title"]:
            problems.append(f"lesson {lid}: missing title")
        nb_rel = lesson.get("notebook", "")
        if not nb_rel.startswith("lessons/") or not nb_rel.endswith(".ipynb"):
            problems.append(f"lesson {lid}: notebook must be lessons/<name>.ipynb, got {nb_rel!r}")
        elif not (COURSES_DIR / slug / nb_rel).is_file():
            problems.append(f"lesson {lid}: notebook {nb_rel} does not exist")
        if not isinstance(lesson.get("free_preview", False), bool):
            problems.append(f"lesson {lid}: free_preview must be a boolean")
    return problems


def validate_source_notebook(lid: str, nb) -> list[str]:
    problems = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:  # pragma: no cover - reported below
        problems.append(f"{lid}: invalid nbformat: {exc}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{lid}: kernelspec must be python3")
    grade_ids, auto_points = set(), 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{lid}: cell {i} has stored outputs")
        meta = nbg(cell)
        if not meta:
            if "BEGIN SOLUTION" in cell.source or "BEGIN HIDDEN TESTS" in cell.source:
                problems.append(f"{lid}: cell {i} has nbgrader markers but no nbgrader metadata")
            continue
        missing = NBGRADER_KEYS - meta.keys()
        if missing:
            problems.append(f"{lid}: cell {i} nbgrader metadata lacks {sorted(missing)}")
            continue
        gid = meta["grade_id"]
        if gid in grade_ids:
            problems.append(f"{lid}: duplicate grade_id {gid!r}")
        grade_ids.add(gid)
        if meta["schema_version"] != 3 or meta["task"] is not False:
            problems.append(f"{lid}/{gid}: expected schema_version 3 and task false")
        if meta["grade"]:
            if not isinstance(meta.get("points"), (int, float)) or meta["points"] <= 0:
                problems.append(f"{lid}/{gid}: grade cell needs positive points")
        elif "points" in meta:
            problems.append(f"{lid}/{gid}: points only belong on grade cells")
        if is_auto_graded(meta):
            if cell.cell_type != "code" or not meta["locked"]:
                problems.append(f"{lid}/{gid}: autograder test cells must be locked code cells")
            if "### BEGIN HIDDEN TESTS" not in cell.source or "### END HIDDEN TESTS" not in cell.source:
                problems.append(f"{lid}/{gid}: test cell has no hidden tests")
            if not re.search(r"^\s*assert\b", cell.source.split("### BEGIN HIDDEN TESTS")[0], re.M):
                problems.append(f"{lid}/{gid}: test cell has no visible asserts")
            auto_points += meta["points"]
        if meta["solution"] and cell.cell_type == "code":
            if "### BEGIN SOLUTION" not in cell.source or "### END SOLUTION" not in cell.source:
                problems.append(f"{lid}/{gid}: code solution cell without BEGIN/END SOLUTION")
        if meta["solution"] and meta["locked"]:
            problems.append(f"{lid}/{gid}: solution cells must not be locked")
    if auto_points <= 0:
        problems.append(f"{lid}: no auto-graded points")
    problems += untitled_exercises(lid, nb)
    return problems


def untitled_exercises(lid: str, nb) -> list[str]:
    """Every auto-graded exercise is introduced by a markdown cell with a heading (its title on
    the lesson page and in the gradebook): the nearest markdown cell above its test cell."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if not is_auto_graded(nbg(cell)):
            continue
        above = next((c for c in reversed(nb.cells[:i]) if c.cell_type == "markdown"), None)
        if above is None or not re.search(r"^#{1,4} \S", above.source, re.M):
            problems.append(f"{lid}/{nbg(cell)['grade_id']}: no markdown heading titles this exercise")
    return problems


# ------------------------------------------------------------- release inspection

def check_release(lid: str, source_nb, release_nb) -> list[str]:
    """(a) the release contains no solution code and no hidden tests."""
    problems = []
    release_by_id = {nbg(c).get("grade_id"): c for c in release_nb.cells if nbg(c)}
    for cell in source_nb.cells:
        meta = nbg(cell)
        if not meta:
            continue
        gid = meta["grade_id"]
        rel = release_by_id.get(gid)
        if rel is None:
            problems.append(f"{lid}/{gid}: missing from the release")
            continue
        if rel.cell_type == "code" and rel.get("outputs"):
            problems.append(f"{lid}/{gid}: release cell has outputs")
        text = rel.source
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            if marker in text:
                problems.append(f"{lid}/{gid}: release still contains {marker!r}")
        if meta["solution"]:
            if cell.cell_type == "markdown" and "BEGIN SOLUTION" not in cell.source:
                if text.strip() != TEXT_STUB:
                    problems.append(f"{lid}/{gid}: written answer not replaced by {TEXT_STUB!r}")
                continue
            outside, inside = split_region(cell, "BEGIN SOLUTION", "END SOLUTION")
            allowed = outside | CODE_STUB | {TEXT_STUB}
            leaked = [l for l in source_lines(rel) if l not in allowed]
            if leaked:
                problems.append(f"{lid}/{gid}: release contains solution lines {leaked[:3]}")
            if inside and not (set(source_lines(rel)) & (CODE_STUB | {TEXT_STUB})):
                problems.append(f"{lid}/{gid}: solution region not replaced by a stub")
        if is_auto_graded(meta):
            outside, hidden = split_region(cell, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
            leaked = [l for l in source_lines(rel) if l not in outside]
            if leaked:
                problems.append(f"{lid}/{gid}: release contains hidden-test lines {leaked[:3]}")
            if not source_lines(rel):
                problems.append(f"{lid}/{gid}: release test cell has no visible tests left")
    return problems


def executed_errors(nb_path: Path, allowed_ids: set[str]) -> list[str]:
    """Cells that raised or wrote to stderr during autograding, excluding allowed grade_ids."""
    nb = nbformat.read(nb_path, as_version=4)
    bad = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        gid = nbg(cell).get("grade_id")
        if gid in allowed_ids:
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error" or (out.output_type == "stream" and out.name == "stderr"):
                detail = out.get("ename", "") + ": " + str(out.get("evalue", out.get("text", "")))[:300]
                bad.append(f"cell {i} ({gid or 'teaching cell'}): {detail}")
    return bad


# -------------------------------------------------------------------------- the tests

# The catalogue the platform ships with: (slug, free?, level, category, min lessons, preview lessons)
EXPECTED_COURSES = [
    ("python-for-beginners", True, "beginner", "Programming", 6, 2),
    ("data-analysis-with-pandas", False, "intermediate", "Data Science", 5, 1),
    ("algorithms-cpp-java", False, "intermediate", "Algorithms", 4, 1),
    ("sql-for-data-analysis", False, "beginner", "Databases", 3, 1),
    ("numpy-essentials", True, "beginner", "Data Science", 3, 1),
    ("statistics-with-python", False, "beginner", "Mathematics", 3, 1),
    ("machine-learning-foundations", False, "intermediate", "Machine Learning", 3, 1),
    ("web-data-with-python", False, "beginner", "Web Development", 3, 1),
    ("object-oriented-python", False, "intermediate", "Programming", 3, 1),
]


@pytest.mark.parametrize("slug,free,level,category,min_lessons,previews", EXPECTED_COURSES)
def test_bundled_course_catalogue(slug, free, level, category, min_lessons, previews) -> None:
    assert slug in COURSE_SLUGS, f"courses/{slug}/course.toml is missing"
    course = load_course(slug)
    assert not validate_course_toml(slug, course)
    assert (course["price_cents"] == 0) is free
    assert course["currency"] == "usd" and course["language"] == "en"
    assert course["level"] == level and course["category"] == category
    assert len(course["lessons"]) >= min_lessons
    flags = [bool(lesson.get("free_preview", False)) for lesson in course["lessons"]]
    assert flags == [True] * previews + [False] * (len(flags) - previews), "only the first lessons are previews"
    assert len(course["description"].split("\n\n")) >= 3, "description should have several paragraphs"


def test_untitled_exercise_is_reported() -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Some text, no heading"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("assert x == 1", metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "points": 1, "grade_id": "t1",
            "schema_version": 3, "task": False}}),
    ])
    assert untitled_exercises("l1", nb) == ["l1/t1: no markdown heading titles this exercise"]
    nb.cells[0].source = "## Exercise 1 - Set x\n\nSome text"
    assert untitled_exercises("l1", nb) == []


def test_some_course_has_a_manually_graded_answer() -> None:
    found = []
    for slug in COURSE_SLUGS:
        for lesson in load_course(slug)["lessons"]:
            nb = nbformat.read(COURSES_DIR / slug / lesson["notebook"], as_version=4)
            found += [f"{slug}/{lesson['id']}" for c in nb.cells
                      if c.cell_type == "markdown" and is_manual_graded(nbg(c))]
    assert found, "expected at least one written (manually graded) answer"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("slug", COURSE_SLUGS)
def test_course_content(slug: str, tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", bin_path())  # Gradebook() runs `alembic heads`

    course = load_course(slug)
    problems = validate_course_toml(slug, course)
    assert not problems, "\n".join(problems)

    course_dir = tmp_path_factory.mktemp(f"coursecheck-{slug}")
    db_path = course_dir / "gradebook.db"
    (course_dir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {slug!r}\n"
        f"c.CourseDirectory.root = {str(course_dir)!r}\n"
        f"c.CourseDirectory.db_url = {('sqlite:///' + str(db_path))!r}\n"
    )

    lessons = []
    for lesson in course["lessons"]:
        lid = lesson["id"]
        src_path = COURSES_DIR / slug / lesson["notebook"]
        nb_name = src_path.name
        source_nb = nbformat.read(src_path, as_version=4)
        problems += validate_source_notebook(lid, source_nb)
        (course_dir / "source" / lid).mkdir(parents=True)
        shutil.copy(src_path, course_dir / "source" / lid / nb_name)
        lessons.append((lid, nb_name, source_nb))
    assert not problems, "\n".join(problems)

    summary = []
    for lid, nb_name, source_nb in lessons:
        run_nbgrader(course_dir, "generate_assignment", lid, "--force")
        release_path = course_dir / "release" / lid / nb_name
        assert release_path.is_file(), f"{lid}: no release notebook produced"
        release_nb = nbformat.read(release_path, as_version=4)
        problems += check_release(lid, source_nb, release_nb)

        for student, nb_file in ((SOLUTION_STUDENT, course_dir / "source" / lid / nb_name),
                                 (BLANK_STUDENT, release_path)):
            dest = course_dir / "submitted" / student / lid
            dest.mkdir(parents=True)
            shutil.copy(nb_file, dest / nb_name)
        run_nbgrader(course_dir, "autograde", lid, "--force")

        metas = {nbg(c)["grade_id"]: nbg(c) for c in source_nb.cells if nbg(c)}
        auto_ids = {g for g, m in metas.items() if is_auto_graded(m)}
        manual_ids = {g for g, m in metas.items() if is_manual_graded(m)}
        solution_ids = {g for g, m in metas.items() if m.get("solution")}
        notebook_id = Path(nb_name).stem

        with Gradebook(f"sqlite:///{db_path}") as gb:
            src = {g.name: g.to_dict() for g in gb.find_submission_notebook(notebook_id, lid, SOLUTION_STUDENT).grades}
            blank = {g.name: g.to_dict() for g in gb.find_submission_notebook(notebook_id, lid, BLANK_STUDENT).grades}

        if set(src) != auto_ids | manual_ids:
            problems.append(f"{lid}: gradebook cells {sorted(src)} != source grade cells")
        auto_max = sum(metas[g]["points"] for g in auto_ids)
        auto_src = auto_blank = 0.0
        for gid in sorted(auto_ids):
            s, b = src.get(gid), blank.get(gid)
            if s is None or b is None:
                problems.append(f"{lid}/{gid}: not graded")
                continue
            # (b) the reference solution gets every auto-graded point
            if s["auto_score"] != s["max_score"]:
                problems.append(f"{lid}/{gid}: source scored {s['auto_score']}/{s['max_score']}")
            # (c) the unsolved release gets nothing
            if b["auto_score"] != 0:
                problems.append(f"{lid}/{gid}: unsolved release scored {b['auto_score']}/{b['max_score']}")
            auto_src += s["auto_score"] or 0
            auto_blank += b["auto_score"] or 0
        for gid in sorted(manual_ids):
            s, b = src.get(gid), blank.get(gid)
            if s is None or b is None:
                problems.append(f"{lid}/{gid}: written answer not in gradebook")
                continue
            if b["auto_score"] != 0:
                problems.append(f"{lid}/{gid}: unanswered written answer not auto-scored 0: {b['auto_score']}")
            if not s["needs_manual_grade"]:
                problems.append(f"{lid}/{gid}: answered written answer not flagged for manual grading")

        # The reference run must be clean everywhere; in the unsolved run only the
        # exercise/test cells may fail (every teaching cell must still run).
        autograded = course_dir / "autograded"
        for err in executed_errors(autograded / SOLUTION_STUDENT / lid / nb_name, set()):
            problems.append(f"{lid} (source run): {err}")
        for err in executed_errors(autograded / BLANK_STUDENT / lid / nb_name, auto_ids | solution_ids):
            problems.append(f"{lid} (release run): {err}")

        manual_max = sum(metas[g]["points"] for g in manual_ids)
        summary.append(f"{lid}: auto {auto_src:g}/{auto_max:g} (release {auto_blank:g})"
                       + (f", manual {manual_max:g}" if manual_max else ""))

    print(f"\n[{slug}]\n  " + "\n  ".join(summary))
    assert not problems, "\n".join(problems)
