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
