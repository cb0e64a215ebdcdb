"""Search latency and course-page time to first byte with 10,000 courses and 1,000,000 reviews.

Seeds a fresh database (SQLite file by default, ``--db-url postgresql://...`` for PostgreSQL)
with bulk inserts, rebuilds the search index, starts the LMS service as ``lms service`` runs
it with the catalog cache OFF (every search really runs), and measures from a client:

- search: ``GET /api/v1/courses?q=...`` over many distinct queries (words, typos, prefixes,
  filters, every sort), one client after another and with 4 concurrent clients: p50 / p99;
- course page: ``GET /courses/{slug}`` (HTML: ratings, reviews, recommendations) over many
  courses: time to first byte p50 / p99.

    .venv/bin/python -m benchmarks.bench_discovery [--courses 10000] [--reviews 1000000] [--requests 1000]

Targets: search p99 <= 50 ms, course page TTFB <= 100 ms, on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import func, select

from benchmarks.bench_catalog import wait_up
from benchmarks.seed import WORDS, seed_courses
from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.models import Course, User
from lms_extension.models.discovery import Review
from lms_extension.services import trending
from tests.e2e.platform import free_port

TECH = ("python pandas numpy graphs sorting search web api testing statistics regression trees heaps queues "
        "dynamic programming sql databases plotting notebooks javascript java rust kubernetes docker linux "
        "security cryptography networking compilers algorithms calculus probability optimization visualization "
        "scraping automation excel finance biology chemistry physics astronomy genomics vision audio robotics "
        "embedded microcontrollers blockchain design accessibility typescript react django flask spark hadoop "
        "streaming kafka clustering classification transformers reinforcement bayesian econometrics").split()


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """Technical words first, then made-up but word-like ones; drawn with a power law (Zipf)."""
    onsets, vowels, codas = "b c d f g h k l m n p r s t v z br cr dr gr pl st tr".split(), "a e i o u ai ea io".split(), "n r s t l x nd rt st".split()
    words = list(TECH)
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3))) + rng.choice(codas)
        if w not in seen and len(w) >= 4:
            seen.add(w)
            words.append(w)
    return words


def realistic_text(engine, rng: random.Random) -> list[str]:
    """Replace the seed's 22-word texts (every query matches ~all courses) with texts drawn
    from a 3,000-word vocabulary with Zipf frequencies, as real catalogs are."""
    from sqlalchemy import update

    from lms_extension.services import search

    words = vocabulary(rng)
    weights = [1 / (i + 1) for i in range(len(words))]
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(Course.id).order_by(Course.id)))
        rows = []
        for cid in ids:
            title = rng.choices(words, weights=weights, k=3)
            rows.append({"id": cid, "title": f"{title[0].title()} and {title[1]} {title[2]}",
                         "subtitle": "Learn " + " ".join(rng.choices(words, weights=weights, k=4)),
                         "description": " ".join(rng.choices(words, weights=weights, k=80))})
        session.execute(update(Course), rows)
        search.reindex_all(session)
        session.commit()
    return words


REVIEW_TEXTS = ["Great course, clear explanations.", "Too fast for me.", "Exercises were **excellent**.",
                "Good value.", "The notebooks made it click.", "Needs more examples."]


def seed_reviews(engine, n_reviews: int, seed: int = 11) -> None:
    """``n_reviews`` reviews spread over every course (one per user per course) plus their
    aggregates, and enrollments for a tenth of them, inserted in bulk."""
    rng = random.Random(seed)
    with session_factory(engine)() as session:
        course_ids = list(session.scalars(select(Course.id).order_by(Course.id)))
    per_course = max(1, n_reviews // len(course_ids))
    n_users = max(per_course * 2, 20_000)
    now = datetime.now(timezone.utc)
    users = [(f"learner{i}", f"Learner {i}", False, False, now, now) for i in range(n_users)]
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        pg = engine.dialect.name == "postgresql"
        cur = raw.cursor()
        if pg:
            with cur.copy("COPY users (hub_name, display_name, is_instructor, is_admin, last_seen_at, created_at) FROM STDIN") as copy:
                for row in users:
                    copy.write_row(row)
        else:
            cur.executemany("INSERT INTO users (hub_name, display_name, is_instructor, is_admin, last_seen_at, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", [(u[0], u[1], 0, 0, u[4].isoformat(" "), u[5].isoformat(" ")) for u in users])
        cur.execute("SELECT id FROM users WHERE hub_name LIKE 'learner%' ORDER BY id")
        user_ids = [r[0] for r in cur.fetchall()]
        reviews, enrollments, stats = [], [], []
        for cid in course_ids:
            reviewers = rng.sample(user_ids, per_course)
            quality = rng.random()
            ratings = [min(5, max(1, round(rng.gauss(2 + 3 * quality, 1)))) for _ in reviewers]
            for uid, r in zip(reviewers, ratings):
                text = rng.choice(REVIEW_TEXTS)
                created = now - timedelta(days=rng.random() * 700)
                reviews.append((cid, uid, r, text, f"<p>{text}</p>", "visible", rng.randint(0, 40), created, created))
                if rng.random() < 0.1:
                    enrollments.append((uid, cid, "purchase", created))
            stats.append((cid, len(ratings), sum(ratings), sum(ratings) / len(ratings),
                          *[ratings.count(n) for n in range(1, 6)], 0, 0.0))
        cols = "course_id, user_id, rating, body, body_html, status, helpful_count, updated_at, created_at"
        scols = ("course_id, rating_count, rating_sum, rating_avg, rating_1, rating_2, rating_3, rating_4, rating_5, "
                 "enrollment_count, trending_score")
        ecols = "user_id, course_id, source, created_at"
        if pg:
            for table, columns, rows in (("reviews", cols, reviews), ("course_stats", scols, stats),
                                         ("enrollments", ecols, enrollments)):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            iso = lambda v: v.isoformat(" ") if isinstance(v, datetime) else v  # noqa: E731
            cur.executemany(f"INSERT INTO reviews ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            ([iso(v) for v in row] for row in reviews))
            cur.executemany(f"INSERT INTO course_stats ({scols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", stats)
            cur.executemany(f"INSERT INTO enrollments ({ecols}) VALUES (?, ?, ?, ?)",
                            ([iso(v) for v in row] for row in enrollments))
        cur.close()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def queries(rng: random.Random, n: int, words: list[str]) -> list[str]:
    """Distinct search requests: words, two-word queries, typos, prefixes, filters, sorts."""
    def typo(w):
        i = rng.randrange(1, len(w) - 1)
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    sorts = ["relevance", "rating", "newest", "price_asc", "popularity"]
    weights = [1 / (i + 1) for i in range(len(words))]
    out = set()
    while len(out) < n:
        a, b = rng.choices(words, weights=weights, k=2)
        kind = rng.randrange(6)
        q = [a, f"{a} {b}", typo(a) if len(a) > 4 else a, a[:4], f"{typo(b) if len(b) > 4 else b} {a}", b][kind]
        params = f"q={q.replace(' ', '+')}&sort={rng.choice(sorts)}"
        if rng.random() < 0.4:
            params += f"&category={rng.choice(['Programming', 'Data+Science', 'Algorithms'])}"
        if rng.random() < 0.3:
            params += f"&min_rating={rng.choice([3, 4])}"
        if rng.random() < 0.2:
            params += "&max_price_cents=4900"
        if rng.random() < 0.2:
            params += f"&offset={rng.choice([24, 48])}"
        out.add(params)
    return sorted(out)


def timed_get(session: requests.Session, url: str) -> float:
    """Milliseconds until the status line and headers arrived (time to first byte)."""
    r = session.get(url, stream=True, timeout=30)
    ttfb = r.elapsed.total_seconds() * 1000
    r.content  # drain
    if r.status_code != 200:
        raise RuntimeError(f"{url} -> {r.status_code}: {r.text[:200]}")
    return ttfb


def measure(urls: list[str], clients: int) -> list[float]:
    sessions = [requests.Session() for _ in range(clients)]
    chunks = [urls[i::clients] for i in range(clients)]

    def run(i):
        return [timed_get(sessions[i], u) for u in chunks[i]]

    with ThreadPoolExecutor(clients) as pool:
        return [t for part in pool.map(run, range(clients)) for t in part]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--courses", type=int, default=10_000)
    ap.add_argument("--reviews", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--db-url", default="", help="default: a fresh SQLite file; or an empty PostgreSQL database")
    ap.add_argument("--text", choices=["realistic", "tiny"], default="realistic",
                    help="course texts from a 3,000-word Zipf vocabulary (default), or the catalog seed's "
                         "22 words, where every query matches ~95%% of the courses (worst case)")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-discovery-"))
    db_url = args.db_url or f"sqlite:///{work / 'lms.sqlite'}"
    engine = make_engine(db_url)
    upgrade(engine)
    t = time.monotonic()
    with session_factory(engine)() as session:
        seed_courses(session, args.courses)
    words = realistic_text(engine, random.Random(9)) if args.text == "realistic" else list(WORDS)
    t_courses = time.monotonic() - t
    seed_reviews(engine, args.reviews)
    t_reviews = time.monotonic() - t - t_courses
    with session_factory(engine)() as session:
        trending.refresh(session)
        session.commit()
        n_reviews = session.scalar(select(func.count(Review.id)))
        slugs = list(session.scalars(select(Course.slug).order_by(Course.id)))
        n_users = session.scalar(select(func.count(User.id)))
    print(f"seeded {len(slugs)} courses in {t_courses:.1f}s, {n_reviews} reviews ({n_users} users) in "
          f"{t_reviews:.1f}s (search index built while seeding courses) "
          f"({engine.dialect.name}, {args.text} texts)")
    engine.dispose()

    port = free_port()
    env = {**os.environ, "LMS_DB_URL": db_url, "LMS_DATA_DIR": str(work), "LMS_DEMO": "0",
           "LMS_CATALOG_CACHE_SECONDS": "0", "LMS_TRENDING_REFRESH_SECONDS": "0",
           "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}", "JUPYTERHUB_SERVICE_PREFIX": "/services/lms/",
           "JUPYTERHUB_API_TOKEN": "unused-by-anonymous-requests", "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api"}
    service = subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "service"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/services/lms/"
    rng = random.Random(5)
    try:
        wait_up(base + "api/v1/courses", timeout=60)
        t = time.monotonic()
        requests.get(base + f"courses/{slugs[0]}", timeout=120)  # builds the TF-IDF model once
        warmup = time.monotonic() - t
        search_urls = [base + "api/v1/courses?" + q for q in queries(rng, args.requests, words)]
        course_urls = [base + f"courses/{s}" for s in rng.sample(slugs, min(len(slugs), args.requests // 2))]
        results = {
            "search, 1 client": measure(search_urls, 1),
            "search, 4 clients": measure(list(reversed(search_urls)), 4),
            "course page TTFB, 1 client": measure(course_urls, 1),
            "course page TTFB, 4 clients": measure(list(reversed(course_urls)), 4),
        }
    finally:
        service.terminate()
        service.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"first course page (builds the content model for {len(slugs)} courses): {warmup * 1000:.0f} ms")
    print(f"\n{'measure':32} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in results.items():
        print(f"{name:32} {len(values):6d} {statistics.median(values):8.2f} {pct(values, 99):8.2f} {max(values):8.2f}")
    s99, c99 = pct(results["search, 1 client"], 99), pct(results["course page TTFB, 1 client"], 99)
    print(f"\ntargets: search p99 <= 50 ms: {s99:.1f} ms ({'met' if s99 <= 50 else 'MISSED'}); "
          f"course page TTFB p99 <= 100 ms: {c99:.1f} ms ({'met' if c99 <= 100 else 'MISSED'})  [{os.cpu_count()} cores]")


if __name__ == "__main__":
    main()
