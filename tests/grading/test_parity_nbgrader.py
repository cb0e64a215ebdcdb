"""Same scores as real ``nbgrader autograde`` on the bundled lessons: the reference
solution, the unsolved release, partial solutions, and a submission whose test cells
were edited (both restore them). One lesson per course, both graders on copies of one
course directory released by real ``nbgrader generate_assignment``."""

from __future__ import annotations

import json
import shutil

import pytest

from graders import autograde
from graders.notebook_nbgrader import is_solution, meta, reads
from tests.grading.conftest import PARITY_LESSONS, run_nbgrader
from tests.grading.helpers import cells_by_id, edit, solve


def gradebook_rows(course, assignment: str) -> list[tuple]:
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "lms-test") as gb:
        for student in sorted(s.id for s in gb.students):
            submission = gb.find_submission(assignment, student)
            for notebook in sorted(submission.notebooks, key=lambda n: n.name):
                for g in sorted(notebook.grades, key=lambda g: g.name):
                    rows.append((student, notebook.name, g.name, g.auto_score, g.needs_manual_grade))
                for c in sorted(notebook.comments, key=lambda c: c.name):
                    rows.append((student, notebook.name, c.name, c.auto_comment))
    return rows


def make_submissions(course, assignment: str) -> None:
    (name,) = [p.name for p in (course / "source" / assignment).glob("*.ipynb")]
    source = (course / "source" / assignment / name).read_text()
    release = (course / "release" / assignment / name).read_text()
    solutions = [meta(c)["grade_id"] for c in reads(source)["cells"]
                 if is_solution(c) and c["cell_type"] == "code"]
    tests = [gid for gid, c in cells_by_id(json.loads(source)).items()
             if meta(c).get("grade") and not is_solution(c)]
    submissions = {
        "reference": source,
        "blank": release,
        "first-only": solve(release, source, solutions[:1]),
        "all-but-last": solve(release, source, solutions[:-1]),
        "edited-tests": edit(solve(release, source, solutions[1:]),
                             {gid: "pass  # nothing to see" for gid in tests}),
    }
    for student, text in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / name).write_text(text)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("assignment", list(PARITY_LESSONS))
def test_scores_match_nbgrader(course_copy, tmp_path, assignment, grading_sandbox):
    make_submissions(course_copy, assignment)
    theirs = tmp_path / "theirs"
    shutil.copytree(course_copy, theirs)
    run_nbgrader(theirs, "autograde", assignment, "--force")
    assert autograde.main([assignment, "--course-dir", str(course_copy), "--quiet"]) == 0
    ours_rows, their_rows = gradebook_rows(course_copy, assignment), gradebook_rows(theirs, assignment)
    assert ours_rows == their_rows
    # and the comparison is not vacuous
    scores = {r[0]: 0.0 for r in their_rows}
    for r in their_rows:
        if len(r) == 5 and r[3] is not None:
            scores[r[0]] += r[3]
    assert scores["reference"] > scores["all-but-last"] > scores["blank"] == 0
    assert scores["first-only"] > 0
