"""The grading workflow (both databases): the queue of submissions needing a manual grade, walking
it, "needs manual grade" clearing, held feedback invisible to the student on every path until
released, audit entries, bad input refused with nothing lost."""
from __future__ import annotations

import json

import pytest

from lms_extension.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms_extension.models import NotebookSubmission
from lms_extension.services import (audit, exchange, feedback_release, gamification, graded_notebook,
                                    grading_admin as admin, grading_queue as queue, progress)
from lms_extension.services.course_import import import_course, load_course_folder
from lms_extension.labserver.api import _submission as lab_sidebar_submission
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import NB, WRITTEN, hold

ESSAY = "Squares grow fast because **x·x** doubles the digits."
EXPLAIN = {"notebook": "l1.ipynb", "grade_id": "explain"}


def autograded_notebook(answer: str = ESSAY) -> str:
    """The instructor's notebook as the grader leaves it: the student's answers, outputs, hidden tests."""
    nb = json.loads(json.dumps(WRITTEN))
    nb["cells"][2]["outputs"] = [{"output_type": "error", "ename": "AssertionError", "evalue": "",
                                  "traceback": ["\x1b[31mAssertionError\x1b[0m", "assert square(-4) == 16"]}]
    nb["cells"][2]["execution_count"] = 2
    nb["cells"][3]["source"] = answer
    return json.dumps(nb)


def grade_written(session, submission_id: int, *, test_points: float = 2.0, answer: str = ESSAY,
                  worker: str = "w-flow") -> None:
    """Claim and complete one submission as a worker would (a test cell and a written answer)."""
    hold(session, submission_id, worker)
    feedback = {"score": test_points, "max_score": 5.0, "needs_manual_grade": True, "error": None,
                "notebooks": [{"name": "l1.ipynb", "score": test_points, "max_score": 5.0, "error": None, "cells": [
                    {"grade_id": "test_square", "cell_type": "code", "points": test_points, "max_points": 2.0,
                     "status": "passed" if test_points else "failed", "passed": bool(test_points),
                     "needs_manual_grade": False, "error_name": None, "error_message": None},
                    {"grade_id": "explain", "cell_type": "markdown", "points": None, "max_points": 3.0,
                     "status": "manual", "passed": None, "needs_manual_grade": True,
                     "error_name": None, "error_message": None}]}]}
    assert queue.complete(session, submission_id, worker, score=test_points, max_score=5.0,
                          feedback=feedback, autograded={"l1.ipynb": autograded_notebook(answer)})


def submit_graded(session, user, **kwargs) -> NotebookSubmission:
    sub = queue.enqueue(session, user, "gradecourse", "l1", {"l1.ipynb": NB})
    session.commit()
    grade_written(session, sub.id, **kwargs)
    session.expire_all()
    return session.get(NotebookSubmission, sub.id)


@pytest.fixture
def second_student(session, course):
    from lms_extension.services import enrollments

    user = make_user(session, "grading-student-2")
    enrollments.enroll(session, user, "gradecourse")
    return user


# -- the queue --------------------------------------------------------------------------------------

def test_queue_lists_ungraded_oldest_first_with_counts_and_clears_when_graded(session, teacher, student,
                                                                               second_student):
    first = submit_graded(session, student)
    second = submit_graded(session, second_student)
    view = admin.queue(session, teacher, "gradecourse")
    assert [s["id"] for s in view["submissions"]] == [first.id, second.id]
    assert view["submissions"][0]["student"] == "grading-student"
    assert {row["lesson"]: row["needs_grading"] for row in view["lessons"]} == {"l1": 2, "l2": 0}

    # a comment alone does not grade the written answer
    admin.save_manual_grades(session, teacher, first.id, [{**EXPLAIN, "points": None, "comment": "Say more."}])
    assert [s["id"] for s in admin.queue(session, teacher, "gradecourse")["submissions"]] == [first.id, second.id]
    assert admin.detail(session, teacher, first.id)["needs_manual_grade"] is True
    # overriding only the autograded cell leaves the written answer waiting
    admin.save_manual_grades(session, teacher, first.id, [{"notebook": "l1.ipynb", "grade_id": "test_square",
                                                           "points": 1, "comment": ""}])
    assert admin.detail(session, teacher, first.id)["needs_manual_grade"] is True
    # points on every manual cell: "needs manual grade" clears, here and in the lesson's list
    admin.save_manual_grades(session, teacher, first.id, [{**EXPLAIN, "points": 3, "comment": "Good."}])
    assert admin.detail(session, teacher, first.id)["needs_manual_grade"] is False
    _, _, rows = admin.lesson_submissions(session, teacher, "gradecourse", "l1")
    assert {r.submission.id: r.needs_manual_grade for r in rows} == {first.id: False, second.id: True}
    view = admin.queue(session, teacher, "gradecourse")
    assert [s["id"] for s in view["submissions"]] == [second.id]
    assert {row["lesson"]: row["needs_grading"] for row in view["lessons"]} == {"l1": 1, "l2": 0}


