"""Fixtures of the learning tests: a course with a graded notebook, quizzes, a video and resources."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.conftest import own_engine


from lms_extension.services import enrollments, grading_queue
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import MINIMAL_NOTEBOOK, make_user, write_course

QUIZ_CELLS = [
    {"cell_type": "markdown", "id": "q1", "source": "Which is 2 + 2?", "metadata": {"lms": {"quiz": {
        "id": "q-sum", "type": "choice", "question": "Which is 2 + 2?", "options": ["3", "4", "22"],
        "answer": 1, "points": 2, "attempts": 2,
        "feedback": {"correct": "ANSWER-FEEDBACK-OK", "wrong": "Count again."}}}}},
    {"cell_type": "markdown", "id": "q2", "source": "Who wrote the first program?", "metadata": {"lms": {"quiz": {
        "id": "q-name", "type": "short", "question": "Who wrote the first program?",
        "answers": ["Ada Lovelace", "SECRET-ANSWER-ADA"], "points": 1}}}},
]
UNGRADED_NOTEBOOK = {**MINIMAL_NOTEBOOK, "cells": [MINIMAL_NOTEBOOK["cells"][0]]}


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


def quiz_notebook() -> dict:
    nb = copy.deepcopy(MINIMAL_NOTEBOOK)
    nb["cells"] = nb["cells"] + copy.deepcopy(QUIZ_CELLS)
    return nb


def build_course(session, root: Path, slug: str = "learn", *, lessons: int = 2, notebook: dict | None = None,
                 extra_toml: str = "", price_cents: int = 0, lesson_toml: dict | None = None,
                 quizzes_everywhere: bool = False, store=None):
    """A course of ``lessons`` lessons with ``notebook``; quizzes (ids unique per course) stay in
    the first lesson unless ``quizzes_everywhere``; ``store`` keeps its resources and videos."""
    folder = write_course(root, slug, lessons=lessons, notebook=notebook or MINIMAL_NOTEBOOK,
                          extra_toml=extra_toml, price_cents=price_cents)
    if not quizzes_everywhere and "lms" in json.dumps(notebook or {}):
        for i in range(2, lessons + 1):
            (folder / "lessons" / f"l{i}.ipynb").write_text(json.dumps(MINIMAL_NOTEBOOK))
    if lesson_toml:
        text = (folder / "course.toml").read_text()
        for key, extra in lesson_toml.items():
            text = text.replace(f'id = "{key}"\n', f'id = "{key}"\n{extra}\n')
        (folder / "course.toml").write_text(text)
    return import_course(session, load_course_folder(folder), store=store)


def enroll(session, user, slug):
    enrollment, _ = enrollments.enroll(session, user, slug)
    session.flush()
    return enrollment


def graded(session, user, slug: str, lesson_key: str, score: float, max_score: float = 2.0):
    """A submission through the real queue: enqueue, claim, complete (as a worker would)."""
    course, lesson, _ = enrollments.lesson_access(session, user, slug, lesson_key)
    sub = grading_queue.enqueue(session, user, slug, lesson_key, {lesson.filename: json.dumps(MINIMAL_NOTEBOOK)})
    session.commit()
    job = grading_queue.claim(session, "worker-test")
    assert job is not None and job.id == sub.id
    assert grading_queue.complete(session, sub.id, "worker-test", score=score, max_score=max_score,
                                  feedback={"score": score, "max_score": max_score, "notebooks": []})
    return sub


@pytest.fixture
def alice(session):
    return make_user(session, "alice")


@pytest.fixture
def bob(session):
    return make_user(session, "bob")
