"""What a student sees before and after submitting: where they stand against the lesson's policy,
and each exercise named by its heading (never its nbgrader grade id)."""
import json
from datetime import timedelta

from sqlalchemy import update

from lms_extension.models import NotebookSubmission
from lms_extension.models.base import utcnow
from lms_extension.services import enrollments, grading_queue as queue
from lms_extension.services.course_import import import_course, load_course_folder
from lms_extension.services.notebooks import exercise_titles
from tests.factories import make_user
from tests.grading_admin.conftest import NB, course_with_policy, grade


def _course(session, tmp_path, slug, toml):
    import_course(session, load_course_folder(course_with_policy(tmp_path, slug, toml)))
    user = make_user(session, f"{slug}-student")
    enrollments.enroll(session, user, slug)
    return user


def test_standing_counts_attempts_and_cooldown(session, tmp_path):
    user = _course(session, tmp_path, "standing", "max_attempts = 2\ncooldown_seconds = 90")
    before = queue.my_lesson_submissions(session, user, "standing", "l1")
    assert (before["attempts_used"], before["attempts_left"], before["cooldown_remaining_seconds"]) == (0, 2, 0)
    assert before["policy"]["max_attempts"] == 2 and before["submissions"] == []
    first = queue.enqueue(session, user, "standing", "l1", {"l1.ipynb": NB})
    after = queue.my_lesson_submissions(session, user, "standing", "l1")
    assert after["attempts_used"] == 1 and after["attempts_left"] == 1
    assert 88 <= after["cooldown_remaining_seconds"] <= 90
    assert [s["id"] for s in after["submissions"]] == [first.id]
    session.execute(update(NotebookSubmission).where(NotebookSubmission.id == first.id)
                    .values(submitted_at=utcnow() - timedelta(seconds=91)))
    assert queue.my_lesson_submissions(session, user, "standing", "l1")["cooldown_remaining_seconds"] == 0
    # a lesson without a policy: no limit, no cooldown
    free = queue.my_lesson_submissions(session, user, "standing", "l2")
    assert free["policy"] is None and free["attempts_left"] is None and free["cooldown_remaining_seconds"] == 0


def test_feedback_names_exercises_by_their_heading(session, tmp_path):
    user = _course(session, tmp_path, "titled", "")
    sub = queue.enqueue(session, user, "titled", "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id)
    session.expire_all()
    submission = session.get(NotebookSubmission, sub.id)
    cells = queue.view(submission)["feedback"]["notebooks"][0]["cells"]
    assert [c["title"] for c in cells] == ["Squares", "Part 2"]  # "explain" has no cell in this notebook


def test_exercise_titles():
    nb = {"cells": [
        {"cell_type": "code", "source": "x = 1", "metadata": {"nbgrader": {"grade_id": "before-any-heading"}}},
        {"cell_type": "markdown", "source": ["---\n", "## Exercise 1 - `Leap` **years** (3 points)\n", "Write it"],
         "metadata": {}},
        {"cell_type": "code", "source": "", "metadata": {"nbgrader": {"grade_id": "ex1-sol"}}},
        {"cell_type": "code", "source": "", "metadata": {"nbgrader": {"grade_id": "ex1-tests"}}},
        {"cell_type": "markdown", "source": "## Exercise 2 - Explain (2 points, graded by the instructor)",
         "metadata": {}},
        {"cell_type": "markdown", "source": "answer", "metadata": {"nbgrader": {"grade_id": "ex2"}}},
        {"cell_type": "markdown", "source": "no heading here", "metadata": {}},
        {"cell_type": "code", "source": "", "metadata": {"nbgrader": {"grade_id": "ex2-more"}}},
    ]}
    assert exercise_titles(json.dumps(nb)) == {
        "before-any-heading": "Part 1", "ex1-sol": "Exercise 1 - Leap years", "ex1-tests": "Exercise 1 - Leap years",
        "ex2": "Exercise 2 - Explain", "ex2-more": "Exercise 2 - Explain"}
    assert exercise_titles("{not json") == {} and exercise_titles("[]") == {}