def test_queue_shows_each_students_latest_attempt_unless_asked_for_all(session, teacher, student):
    old = submit_graded(session, student)
    new = submit_graded(session, student)
    assert [s["id"] for s in admin.queue(session, teacher, "gradecourse")["submissions"]] == [new.id]
    assert [s["id"] for s in admin.queue(session, teacher, "gradecourse", attempts="all")["submissions"]] == [
        old.id, new.id]
    assert admin.queue(session, teacher, "gradecourse", lesson_key="l2")["submissions"] == []
    with pytest.raises(InvalidInput):
        admin.queue(session, teacher, "gradecourse", attempts="everything")
    with pytest.raises(NotFound):
        admin.queue(session, teacher, "gradecourse", lesson_key="nope")


def test_next_and_previous_ungraded(session, teacher, student, second_student):
    third_student = make_user(session, "grading-student-3")
    from lms_extension.services import enrollments

    enrollments.enroll(session, third_student, "gradecourse")
    a, b, c = (submit_graded(session, u) for u in (student, second_student, third_student))
    assert admin.neighbours(session, teacher, b.id) == {"previous": a.id, "next": c.id, "first": a.id,
                                                        "remaining": 2}
    assert admin.neighbours(session, teacher, a.id)["previous"] is None
    assert admin.neighbours(session, teacher, c.id)["next"] is None
    # once graded, b leaves the queue but its neighbours stay where they were
    admin.save_manual_grades(session, teacher, b.id, [{**EXPLAIN, "points": 1, "comment": ""}])
    assert admin.neighbours(session, teacher, b.id) == {"previous": a.id, "next": c.id, "first": a.id,
                                                        "remaining": 2}
    assert admin.neighbours(session, teacher, a.id) == {"previous": None, "next": c.id, "first": c.id,
                                                        "remaining": 1}


def test_queue_and_policy_are_for_the_courses_teachers_only(session, tmp_path, teacher, student):
    sub = submit_graded(session, student)
    other = make_user(session, "other-grader", instructor=True)
    import_course(session, load_course_folder(write_course(tmp_path, "othergrading", instructor="other-grader")))
    for user in (student, other):
        with pytest.raises(Forbidden):
            admin.queue(session, user, "gradecourse")
        with pytest.raises(Forbidden):
            admin.neighbours(session, user, sub.id)
        with pytest.raises(Forbidden):
            admin.set_release_policy(session, user, "gradecourse", "held")
        with pytest.raises(Forbidden):
            admin.release_lesson(session, user, "gradecourse", "l1")
    assert feedback_release.policy(session, sub.lesson.course_id) == "on_grading"
    with pytest.raises(NotFound):
        admin.queue(session, teacher, "no-such-course")
    with pytest.raises(NotFound):
        admin.release_lesson(session, teacher, "gradecourse", "nope")


@pytest.mark.parametrize("value", ["", "HELD", "hold", None, 1, ["held"], "held; DROP TABLE users"])
def test_bad_release_policies_are_refused_and_change_nothing(session, teacher, course, value):
    admin.set_release_policy(session, teacher, "gradecourse", "held")
    with pytest.raises(InvalidInput):
        admin.set_release_policy(session, teacher, "gradecourse", value)
    assert feedback_release.policy(session, course.id) == "held"


# -- feedback release -------------------------------------------------------------------------------

def student_sees(session, student, sub) -> dict:
    """What the student can learn of ``sub`` on each path, as plain values."""
    session.expire_all()
    sub = session.get(NotebookSubmission, sub.id)
    api = queue.view(queue.get_own(session, student, sub.id))  # api/v1/submissions/<id>, the lab sidebar
    lesson = queue.my_lesson_submissions(session, student, "gradecourse", "l1")["submissions"][0]  # lesson API
    nbgrader = exchange.list_submissions(session, student, "gradecourse", "l1")[0]
    try:
        files = exchange.feedback_files(session, student, sub.id)["files"]
    except Conflict as exc:
        files = exc.message
    status = progress.lesson_status(session, student.id, sub.lesson)
    return {"api": api, "lesson": lesson, "nbgrader": nbgrader, "files": files, "progress": status,
            "xp": gamification.total_xp(session, student.id)}


