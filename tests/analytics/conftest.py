"""Analytics fixtures: a small known dataset made through the product's code where it has a
path (imports, users, enrollments, visits, sign-up sources) and as plain rows where the data
would otherwise take a sandboxed grader or a browser (progress, grades, quiz answers)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from jupyterhub.services.auth import HubOAuth

from lms_extension import permissions
from lms_extension.models import ChallengeSubmission, LessonProgress, NotebookSubmission
from lms_extension.models.challenge import Challenge
from lms_extension.models.learning import Quiz, QuizAttempt
from lms_extension.services import analytics, enrollments
from lms_extension.services.course_import import import_course, load_course_folder
from tests.identity import answer_identity
from tests.conftest import own_engine
from tests.factories import make_user, write_course


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def cell(grade_id, passed, message=None, status=None):
    return {"grade_id": grade_id, "cell_type": "code", "points": 2.0 if passed else 0.0, "max_points": 2.0,
            "status": status or ("passed" if passed else "failed"), "passed": passed, "needs_manual_grade": False,
            "error_name": None if passed else "AssertionError", "error_message": message}


MANUAL = {"grade_id": "explain", "cell_type": "markdown", "points": None, "max_points": 3.0, "status": "manual",
          "passed": None, "needs_manual_grade": True, "error_name": None, "error_message": None}


def seed_course(session, tmp_path, slug="ana", teacher="ana-teacher", students=("s1", "s2", "s3", "s4", "s5")):
    """The dataset of tests/analytics/test_aggregation.py (its docstrings give the expected figures)."""
    make_user(session, teacher, instructor=True)
    course = import_course(session, load_course_folder(
        write_course(tmp_path, slug, lessons=3, instructor=teacher)))
    users = {name: make_user(session, f"{slug}-{name}") for name in students}
    for user in users.values():
        enrollments.enroll(session, user, slug)
    l1, l2, l3 = course.lessons
    # six browsers saw the course page, one of them twice
    visits = [analytics.Visit("course", slug, None, f"{i:016x}", T0) for i in range(1, 7)]
    visits.append(analytics.Visit("course", slug, None, f"{1:016x}", T0 + timedelta(hours=1)))
    visits.append(analytics.Visit("course", "no-such-course", None, f"{9:016x}", T0))
    assert analytics.store_visits(session, visits) == 7
    done = T0 + timedelta(days=1)
    for name, lesson, seconds, completed in [("s1", l1, 600, True), ("s1", l2, 1200, True), ("s1", l3, 300, True),
                                             ("s2", l1, 300, True), ("s2", l2, 60, False),
                                             ("s3", l1, 120, False), ("s4", l1, 0, False)]:
        if name not in users:
            continue
        session.add(LessonProgress(user_id=users[name].id, lesson_id=lesson.id, seconds_spent=seconds,
                                   completed_at=done if completed else None))
    version = l1.versions[-1].id
    for name, cells, status in [("s1", [cell("test_square", False, "failed: assert square(3) == 9"), MANUAL], "graded"),
                                ("s1", [cell("test_square", True), MANUAL], "graded"),
                                ("s2", [cell("test_square", False, "failed: assert square(3) == 9")], "graded"),
                                ("s2", [cell("test_square", False, "a hidden test failed")], "graded"),
                                ("s3", [cell("test_square", True)], "graded"),
                                ("s4", [cell("test_square", False, "never graded")], "queued")]:
        if name not in users:
            continue
        feedback = {"score": 0, "max_score": 5, "notebooks": [{"name": "l1.ipynb", "cells": cells}]}
        session.add(NotebookSubmission(user_id=users[name].id, lesson_id=l1.id, lesson_version_id=version,
                                       notebooks="{}", status=status, feedback=json.dumps(feedback)))
    q1 = Quiz(lesson_id=l1.id, key="q1", position=1, kind="choice", question="What is 2 + 2?", answer="[0]")
    q2 = Quiz(lesson_id=l1.id, key="q2", position=2, kind="choice", question="What is a list?", answer="[1]")
    session.add_all([q1, q2])
    session.flush()
    at = T0
    for quiz, answers in [(q1, {"s1": True, "s2": True, "s3": False, "s4": True}),
                          (q2, {"s1": False, "s2": True, "s3": True, "s4": False})]:
        for name, correct in answers.items():
            if name not in users:
                continue
            at += timedelta(minutes=1)
            session.add(QuizAttempt(quiz_id=quiz.id, user_id=users[name].id, response="[]", correct=correct,
                                    created_at=at))
    # a later, right answer does not change the first one
    if "s3" in users:
        session.add(QuizAttempt(quiz_id=q1.id, user_id=users["s3"].id, response="[]", correct=True,
                                created_at=at + timedelta(hours=1)))
    challenge = Challenge(lesson_id=l2.id, key="sum", title="Sum")
    session.add(challenge)
    session.flush()
    for name, language, status in [("s1", 71, "passed"), ("s1", 71, "failed"), ("s2", 71, "failed"),
                                   ("s2", 52, "passed"), ("s3", 62, "compilation_error")]:
        if name not in users:
            continue
        session.add(ChallengeSubmission(challenge_id=challenge.id, user_id=users[name].id, language_id=language,
                                        source="x", status=status))
    session.flush()
    return course, users


class FakeHub:
    """Who the hub says is logged in, per request: the ``X-Test-User`` header names the user;
    ``X-Test-Roles`` (``instructor``, ``admin``) gives the LMS scopes. Everything else of the
    service is real."""

    @staticmethod
    def model(handler):
        name = handler.request.headers.get("X-Test-User")
        if not name:
            return None
        roles = handler.request.headers.get("X-Test-Roles", "").split(",")
        return {"name": name, "kind": "user", "admin": False,
                "scopes": permissions.scopes_for(instructor="instructor" in roles, admin="admin" in roles)}

    @classmethod
    def install(cls, monkeypatch):
        answer_identity(monkeypatch, cls.model, HubOAuth)


def as_user(name: str, *roles: str) -> dict:
    return {"X-Test-User": name, "X-Test-Roles": ",".join(roles)}
