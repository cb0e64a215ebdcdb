"""Quizzes: authored in cell metadata, graded on the server, answers never shipped."""
from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from lms_extension.errors import Conflict, CourseFormatError, Forbidden, InvalidInput, NotFound
from lms_extension.models import LessonVersion
from lms_extension.models.learning import Quiz
from lms_extension.services import lessons, quizzes
from tests.factories import MINIMAL_NOTEBOOK

from .conftest import QUIZ_CELLS, build_course, enroll, quiz_notebook

SECRETS = ("SECRET-ANSWER-ADA", "ANSWER-FEEDBACK-OK", '"answer"', '"answers"')


def test_import_stores_the_key_and_strips_it_from_the_student_version(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    lesson = course.lessons[0]
    rows = session.scalars(select(Quiz).where(Quiz.lesson_id == lesson.id).order_by(Quiz.position)).all()
    assert [(q.key, q.kind, json.loads(q.answer)) for q in rows] == [
        ("q-sum", "choice", [1]), ("q-name", "short", ["Ada Lovelace", "SECRET-ANSWER-ADA"])]
    version = session.scalars(select(LessonVersion).where(LessonVersion.lesson_id == lesson.id)).one()
    assert "SECRET-ANSWER-ADA" in version.source_notebook  # the source stays on the server
    for secret in SECRETS:
        assert secret not in version.student_notebook
    cells = json.loads(version.student_notebook)["cells"]
    public = [c["metadata"]["lms"]["quiz"] for c in cells if "lms" in c["metadata"]]
    assert public[0] == {"id": "q-sum", "type": "choice", "question": "Which is 2 + 2?",
                         "options": ["3", "4", "22"], "points": 2, "attempts": 2}
    assert "%lms_quiz q-sum" in "".join(cells[3]["source"])
    # what the student receives through the lesson API
    enroll(session, alice, course.slug)
    delivered = lessons.deliver(session, alice, course.slug, "l1").notebook
    listed = json.dumps(quizzes.lesson_quiz_list(session, alice, course.slug, "l1"))
    for secret in SECRETS:
        assert secret not in delivered and secret not in listed


def test_choice_answers_attempts_and_feedback(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    enroll(session, alice, course.slug)
    wrong = quizzes.answer(session, alice, course.slug, "q-sum", "a")
    assert wrong["correct"] is False and wrong["attempts_left"] == 1 and wrong["feedback"] == "Count again."
    right = quizzes.answer(session, alice, course.slug, "q-sum", [1])
    assert right["correct"] and right["solved"] and right["score"] == 2 and right["feedback"] == "ANSWER-FEEDBACK-OK"
    with pytest.raises(Conflict, match="already"):
        quizzes.answer(session, alice, course.slug, "q-sum", 1)


def test_attempts_run_out(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    enroll(session, alice, course.slug)
    quizzes.answer(session, alice, course.slug, "q-sum", 0)
    last = quizzes.answer(session, alice, course.slug, "q-sum", "c")
    assert last["attempts_left"] == 0 and last["finished"] and not last["solved"]
    with pytest.raises(Conflict, match="no attempts left"):
        quizzes.answer(session, alice, course.slug, "q-sum", 1)


@pytest.mark.parametrize("response, correct", [
    ("Ada Lovelace", True), ("  ada\tlovelace ", True), ("ADA LOVELACE", True), ("Charles Babbage", False)])
def test_short_answers_normalised(session, tmp_path, alice, response, correct):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    enroll(session, alice, course.slug)
    assert quizzes.answer(session, alice, course.slug, "q-name", response)["correct"] is correct


def test_numeric_short_answers_compare_by_value(session, tmp_path, alice):
    nb = copy.deepcopy(MINIMAL_NOTEBOOK)
    nb["cells"].append({"cell_type": "markdown", "id": "n", "source": "?", "metadata": {"lms": {"quiz": {
        "id": "q-num", "type": "short", "question": "7 / 2?", "answers": ["3.5"]}}}})
    course = build_course(session, tmp_path, notebook=nb, lessons=1)
    enroll(session, alice, course.slug)
    assert quizzes.answer(session, alice, course.slug, "q-num", "3.50")["correct"]


@pytest.mark.parametrize("response", [None, True, 7, [9], "z", "", {"a": 1}, "x" * 600, ["a", 99]])
def test_bad_responses_are_invalid_input(session, tmp_path, alice, response):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    enroll(session, alice, course.slug)
    key = "q-name" if isinstance(response, str) and len(response) > 100 else "q-sum"
    with pytest.raises(InvalidInput):
        quizzes.answer(session, alice, course.slug, key, response)


def test_hostile_quiz_access(session, tmp_path, alice, bob):
    course = build_course(session, tmp_path, notebook=quiz_notebook(), price_cents=900)
    other = build_course(session, tmp_path, "other", notebook=quiz_notebook())
    enroll(session, alice, other.slug)
    with pytest.raises(Forbidden):  # free-preview lesson of a course alice did not buy
        quizzes.answer(session, alice, course.slug, "q-sum", 1)
    with pytest.raises(Forbidden):  # paid lesson: not even visible
        quizzes.lesson_quiz_list(session, alice, course.slug, "l2")
    with pytest.raises(NotFound):
        quizzes.answer(session, alice, other.slug, "q-missing", 1)
    with pytest.raises(NotFound):
        quizzes.answer(session, alice, "no-such-course", "q-sum", 1)
    with pytest.raises(NotFound):
        quizzes.answer(session, alice, other.slug, "../q-sum", 1)
    # alice's attempts are hers: bob sees a fresh quiz
    enroll(session, bob, other.slug)
    quizzes.answer(session, alice, other.slug, "q-sum", 1)
    assert quizzes.lesson_quiz_list(session, bob, other.slug, "l1")[0]["attempts_used"] == 0


@pytest.mark.parametrize("quiz, message", [
    ({"id": "Bad Id", "type": "choice"}, "id must match"),
    ({"id": "q", "type": "essay", "question": "?"}, "type must be"),
    ({"id": "q", "type": "choice", "question": "?", "options": ["a"], "answer": 0}, "at least 2"),
    ({"id": "q", "type": "choice", "question": "?", "options": ["a", "b"], "answer": 2}, "option index"),
    ({"id": "q", "type": "short", "question": "?"}, "accepted texts"),
    ({"id": "q", "type": "short", "question": "?", "answers": ["x"], "points": 0}, "points"),
    ({"id": "q", "type": "short", "question": "?", "answers": ["x"], "attempts": -1}, "attempts"),
])
def test_malformed_quizzes_fail_the_import(session, tmp_path, quiz, message):
    nb = copy.deepcopy(MINIMAL_NOTEBOOK)
    nb["cells"].append({"cell_type": "markdown", "id": "bad", "source": "?", "metadata": {"lms": {"quiz": quiz}}})
    with pytest.raises(CourseFormatError, match=message):
        build_course(session, tmp_path, notebook=nb, lessons=1)


def test_quiz_ids_unique_per_course(session, tmp_path):
    with pytest.raises(CourseFormatError, match="unique in a course"):
        build_course(session, tmp_path, notebook=quiz_notebook(), lessons=2, quizzes_everywhere=True)
    assert QUIZ_CELLS  # the shared fixture data stays untouched


def test_reimport_updates_and_removes_quizzes(session, tmp_path):
    course = build_course(session, tmp_path, notebook=quiz_notebook(), lessons=1)
    nb = quiz_notebook()
    nb["cells"] = nb["cells"][:-1]
    build_course(session, tmp_path, notebook=nb, lessons=1)
    assert session.scalars(select(Quiz.key).where(Quiz.lesson_id == course.lessons[0].id)).all() == ["q-sum"]


# single-answer questions, the reveal after the last attempt --------------------------------
def _multi_notebook(attempts: int | None = 2) -> dict:
    nb = quiz_notebook()
    quiz = {"id": "q-even", "type": "choice", "question": "Which are even?", "options": ["1", "2", "4"],
            "answer": [1, 2], "feedback": {"wrong": "Look again."}}
    if attempts is not None:
        quiz["attempts"] = attempts
    nb["cells"].append({"cell_type": "markdown", "id": "q3", "source": "?", "metadata": {"lms": {"quiz": quiz}}})
    return nb


def _attempt_count(session, user, quiz_key: str) -> int:
    return next(q for q in quizzes.lesson_quiz_list(session, user, "learn", "l1") if q["id"] == quiz_key)["attempts_used"]


@pytest.mark.parametrize("response", [[0, 1], "a,b", ["0", "2"], ["a", "c"], "b, c", [1, 2]])
def test_single_answer_question_refuses_several_options_without_counting(session, tmp_path, alice, response):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    enroll(session, alice, course.slug)
    with pytest.raises(InvalidInput, match="pick one option only"):
        quizzes.answer(session, alice, course.slug, "q-sum", response)
    assert _attempt_count(session, alice, "q-sum") == 0  # refused, not counted
    # the right option alone still scores, with both attempts intact
    assert quizzes.answer(session, alice, course.slug, "q-sum", [1, 1])["correct"]  # the same box twice is one box


def test_questions_say_whether_one_or_several_options_are_right(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=_multi_notebook())
    enroll(session, alice, course.slug)
    listed = {q["id"]: q for q in quizzes.lesson_quiz_list(session, alice, course.slug, "l1")}
    assert listed["q-sum"]["multiple"] is False and listed["q-even"]["multiple"] is True
    assert listed["q-name"]["multiple"] is False
    # several right options: several boxes are the normal answer
    assert quizzes.answer(session, alice, course.slug, "q-even", "b,c")["correct"]


def test_answer_and_key_are_shown_only_after_the_last_attempt(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    enroll(session, alice, course.slug)
    first = quizzes.answer(session, alice, course.slug, "q-sum", "a")
    assert first["attempts_left"] == 1 and first["correct_answer"] is None and first["your_answer"] is None
    listed = json.dumps(quizzes.lesson_quiz_list(session, alice, course.slug, "l1"))
    assert '"correct_answer": null' in listed and "[1]" not in listed
    last = quizzes.answer(session, alice, course.slug, "q-sum", "c")
    assert last["finished"] and last["your_answer"] == [2] and last["correct_answer"] == [1]
    shown = quizzes.lesson_quiz_list(session, alice, course.slug, "l1")[0]
    assert (shown["your_answer"], shown["correct_answer"]) == ([2], [1])
    # the short-answer quiz is unlimited (no "attempts"): its accepted texts stay hidden
    for _ in range(5):
        quizzes.answer(session, alice, course.slug, "q-name", "Babbage")
    short = quizzes.lesson_quiz_list(session, alice, course.slug, "l1")[1]
    assert short["attempts_left"] is None and short["correct_answer"] is None
    assert "SECRET-ANSWER-ADA" not in json.dumps(quizzes.lesson_quiz_list(session, alice, course.slug, "l1"))


def test_short_answer_reveal_after_last_attempt(session, tmp_path, alice):
    nb = copy.deepcopy(MINIMAL_NOTEBOOK)
    nb["cells"].append({"cell_type": "markdown", "id": "n", "source": "?", "metadata": {"lms": {"quiz": {
        "id": "q-cap", "type": "short", "question": "Capital of France?", "answers": ["Paris"], "attempts": 1}}}})
    course = build_course(session, tmp_path, notebook=nb, lessons=1)
    enroll(session, alice, course.slug)
    result = quizzes.answer(session, alice, course.slug, "q-cap", "  Lyon ")
    assert result["finished"] and result["your_answer"] == "Lyon" and result["correct_answer"] == ["Paris"]


def test_a_solved_quiz_shows_the_students_right_answer(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=_multi_notebook())
    enroll(session, alice, course.slug)
    solved = quizzes.answer(session, alice, course.slug, "q-even", [2, 1])
    assert solved["finished"] and solved["your_answer"] == [1, 2] == solved["correct_answer"]


def test_attempts_default_and_per_quiz_setting(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=_multi_notebook(attempts=None))
    rows = {q.key: q.max_attempts for q in session.scalars(select(Quiz).where(Quiz.lesson_id == course.lessons[0].id))}
    assert rows == {"q-sum": 2, "q-name": quizzes.DEFAULT_ATTEMPTS, "q-even": quizzes.DEFAULT_ATTEMPTS}


def test_refused_attempts_do_not_use_up_the_last_one(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=quiz_notebook())
    enroll(session, alice, course.slug)
    quizzes.answer(session, alice, course.slug, "q-sum", 0)
    for hostile in ([0, 1, 2], "a,b,c", ["9"], "zz", [], None):
        with pytest.raises(InvalidInput):
            quizzes.answer(session, alice, course.slug, "q-sum", hostile)
    view = quizzes.lesson_quiz_list(session, alice, course.slug, "l1")[0]
    assert view["attempts_left"] == 1 and view["correct_answer"] is None
