"""Instructor views, re-grades and manual grades, scoped to the course's instructors (both databases)."""
import json

import pytest
from sqlalchemy import select

from lms_extension.errors import Forbidden, InvalidInput, NotFound
from lms_extension.models import LessonVersion, NotebookSubmission
from lms_extension.services import grading_admin as admin, grading_queue as queue
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import NB, WRITTEN, grade, hold


@pytest.fixture
def graded(session, course, student):
    sub = queue.enqueue(session, student, "gradecourse", "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id, test_points=2.0)
    session.expire_all()
    return session.get(NotebookSubmission, sub.id)


def test_instructor_sees_submissions_and_hidden_results(session, teacher, graded):
    course, rows = admin.course_overview(session, teacher, "gradecourse")
    assert [(r["lesson"].key, r["submissions"], r["students"]) for r in rows] == [("l1", 1, 1), ("l2", 0, 0)]
    _, lesson, subs = admin.lesson_submissions(session, teacher, "gradecourse", "l1")
    (row,) = [admin.row_view(r) for r in subs]
    assert row["student"] == "grading-student" and row["attempt"] == 1 and row["score"] == 2.0
    assert row["needs_manual_grade"] is True
    detail = admin.detail(session, teacher, graded.id)
    assert "SECRET-HIDDEN" in json.dumps(detail["autograded"])  # instructors see the hidden tests
    assert {c["grade_id"] for c in detail["cells"]} == {"test_square", "explain"}
    # ...students never do
    assert "SECRET-HIDDEN" not in json.dumps(queue.view(graded))


def test_admin_may_look_too(session, graded):
    boss = make_user(session, "grading-admin", admin=True)
    assert admin.detail(session, boss, graded.id)["id"] == graded.id


def test_students_and_other_instructors_are_refused(session, tmp_path, student, graded):
    other_teacher = make_user(session, "other-teacher", instructor=True)
    import_course(session, load_course_folder(write_course(tmp_path, "othercourse", instructor="other-teacher")))
    for user in (student, other_teacher):
        with pytest.raises(Forbidden):
            admin.lesson_submissions(session, user, "gradecourse", "l1")
        with pytest.raises(Forbidden):
            admin.detail(session, user, graded.id)
        with pytest.raises(Forbidden):
            admin.regrade(session, user, graded.id)
        with pytest.raises(Forbidden):
            admin.regrade_lesson(session, user, "gradecourse", "l1")
        with pytest.raises(Forbidden):
            admin.save_manual_grades(session, user, graded.id, [{"notebook": "l1.ipynb", "grade_id": "explain",
                                                                  "points": 3, "comment": "mine"}])
    assert admin.course_overview(session, other_teacher, "othercourse")[0].slug == "othercourse"
    with pytest.raises(NotFound):
        admin.detail(session, other_teacher, 10**9)  # a forged id
    with pytest.raises(NotFound):
        admin.lesson_submissions(session, other_teacher, "othercourse", "nope")


def test_manual_grades_add_to_the_score_and_reach_the_student(session, teacher, graded):
    admin.save_manual_grades(session, teacher, graded.id, [
        {"notebook": "l1.ipynb", "grade_id": "explain", "points": 2.5, "comment": "Good, but say why."}])
    assert (graded.auto_score, graded.manual_score, graded.score) == (2.0, 2.5, 4.5)
    # an override of an autograded cell replaces its points; a comment alone changes nothing
    admin.save_manual_grades(session, teacher, graded.id, [
        {"notebook": "l1.ipynb", "grade_id": "test_square", "points": 1, "comment": "partly copied"}])
    assert graded.score == 3.5
    admin.save_manual_grades(session, teacher, graded.id, [
        {"notebook": "l1.ipynb", "grade_id": "test_square", "points": None, "comment": "fine after all"}])
    assert graded.score == 4.5
    cells = {c["grade_id"]: c for c in queue.view(graded)["feedback"]["notebooks"][0]["cells"]}
    assert cells["explain"]["comment"] == "Good, but say why." and cells["explain"]["manual_points"] == 2.5
    assert cells["test_square"]["comment"] == "fine after all"
    _, _, rows = admin.lesson_submissions(session, teacher, "gradecourse", "l1")
    assert rows[0].needs_manual_grade is False


@pytest.mark.parametrize("grades", [
    [],
    "explain=3",
    [{"notebook": "l1.ipynb", "grade_id": "nope", "points": 1}],
    [{"notebook": "../etc/passwd", "grade_id": "explain", "points": 1}],
    [{"notebook": "l1.ipynb", "grade_id": "explain", "points": 4}],
    [{"notebook": "l1.ipynb", "grade_id": "explain", "points": -1}],
    [{"notebook": "l1.ipynb", "grade_id": "explain", "points": "3"}],
    [{"notebook": "l1.ipynb", "grade_id": "explain", "points": float("nan")}],
    [{"notebook": "l1.ipynb", "grade_id": "explain", "points": 1, "comment": "x" * 10_001}],
    [{"notebook": "l1.ipynb", "grade_id": "explain", "points": 1, "comment": ["list"]}],
])
def test_bad_manual_grades(session, teacher, graded, grades):
    with pytest.raises(InvalidInput):
        admin.save_manual_grades(session, teacher, graded.id, grades)


def test_manual_grade_needs_a_graded_submission(session, teacher, course, student):
    sub = queue.enqueue(session, student, "gradecourse", "l1", {"l1.ipynb": NB})
    with pytest.raises(InvalidInput, match="queued"):
        admin.save_manual_grades(session, teacher, sub.id, [{"notebook": "l1.ipynb", "grade_id": "explain",
                                                             "points": 1}])


def test_regrade_uses_the_newest_version_and_keeps_manual_grades(session, tmp_path, teacher, graded):
    admin.save_manual_grades(session, teacher, graded.id, [
        {"notebook": "l1.ipynb", "grade_id": "explain", "points": 3, "comment": "great"}])
    # the author fixes a test and publishes: a new lesson version
    fixed = json.loads(json.dumps(WRITTEN))
    fixed["cells"][2]["source"] = fixed["cells"][2]["source"].replace("square(3) == 9", "square(5) == 25")
    import_course(session, load_course_folder(write_course(tmp_path / "v2", "gradecourse",
                                                           instructor="grading-teacher", notebook=fixed)))
    newest = session.scalars(select(LessonVersion).where(LessonVersion.lesson_id == graded.lesson_id)
                             .order_by(LessonVersion.number.desc())).first()
    assert newest.number == 2
    again = admin.regrade(session, teacher, graded.id)
    assert (again.status, again.lesson_version_id, again.regrades, again.claims) == ("queued", newest.id, 1, 0)
    session.commit()
    hold(session, graded.id, "w2")
    session.expire_all()
    assert "square(5) == 25" in queue.job_for(session.get(NotebookSubmission, graded.id)).source_notebooks["l1.ipynb"]
    # graded again (the fixed test fails this time): the manual points still count
    job = session.get(NotebookSubmission, graded.id)
    assert queue.complete(session, job.id, "w2", score=0.0, max_score=5.0, feedback=json.loads(graded.feedback))
    session.expire_all()
    done = session.get(NotebookSubmission, graded.id)
    assert (done.status, done.auto_score, done.manual_score, done.score) == ("graded", 0.0, 3.0, 3.0)


def test_regrade_all_of_a_lesson_and_a_late_worker_cannot_store(session, teacher, course, student):
    subs = [queue.enqueue(session, student, "gradecourse", "l1", {"l1.ipynb": NB}) for _ in range(3)]
    session.commit()
    grade(session, subs[0].id)
    hold(session, subs[1].id, "slow-worker")  # subs[1] is being graded right now
    assert admin.regrade_lesson(session, teacher, "gradecourse", "l1") == 3
    session.commit()
    # the slow worker's lease went with the re-grade: its old result is not stored
    assert not queue.complete(session, subs[1].id, "slow-worker", score=2, max_score=5, feedback={})
    session.expire_all()
    assert {session.get(NotebookSubmission, s.id).status for s in subs} == {"queued"}
    assert admin.regrade_lesson(session, teacher, "gradecourse", "l2") == 0


def test_a_manual_grade_that_passes_the_lesson_counts_for_progress(session, teacher, graded):
    from lms_extension.services import gamification

    keys = lambda: {a.key for a in gamification.achievements_of(session, graded.user_id)}  # noqa: E731
    assert graded.score / graded.max_score < 0.7  # the autograded part alone does not pass
    xp_before, badges_before = gamification.total_xp(session, graded.user_id), keys()
    assert "first-exercise" not in badges_before
    admin.save_manual_grades(session, teacher, graded.id, [
        {"notebook": "l1.ipynb", "grade_id": "explain", "points": 2.5, "comment": "Good, but say why."}])
    assert graded.score / graded.max_score >= 0.7
    assert gamification.total_xp(session, graded.user_id) > xp_before
    assert "first-exercise" in keys()
