"""The discovery pages and API served by the real Tornado app on a real database (visitors),
with every SQL statement counted so N+1 queries cannot creep in."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
import requests
from sqlalchemy import event, insert, select

from lms_extension.db import session_factory
from lms_extension.models import Course, User
from lms_extension.models.base import utcnow
from lms_extension.models.discovery import CourseStats, Review
from lms_extension.services import search, trending
from lms_extension.services.analytics import VisitRecorder
from benchmarks.seed import seed_courses

from .conftest import load_corpus, serve_visitors


def seed(session, n_courses: int, reviews_per_course: int) -> None:
    seed_courses(session, n_courses, lessons_per_course=4)
    rng = random.Random(3)
    users = [{"hub_name": f"reviewer{i}", "display_name": f"R {i}", "is_instructor": False, "is_admin": False,
              "last_seen_at": utcnow(), "created_at": utcnow()} for i in range(reviews_per_course)]
    session.execute(insert(User), users)
    user_ids = list(session.scalars(select(User.id).where(User.hub_name.like("reviewer%"))))
    course_ids = list(session.scalars(select(Course.id)))
    rows, stats = [], []
    for cid in course_ids:
        ratings = [rng.randint(1, 5) for _ in user_ids]
        rows += [{"course_id": cid, "user_id": uid, "rating": r, "body": "ok", "body_html": "<p>ok</p>",
                  "status": "visible", "helpful_count": rng.randint(0, 9), "updated_at": utcnow(),
                  "created_at": utcnow() - timedelta(days=rng.randint(0, 30))} for uid, r in zip(user_ids, ratings)]
        stats.append({"course_id": cid, "rating_count": len(ratings), "rating_sum": sum(ratings),
                      "rating_avg": sum(ratings) / len(ratings), "enrollment_count": 0, "trending_score": 0.0,
                      **{f"rating_{n}": ratings.count(n) for n in range(1, 6)}})
    session.execute(insert(Review), rows)
    session.execute(insert(CourseStats), stats)
    trending.refresh(session)
    session.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path_factory, tmp_path, monkeypatch):
    """Start the service on a fresh database; yields (base url, engine, statements, app)."""
    statements = []

    def watch(engine):
        event.listen(engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))

    for base, engine, app in serve_visitors(
            request.param, tmp_path_factory, tmp_path, monkeypatch, seed=watch, catalog_cache_seconds=0.0,
            trending_refresh_seconds=0.0, review_min_progress=0.2, recommender="tfidf",
            recommendations_cache_seconds=300.0, search_vocabulary_seconds=60.0):
        # storefront visits are written in batches from a thread (services/analytics.py); a batch
        # written while a request is counted would count: this recorder writes none by itself
        app.settings["analytics_recorder"] = VisitRecorder(max_batch=10**9, max_age=float("inf"))
        yield base, engine, statements, app


def count(statements, url: str, expect: int = 200) -> int:
    before = len(statements)
    r = requests.get(url, timeout=30)
    assert r.status_code == expect, r.text[:500]
    return len(statements) - before


def test_queries_per_request_do_not_grow_with_data(served):
    base, engine, statements, app = served
    with session_factory(engine)() as session:
        seed(session, 12, 3)
    # courses, then the recommender caches: measure the first (cold) and second (warm) request
    pages = {"catalog": base, "search": base + "api/v1/courses?q=pandas&sort=rating",
             "search-page": base + "?q=pytohn+grpahs&min_rating=1",
             "course": base + "courses/course-00003", "reviews": base + "api/v1/courses/course-00003/reviews",
             "recommendations": base + "api/v1/courses/course-00003/recommendations",
             "trending": base + "api/v1/trending", "featured": base + "api/v1/featured"}
    small = {name: (count(statements, u), count(statements, u)) for name, u in pages.items()}
    with session_factory(engine)() as session:
        # ten times the courses, six times the reviews per course
        from sqlalchemy import delete
        for table in ("reviews", "course_stats", "lessons", "courses", "instructors", "users"):
            session.execute(delete(Course.metadata.tables[table]))
        seed(session, 120, 18)
    app.settings["recommender"].clear()  # cold again, as at the first measurement
    big = {name: (count(statements, u), count(statements, u)) for name, u in pages.items()}
    assert big == small, f"queries per request grew with the data: {small} -> {big}"
    assert max(warm for _, warm in big.values()) <= 14, big


def test_visitor_pages_and_hostile_input(served, tmp_path):
    base, engine, statements, _ = served
    with session_factory(engine)() as session:
        load_corpus(session, tmp_path)
        session.commit()
    search.vocabulary_cache.invalidate()
    r = requests.get(base, params={"q": "pandsa"})
    assert r.status_code == 200 and "Showing results for" in r.text and "Data analysis with pandas" in r.text
    body = requests.get(base + "api/v1/courses", params={"q": "machin lerning"}).json()
    assert body["corrected"] == "machin learning" and [c["slug"] for c in body["courses"]] == ["ml-intro"]
    assert body["courses"][0]["rating"] == {"average": 0.0, "count": 0}
    for q in ['"', "NEAR(", "*", "title:x", "' OR 1=1 --", "x" * 200]:
        assert requests.get(base + "api/v1/courses", params={"q": q}).status_code == 200
    for params in ({"q": "x" * 201}, {"min_rating": "x"}, {"min_rating": "7"}, {"min_price_cents": "-5"},
                   {"max_price_cents": "1e9"}, {"sort": "random"}, {"limit": "abc"}):
        r = requests.get(base + "api/v1/courses", params=params)
        assert r.status_code == 400 and r.json()["message"], params
    # the course page shows ratings and previews open for visitors as HTML
    page = requests.get(base + "courses/ml-intro")
    assert page.status_code == 200 and 'id="reviews"' in page.text and "courses/ml-intro/preview/l1" in page.text
    preview = requests.get(base + "courses/ml-intro/preview/l1")
    assert preview.status_code == 200 and "notebook-preview" in preview.text and "Squares" in preview.text
    assert requests.get(base + "courses/ml-intro/preview/l2").status_code == 403
    assert requests.get(base + "courses/ml-intro/preview/zz").status_code == 404
    # what needs a user answers 401, bad ids 404, never 500
    assert requests.post(base + "api/v1/courses/ml-intro/reviews", json={"rating": 5}).status_code == 401
    assert requests.get(base + "api/v1/me/wishlist").status_code == 401
    assert requests.post(base + "api/v1/reviews/abc/helpful").status_code == 401
    assert requests.post(base + "api/v1/reviews/99999999999/report", json={"reason": "x"}).status_code in (401, 404)
    assert requests.get(base + "api/v1/courses/ml-intro/reviews", params={"limit": "500"}).status_code == 400
    assert requests.get(base + "api/v1/courses/ghost/reviews").status_code == 404
    assert requests.get(base + "api/v1/courses/ml-intro/recommendations", params={"limit": "0"}).status_code == 400
    assert requests.get(base + "api/v1/trending", params={"limit": "x"}).status_code == 400