def test_held_feedback_is_invisible_to_the_student_everywhere_until_released(session, teacher, student):
    course_id = admin.taught_course(session, teacher, "gradecourse").id
    admin.set_release_policy(session, teacher, "gradecourse", "held")
    sub = submit_graded(session, student, test_points=2.0)
    admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": 3, "comment": "SECRET-COMMENT"}])
    assert sub.score == 5.0  # a full score, which would complete the lesson and give XP and badges

    seen = student_sees(session, student, sub)
    text = json.dumps(seen, default=str)
    assert "SECRET-COMMENT" not in text and "Squares grow fast" not in text
    for view in (seen["api"], seen["lesson"]):
        assert view["status"] == "graded" and view["feedback_released"] is False
        assert (view["score"], view["auto_score"], view["manual_score"], view["feedback"]) == (None,) * 4
    assert seen["nbgrader"]["score"] is None and seen["nbgrader"]["has_feedback"] is False
    sidebar = lab_sidebar_submission(seen["api"])  # what the lab server hands the Course sidebar
    assert sidebar["feedback_released"] is False and sidebar["score"] is None and sidebar["parts"] == []
    assert seen["nbgrader"]["feedback_digest"] is None
    assert "not released" in seen["files"]
    (part,) = seen["progress"]["parts"]
    assert part["score"] == 0 and not seen["progress"]["completed"]
    assert seen["xp"] == 0
    assert not {a.key for a in gamification.achievements_of(session, student.id)} & {"first-exercise",
                                                                                      "perfect-score"}
    # the instructor sees it all, and that it is held
    detail = admin.detail(session, teacher, sub.id)
    assert detail["score"] == 5.0 and detail["feedback_released"] is False
    assert admin.queue(session, teacher, "gradecourse")["lessons"][0]["held"] == 1

    assert admin.release_lesson(session, teacher, "gradecourse", "l1") == {"released": 1, "still_ungraded": 0}
    seen = student_sees(session, student, sub)
    assert seen["api"]["score"] == 5.0 and seen["api"]["feedback_released"] is True
    cells = {c["grade_id"]: c for c in seen["api"]["feedback"]["notebooks"][0]["cells"]}
    assert cells["explain"]["comment"] == "SECRET-COMMENT"
    assert seen["lesson"]["score"] == 5.0 and seen["nbgrader"]["score"] == 5.0 and seen["nbgrader"]["has_feedback"]
    assert "SECRET-COMMENT" in next(iter(seen["files"].values()))
    assert seen["progress"]["parts"][0]["score"] == 1.0 and seen["progress"]["completed"]
    assert seen["xp"] > 0
    assert {"first-exercise", "perfect-score"} <= {a.key for a in gamification.achievements_of(session, student.id)}
    assert admin.queue(session, teacher, "gradecourse")["lessons"][0]["held"] == 0
    assert feedback_release.held(session, course_id)  # the policy stays: the next grades are held again
    later = submit_graded(session, student)
    assert queue.view(later)["score"] is None


def test_release_keeps_submissions_still_needing_a_manual_grade_held(session, teacher, student, second_student):
    admin.set_release_policy(session, teacher, "gradecourse", "held")
    done = submit_graded(session, student)
    waiting = submit_graded(session, second_student)
    admin.save_manual_grades(session, teacher, done.id, [{**EXPLAIN, "points": 2, "comment": ""}])
    assert admin.release_lesson(session, teacher, "gradecourse", "l1") == {"released": 1, "still_ungraded": 1}
    session.expire_all()
    assert queue.view(session.get(NotebookSubmission, done.id))["score"] == 4.0
    assert queue.view(session.get(NotebookSubmission, waiting.id))["score"] is None
    # released again: nothing new, nothing audited twice
    assert admin.release_lesson(session, teacher, "gradecourse", "l1") == {"released": 0, "still_ungraded": 1}


def test_holding_from_now_on_keeps_what_students_already_saw(session, teacher, student):
    seen_before = submit_graded(session, student)
    assert queue.view(seen_before)["score"] == 2.0  # released on grading, the default
    admin.set_release_policy(session, teacher, "gradecourse", "held")
    session.expire_all()
    assert queue.view(session.get(NotebookSubmission, seen_before.id))["score"] == 2.0
    new = submit_graded(session, student)
    assert queue.view(new)["score"] is None
    # back to "on grading": everything graded is visible, progress catches up
    admin.set_release_policy(session, teacher, "gradecourse", "on_grading")
    session.expire_all()
    assert queue.view(session.get(NotebookSubmission, new.id))["score"] == 2.0


