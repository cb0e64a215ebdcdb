"""The catalog and course pages as visitors get them: rendered once per cache period and
served from the replica's catalog cache, each response with its own CSP nonce."""
from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from sqlalchemy import update

from lms_extension.db import session_factory
from lms_extension.models import Course
from lms_extension.services.recommendations import Recommender
from lms_extension.web.base import NOTICE_COOKIE
from benchmarks.seed import seed_courses

from .conftest import serve_visitors


def _seed(engine) -> None:
    with session_factory(engine)() as session:
        seed_courses(session, 6, lessons_per_course=2)
        session.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def cached(request, tmp_path_factory, tmp_path, monkeypatch):
    yield from serve_visitors(request.param, tmp_path_factory, tmp_path, monkeypatch, seed=_seed,
                              catalog_cache_seconds=3600.0, recommender="tfidf")


def _retitle(engine, slug: str, title: str) -> None:
    """A change made behind this replica's back (another replica, a script)."""
    with session_factory(engine)() as session:
        session.execute(update(Course).where(Course.slug == slug).values(title=title))
        session.commit()


def _nonce(response) -> str:
    header = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    in_page = set(re.findall(r'nonce="([^"]+)"', response.text))
    assert in_page == {header}, (in_page, header)
    return header


def test_visitors_get_the_cached_page_with_a_fresh_nonce(cached):
    base, engine, app = cached
    first = requests.get(base + "courses/course-00001")
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    shop = requests.get(base)
    assert shop.status_code == 200 and 'data-slug="course-00001"' in shop.text
    _retitle(engine, "course-00001", "Renamed behind the cache")
    again = requests.get(base + "courses/course-00001")
    assert again.status_code == 200 and "Renamed behind the cache" not in again.text  # the cached page
    assert again.text.replace(_nonce(again), "N") == first.text.replace(_nonce(first), "N")
    assert _nonce(again) != _nonce(first)
    assert "Renamed behind the cache" not in requests.get(base).text
    app.settings["catalog_cache"].clear()  # what a write in this process does (publishing, featuring)
    assert "Renamed behind the cache" in requests.get(base + "courses/course-00001").text


def test_what_is_not_the_same_for_every_visitor_is_not_cached(cached):
    base, engine, app = cached
    # a missing course: 404, not kept; once it exists it shows
    assert requests.get(base + "courses/not-yet").status_code == 404
    with session_factory(engine)() as session:
        session.execute(update(Course).where(Course.slug == "course-00002").values(slug="not-yet"))
        session.commit()
    assert requests.get(base + "courses/not-yet").status_code == 200
    # query strings are pages of their own
    requests.get(base, params={"level": "beginner"})
    _retitle(engine, "course-00003", "Seen by the next query")
    assert requests.get(base + "courses/course-00003").status_code == 200
    # a visitor carrying a one-time notice gets a page rendered for them (the notice is theirs)
    requests.get(base + "courses/course-00004")
    _retitle(engine, "course-00004", "Rendered for this browser")
    noticed = requests.get(base + "courses/course-00004", cookies={NOTICE_COOKIE: "not-signed"})
    assert noticed.status_code == 200 and "Rendered for this browser" in noticed.text
    assert "Rendered for this browser" not in requests.get(base + "courses/course-00004").text


def test_the_content_model_is_rebuilt_in_the_background(cached):
    _, engine, _ = cached
    rec = Recommender("tfidf", ttl=0.05)
    with session_factory(engine)() as session:
        model = rec.content_model(session)
        time.sleep(0.1)
        assert rec.content_model(session) is model  # expired: the old one answers, a new one builds
        for _ in range(20):
            rec.content_model(session)
        rebuilding = [t for t in threading.enumerate() if t.name == "lms-recommender-rebuild"]
        assert len(rebuilding) <= 1, rebuilding
        deadline = time.monotonic() + 30
        while rec.content_model(session) is model and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rec.content_model(session) is not model, "the model was never rebuilt"


def test_static_assets_have_hashed_names_and_cache_for_a_year(cached):
    base, _, _ = cached
    for page in (base, base + "courses/course-00001"):
        html = requests.get(page).text
        assets = set(re.findall(r'(?:href|src)="(/services/lms/static/[^"]+)"', html))
        assert any(a.split("?")[0].endswith(".css") for a in assets) and assets, assets
        for asset in assets:
            assert re.search(r"\?v=[0-9a-f]{8,}", asset), f"{asset}: no content hash in its URL"
            r = requests.get(base.split("/services/")[0] + asset.replace("&amp;", "&"))
            assert r.status_code == 200, asset
            age = re.search(r"max-age=(\d+)", r.headers.get("Cache-Control", ""))
            assert age and int(age.group(1)) >= 365 * 24 * 3600, (asset, r.headers.get("Cache-Control"))
