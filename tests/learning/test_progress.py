"""Completion rules, heartbeats (idle time excluded), course progress, resume and next lesson."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lms_extension.errors import Forbidden, NotFound
from lms_extension.models.learning import Achievement, Certificate, XPEvent
from lms_extension.services import challenges, lessons, progress, quizzes
from sqlalchemy import select

from .conftest import UNGRADED_NOTEBOOK, build_course, enroll, graded, quiz_notebook

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _lesson(course, key):
    return next(ls for ls in course.lessons if ls.key == key)


def test_ungraded_lesson_completes_when_opened(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=UNGRADED_NOTEBOOK)
    enroll(session, alice, course.slug)
    lessons.deliver(session, alice, course.slug, "l1")
    status = progress.lesson_status(session, alice.id, _lesson(course, "l1"))
    assert status["completed"] and status["parts"] == []
    view = progress.course_progress(session, alice, course.slug)
    assert view["percent"] == 50 and view["next"] == "l2" and view["resume"] == "l1"


def test_free_preview_without_enrollment_records_no_completion(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=UNGRADED_NOTEBOOK)
    lessons.deliver(session, alice, course.slug, "l1")  # l1 is a free preview
    assert not progress.lesson_status(session, alice.id, _lesson(course, "l1"))["completed"]


def test_graded_lesson_completes_at_the_default_threshold(session, tmp_path, alice):
    course = build_course(session, tmp_path)
    enroll(session, alice, course.slug)
    lessons.deliver(session, alice, course.slug, "l1")
    lesson = _lesson(course, "l1")
    assert not progress.lesson_status(session, alice.id, lesson)["completed"]  # opened is not enough
    graded(session, alice, course.slug, "l1", 1.0, 2.0)  # 50% < 70%
    assert not progress.lesson_status(session, alice.id, lesson)["completed"]
    graded(session, alice, course.slug, "l1", 1.4, 2.0)  # exactly 70%
    status = progress.lesson_status(session, alice.id, lesson)
    assert status["completed"] and status["parts"] == [
        {"kind": "notebook", "ref": "l1.ipynb", "title": "Exercises", "score": 0.7, "passed": True}]
    # a later worse grade never takes completion back
    graded(session, alice, course.slug, "l1", 0.0, 2.0)
    assert progress.lesson_status(session, alice.id, lesson)["completed"]


def test_course_threshold_from_course_toml(session, tmp_path, alice):
    course = build_course(session, tmp_path, extra_toml="pass_threshold = 0.9")
    enroll(session, alice, course.slug)
    graded(session, alice, course.slug, "l1", 1.6, 2.0)  # 80% < 90%
    assert not progress.lesson_status(session, alice.id, _lesson(course, "l1"))["completed"]
    graded(session, alice, course.slug, "l1", 1.8, 2.0)
    assert progress.lesson_status(session, alice.id, _lesson(course, "l1"))["completed"]


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.1", '"high"', "true"])
def test_bad_threshold_is_refused_at_import(session, tmp_path, bad):
    from lms_extension.errors import CourseFormatError

    with pytest.raises(CourseFormatError, match="pass_threshold"):
        build_course(session, tmp_path, extra_toml=f"pass_threshold = {bad}")


def test_quizzes_are_a_graded_part(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=quiz_notebook(), lessons=1)
    enroll(session, alice, course.slug)
    lesson = _lesson(course, "l1")
    graded(session, alice, course.slug, "l1", 2.0, 2.0)
    status = progress.lesson_status(session, alice.id, lesson)
    assert not status["completed"]
    assert {p["kind"]: p["passed"] for p in status["parts"]} == {"notebook": True, "quizzes": False}
    quizzes.answer(session, alice, course.slug, "q-sum", "b")  # 2 of 3 points = 67% < 70%
    assert not progress.lesson_status(session, alice.id, lesson)["completed"]
    quizzes.answer(session, alice, course.slug, "q-name", "  ada   LOVELACE ")
    assert progress.lesson_status(session, alice.id, lesson)["completed"]
    # the only lesson: the course is complete and the certificate issued
    cert = session.scalars(select(Certificate).where(Certificate.user_id == alice.id)).one()
    assert cert.course_id == course.id and cert.student_name == "alice"
    assert progress.course_progress(session, alice, course.slug)["certificate"] == cert.uid


def test_challenges_are_a_graded_part(session, tmp_path, alice):
    _write_challenge(tmp_path)
    course = build_course(session, tmp_path, notebook=UNGRADED_NOTEBOOK, lessons=1,
                          lesson_toml={"l1": 'challenges = ["ch.toml"]'})
    enroll(session, alice, course.slug)
    lesson = _lesson(course, "l1")
    challenge = lesson.challenges[0]
    lessons.deliver(session, alice, course.slug, "l1")
    assert not progress.lesson_status(session, alice.id, lesson)["completed"]
    challenges.record(session, alice, challenge, 71, "print(1)",
                      {"status": "failed", "passed": 1, "total": 2, "compile_output": None, "tests": []})
    assert not progress.lesson_status(session, alice.id, lesson)["completed"]
    challenges.record(session, alice, challenge, 71, "print(2)",
                      {"status": "passed", "passed": 2, "total": 2, "compile_output": None, "tests": []})
    status = progress.lesson_status(session, alice.id, lesson)
    assert status["completed"]
    # the student sees the challenge's title ("Double"), not its id ("double")
    assert [(p["kind"], p["title"]) for p in status["parts"]] == [("challenge", "Double")]
    reasons = set(session.scalars(select(XPEvent.reason).where(XPEvent.user_id == alice.id)))
    assert reasons == {"challenge", "lesson"}


def _write_challenge(root):
    folder = root / "learn"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ch.toml").write_text(
        'id = "double"\ntitle = "Double"\nstatement = "Print 2*n"\n'
        '[[tests]]\nstdin = "1"\nexpected = "2"\n[[tests]]\nstdin = "2"\nexpected = "4"\nhidden = true\n')


def test_course_completion_awards_milestones_badges_and_xp(session, tmp_path, alice):
    course = build_course(session, tmp_path, lessons=4)
    enroll(session, alice, course.slug)
    keys = lambda: {(a.key, a.scope) for a in session.scalars(select(Achievement).where(Achievement.user_id == alice.id))}  # noqa: E731
    graded(session, alice, course.slug, "l1", 2.0)
    assert keys() == {("milestone-25", "learn"), ("first-exercise", ""), ("perfect-score", "")}
    for key in ("l2", "l3", "l4"):
        graded(session, alice, course.slug, key, 1.5)
    assert {k for k, _ in keys()} >= {"milestone-50", "milestone-75", "milestone-100", "first-course"}
    xp = sum(session.scalars(select(XPEvent.points).where(XPEvent.user_id == alice.id)))
    assert xp == 4 * 50 + 4 * 30
    assert session.scalars(select(Certificate).where(Certificate.user_id == alice.id)).one()
    view = progress.course_progress(session, alice, course.slug)
    assert view["percent"] == 100 and view["completed"] and view["next"] is None


# heartbeats -------------------------------------------------------------------------------------
def test_heartbeats_count_the_reported_seconds_within_wall_time(session, tmp_path, alice):
    course = build_course(session, tmp_path)
    enroll(session, alice, course.slug)

    def beat(t, seconds):
        return progress.heartbeat(session, alice, course.slug, "l1", seconds=seconds, now=T0 + timedelta(seconds=t),
                                  idle_seconds=300)["seconds_spent"]

    assert beat(0, 45) == 45  # what the student's server measured since its last report
    assert beat(60, 60) == 105
    assert beat(120, 20) == 125  # active 20 s of that minute (another notebook, or idle, the rest)
    assert beat(150, 60) == 155  # never more than the time since this lesson's previous report
    assert beat(3750, 3600) == 455  # never more than the idle threshold in one report
    assert beat(3750, 60) == 455  # a duplicate, or a clock behind, adds nothing
    assert beat(3000, 60) == 455
    assert beat(3810, 60) == 515
    assert beat(3870, -5) == 515 and beat(3930, None) == 515  # nonsense, or an older server: no time
    assert progress.course_progress(session, alice, course.slug)["resume"] == "l1"


def test_reports_naming_many_lessons_count_no_more_than_the_wall_clock(session, tmp_path, alice):
    """A forged report (the student's code can reach the LMS with the student's token) that claims
    a full minute in each of three lessons every minute adds a minute a minute, not three; a
    legitimate report that splits a minute between two lessons still counts both parts."""
    course = build_course(session, tmp_path, lessons=3)
    enroll(session, alice, course.slug)

    def beat(t, key, seconds):
        return progress.heartbeat(session, alice, course.slug, key, seconds=seconds, now=T0 + timedelta(seconds=t),
                                  idle_seconds=60)["counted_seconds"]

    assert [beat(0, key, 60) for key in ("l1", "l2", "l3")] == [60, 0, 0]
    assert [beat(60, key, 60) for key in ("l1", "l2", "l3")] == [60, 0, 0]
    assert [beat(120, key, 60) for key in ("l3", "l2", "l1")] == [60, 0, 0]
    spent = sum(progress.lesson_status(session, alice.id, _lesson(course, key))["seconds_spent"]
                for key in ("l1", "l2", "l3"))
    assert spent == 180  # three minutes of wall clock (the first report's minute included)
    # the student switched tabs halfway through the next minute: both halves count
    assert [beat(180, "l1", 25), beat(180, "l2", 35)] == [25, 35]
    # after an hour away, a report counts at most the idle window, however many lessons it names
    assert [beat(3780, key, 60) for key in ("l1", "l2", "l3")] == [60, 0, 0]


def test_heartbeat_sets_where_to_resume(session, tmp_path, alice):
    course = build_course(session, tmp_path, lessons=3)
    enroll(session, alice, course.slug)
    progress.heartbeat(session, alice, course.slug, "l3", now=T0)
    view = progress.course_progress(session, alice, course.slug)
    assert view["resume"] == "l3" and view["next"] == "l1"


def test_heartbeats_need_an_enrollment(session, tmp_path, bob):
    course = build_course(session, tmp_path, price_cents=500)
    with pytest.raises(Forbidden):  # a free preview lesson, not enrolled
        progress.heartbeat(session, bob, course.slug, "l1", now=T0)
    with pytest.raises(Forbidden):  # a paid lesson
        progress.heartbeat(session, bob, course.slug, "l2", now=T0)
    with pytest.raises(NotFound):
        progress.heartbeat(session, bob, course.slug, "nope", now=T0)
    with pytest.raises(NotFound):
        progress.heartbeat(session, bob, "no-such-course", "l1", now=T0)


def test_progress_of_a_course_not_enrolled_is_404(session, tmp_path, alice):
    course = build_course(session, tmp_path)
    with pytest.raises(NotFound):
        progress.course_progress(session, alice, course.slug)


def test_my_progress_lists_every_enrollment(session, tmp_path, alice):
    a = build_course(session, tmp_path, "aaa", notebook=UNGRADED_NOTEBOOK)
    b = build_course(session, tmp_path, "bbb", lessons=3)
    enroll(session, alice, a.slug)
    enroll(session, alice, b.slug)
    lessons.deliver(session, alice, "aaa", "l1")
    lessons.deliver(session, alice, "aaa", "l2")
    mine = {c["course"]: c for c in progress.my_progress(session, alice)}
    assert mine["aaa"]["percent"] == 100 and mine["aaa"]["certificate"]
    assert mine["bbb"]["percent"] == 0 and mine["bbb"]["next"] == "l1"


def test_a_changed_score_re_evaluates_completion(session, tmp_path, alice):
    """Manual grades change a stored score; ``after_score_changed`` catches up."""
    course = build_course(session, tmp_path, lessons=1)
    enroll(session, alice, course.slug)
    sub = graded(session, alice, course.slug, "l1", 1.0, 2.0)
    assert not progress.lesson_status(session, alice.id, course.lessons[0])["completed"]
    session.refresh(sub)
    sub.score = 2.0
    session.flush()
    progress.after_score_changed(session, sub)
    assert progress.lesson_status(session, alice.id, course.lessons[0])["completed"]
    assert progress.course_progress(session, alice, course.slug)["certificate"]