def test_manual_grades_releases_and_policy_changes_are_audited(session, teacher, student):
    sub = submit_graded(session, student)
    admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": 2.5, "comment": "Close."}])
    (entry,) = audit.search(session, action="grading.manual_grade", target_id=str(sub.id)).entries
    decoded = audit.decoded(entry)
    assert decoded["actor"] == "grading-teacher" and decoded["target_type"] == "submission"
    assert decoded["after"]["l1.ipynb:explain"] == {"points": 2.5, "comment": "Close."}
    assert decoded["before"]["score"] == 2.0 and decoded["after"]["score"] == 4.5
    # saving the same again changes nothing and records nothing
    admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": 2.5, "comment": "Close."}])
    assert audit.search(session, action="grading.manual_grade", target_id=str(sub.id)).total == 1

    admin.set_release_policy(session, teacher, "gradecourse", "held")
    (policy,) = audit.search(session, action="grading.feedback_policy").entries
    assert audit.decoded(policy)["after"] == {"feedback_release": "held"}
    second = submit_graded(session, student)
    admin.save_manual_grades(session, teacher, second.id, [{**EXPLAIN, "points": 1, "comment": ""}])
    admin.release_lesson(session, teacher, "gradecourse", "l1")
    (release,) = audit.search(session, action="grading.release_feedback").entries
    assert audit.decoded(release)["after"] == {"released": 1, "still_ungraded": 0}
    admin.regrade(session, teacher, sub.id)
    assert audit.search(session, action="grading.regrade", target_id=str(sub.id)).total == 1


def test_refused_grades_change_nothing(session, teacher, student):
    sub = submit_graded(session, student)
    admin.save_manual_grades(session, teacher, sub.id, [{**EXPLAIN, "points": 2, "comment": "kept"}])
    for bad in ([{**EXPLAIN, "points": 3.5, "comment": "over"}], [{**EXPLAIN, "points": -0.5, "comment": "neg"}],
                [{**EXPLAIN, "points": "2", "comment": "text"}], [{**EXPLAIN, "points": float("inf")}],
                [{"notebook": "l1.ipynb", "grade_id": "test_square", "points": 1, "comment": "first ok"},
                 {**EXPLAIN, "points": 9, "comment": "second refused"}]):
        with pytest.raises(InvalidInput):
            admin.save_manual_grades(session, teacher, sub.id, bad)
    session.flush()
    session.expire_all()
    sub = session.get(NotebookSubmission, sub.id)
    grades = {g.grade_id: (g.points, g.comment) for g in sub.manual_grades}
    assert grades == {"explain": (2.0, "kept")}  # the valid first item of a refused save is not kept either
    assert sub.score == 4.0


# -- the notebook as the grader reads it -----------------------------------------------------------

def test_the_autograded_notebook_is_rendered_with_each_grade_box_after_its_cell(session, teacher, student):
    hostile = ("My answer <script>alert('x')</script><img src=x onerror=alert(1)> "
               "[link](javascript:alert(2)) and **bold**")
    sub = submit_graded(session, student, answer=hostile)
    detail = admin.detail(session, teacher, sub.id)
    (book,) = admin.notebook_view(detail)
    kinds = [(c["kind"], c["grade_id"], c.get("grade", {}).get("grade_id")) for c in book["cells"]]
    assert kinds == [("markdown", None, None), ("code", "square", None), ("code", "test_square", "test_square"),
                     ("markdown", "explain", "explain")]
    html = "".join(c["html"] for c in book["cells"])
    assert "<h1" in html and "<strong>bold</strong>" in html  # Markdown rendered, not raw source
    assert 'class="highlight"' in html and '<span class="k">def</span>' in html  # code highlighted
    assert "SECRET-HIDDEN" in html  # instructors see the hidden tests
    assert "AssertionError" in html and "\x1b" not in html  # outputs, without terminal colours
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert book["unplaced"] == []


def test_rendering_survives_odd_notebooks():
    assert graded_notebook.cells("not json") == []
    assert graded_notebook.cells(json.dumps({"cells": "nope"})) == []
    cells = graded_notebook.cells(json.dumps({"cells": [
        "junk", {"cell_type": "raw", "source": "<b>raw</b>"},
        {"cell_type": "code", "source": ["print(1)\n", "x"], "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "y" * 50_000},
            {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}},
            {"output_type": "execute_result", "data": {"text/html": "<div onclick='x()'>t</div><style>*{}</style>"}},
            {"output_type": "weird"}]}]}))
    assert [c["kind"] for c in cells] == ["raw", "code"]
    assert "&lt;b&gt;raw" in cells[0]["html"]
    code = cells[1]["html"]
    assert "(cut)" in code and len(code) < 40_000
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in code
    assert "onclick" not in code and "<style" not in code
