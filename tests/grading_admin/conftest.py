"""Courses with grading policies, graded submissions, made through the product's own code paths."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.conftest import own_engine
from sqlalchemy import update

from lms_extension.models import NotebookSubmission
from lms_extension.models.base import utcnow
from lms_extension.services import enrollments, grading_queue as queue
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import MINIMAL_NOTEBOOK, make_user, write_course

NB = json.dumps(MINIMAL_NOTEBOOK)

# a written answer (nbgrader "manual" cell) beside the autograded test
WRITTEN = json.loads(NB)
WRITTEN["cells"].append({
    "cell_type": "markdown", "id": "essay", "source": "YOUR ANSWER HERE",
    "metadata": {"nbgrader": {"schema_version": 3, "grade": True, "solution": True, "locked": False,
                              "task": False, "grade_id": "explain", "points": 3}}})


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


def hold(session, submission_id: int, worker: str, lease_seconds: float = 60) -> None:
    """Put a lease on one submission exactly as ``grading_queue.claim`` does (claim takes the oldest)."""
    now = utcnow()
    session.execute(update(NotebookSubmission).where(NotebookSubmission.id == submission_id)
                    .values(status="grading", lease_owner=worker, claims=NotebookSubmission.claims + 1,
                            lease_expires_at=now + timedelta(seconds=lease_seconds), started_at=now))
    session.commit()


def course_with_policy(tmp_path, slug: str, policy_toml: str, **kwargs):
    """A course folder whose first lesson carries ``policy_toml`` lines."""
    folder = write_course(tmp_path, slug, **kwargs)
    toml = folder / "course.toml"
    toml.write_text(re.sub(r'(id = "l1"\n)', lambda m: m.group(1) + policy_toml.strip() + "\n",
                           toml.read_text(), count=1))
    return folder


@pytest.fixture
def teacher(session):
    return make_user(session, "grading-teacher", instructor=True)


@pytest.fixture
def course(session, tmp_path, teacher):
    return import_course(session, load_course_folder(
        write_course(tmp_path, "gradecourse", instructor="grading-teacher", notebook=WRITTEN)))


@pytest.fixture
def student(session, course):
    user = make_user(session, "grading-student")
    enrollments.enroll(session, user, "gradecourse")
    return user


def grade(session, submission_id: int, *, test_points: float = 2.0, worker: str = "w-test") -> None:
    """Claim and complete one submission as a worker would, with the grader's result shape."""
    hold(session, submission_id, worker)
    feedback = {"score": test_points, "max_score": 5.0, "needs_manual_grade": True, "error": None,
                "notebooks": [{"name": "l1.ipynb", "score": test_points, "max_score": 5.0, "error": None, "cells": [
                    {"grade_id": "test_square", "cell_type": "code", "points": test_points, "max_points": 2.0,
                     "status": "passed" if test_points else "failed", "passed": bool(test_points),
                     "needs_manual_grade": False, "error_name": None, "error_message": None},
                    {"grade_id": "explain", "cell_type": "markdown", "points": None, "max_points": 3.0,
                     "status": "manual", "passed": None, "needs_manual_grade": True,
                     "error_name": None, "error_message": None}]}]}
    autograded = {"l1.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": "assert square(-4) == 16  # SECRET-HIDDEN",
                                                      "outputs": [], "metadata": {}}]})}
    assert queue.complete(session, submission_id, worker, score=test_points, max_score=5.0,
                          feedback=feedback, autograded=autograded)
