"""Recommendation quality: precision@5 on held-out enrollments against a popularity baseline.

A synthetic but structured catalog: categories with their own vocabulary, courses grouped in
tracks (a student who takes the first courses of a track tends to take the next), course
popularity following a power law, and students who learn in one or two categories plus some
popular courses at random. For every student with at least 4 enrollments the last 2 are held
out; the recommender sees only the rest (through the real database and service code) and is
scored on how many of its 5 suggestions are held-out courses.

    .venv/bin/python -m benchmarks.bench_recommendations [--students 2000] [--embeddings]
"""
from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select

from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.models import Course, Enrollment, Instructor, User
from lms_extension.services import recommendations, search, trending

TOPICS = {
    "Data Science": "pandas dataframe csv cleaning groupby pivot visualization matplotlib seaborn",
    "Machine Learning": "regression classification sklearn features overfitting gradient boosting model",
    "Deep Learning": "neural network pytorch backpropagation convolution transformer embedding gpu",
    "Algorithms": "sorting graphs dijkstra dynamic programming greedy complexity recursion heaps",
    "Web": "http tornado flask rest api routing templates websockets authentication",
    "Databases": "sql joins indexes transactions postgresql sqlite normalization queries",
    "Statistics": "probability distributions hypothesis testing bayes inference sampling variance",
    "Systems": "linux processes threads memory scheduling filesystems containers shell",
    "Security": "cryptography hashing tls vulnerabilities xss injection sandboxing authentication",
    "Scientific Computing": "numpy arrays linear algebra integration simulation scipy vectorization",
    "Visualization": "charts plotting dashboards color perception altair bokeh interactive",
    "Programming": "python functions loops classes testing debugging modules packaging",
}
TRACK_LEN, TRACKS_PER_CATEGORY = 5, 5


def build(session, rng: random.Random, n_students: int):
    now = datetime.now(timezone.utc)
    session.execute(insert(User), [{"hub_name": "teacher", "display_name": "Teacher", "is_instructor": True,
                                    "is_admin": False, "last_seen_at": now, "created_at": now}])
    teacher = session.scalar(select(User.id))
    session.execute(insert(Instructor), [{"user_id": teacher, "headline": "", "bio": "",
                                          "created_at": now}])
    instructor = session.scalar(select(Instructor.id))
    rows, tracks = [], {}
    for category, words in TOPICS.items():
        vocab = words.split()
        for t in range(TRACKS_PER_CATEGORY):
            track_words = rng.sample(vocab, 3)
            for step in range(TRACK_LEN):
                slug = f"{category.lower().replace(' ', '-')}-{t}-{step}"
                title = f"{track_words[0].title()} {track_words[1]} part {step + 1}"
                description = " ".join(rng.choices(vocab, k=25) + track_words * 3)
                rows.append({"slug": slug, "title": title, "subtitle": f"{category}: {track_words[2]}",
                             "description": description, "category": category, "level": "beginner",
                             "language": "en", "price_cents": 0, "currency": "usd", "published": True,
                             "instructor_id": instructor, "created_at": now})
                tracks.setdefault((category, t), []).append(slug)
    session.execute(insert(Course), rows)
    ids = dict(session.execute(select(Course.slug, Course.id)).all())
    all_ids = list(ids.values())
    # power-law popularity for the random part of what students take
    weights = [1 / (i + 1) ** 1.1 for i in range(len(all_ids))]
    shuffled = all_ids[:]
    rng.shuffle(shuffled)
    users = [{"hub_name": f"s{i}", "display_name": "", "is_instructor": False, "is_admin": False,
              "last_seen_at": now, "created_at": now} for i in range(n_students)]
    session.execute(insert(User), users)
    user_ids = list(session.scalars(select(User.id).where(User.hub_name.like("s%")).order_by(User.id)))
    categories = list(TOPICS)
    histories = {}
    for uid in user_ids:
        interests = rng.sample(categories, 2 if rng.random() < 0.3 else 1)
        taken: list[int] = []
        for category in interests:
            for t in rng.sample(range(TRACKS_PER_CATEGORY), rng.choice([1, 1, 2])):
                for slug in tracks[(category, t)][:rng.randint(2, TRACK_LEN)]:
                    if ids[slug] not in taken:
                        taken.append(ids[slug])
        for cid in rng.choices(shuffled, weights=weights, k=rng.randint(0, 2)):
            if cid not in taken:
                taken.insert(rng.randrange(len(taken) + 1), cid)
        histories[uid] = taken
    return histories


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=2000)
    ap.add_argument("--holdout", type=int, default=2)
    ap.add_argument("--embeddings", action="store_true", help="also score the embeddings backend (needs the extra)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-recs-"))
    engine = make_engine(f"sqlite:///{work / 'lms.sqlite'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        histories = build(session, rng, args.students)
        train, held = [], {}
        start = datetime.now(timezone.utc) - timedelta(days=60)
        for uid, taken in histories.items():
            keep = taken[:-args.holdout] if len(taken) >= 4 else taken
            if len(taken) >= 4:
                held[uid] = set(taken[-args.holdout:])
            train += [{"user_id": uid, "course_id": cid, "source": "free", "created_at": start + timedelta(hours=i)}
                      for i, cid in enumerate(keep)]
        session.execute(insert(Enrollment), train)
        search.reindex_all(session)
        trending.refresh(session)
        session.commit()
        n_courses = session.scalar(select(Course.id).order_by(Course.id.desc()).limit(1))
        print(f"{n_courses} courses, {len(histories)} students, {len(train)} training enrollments, "
              f"{len(held)} students with {args.holdout} held-out enrollments each")
        scorers = {"popularity baseline": None, "hybrid (co-enrollment + TF-IDF + category)": "tfidf"}
        if args.embeddings:
            scorers["hybrid (co-enrollment + embeddings + category)"] = "embeddings"
        results = {}
        for name, backend in scorers.items():
            rec = recommendations.Recommender(backend or "tfidf", ttl=3600)
            t = time.monotonic()
            hits = 0
            for uid, truth in held.items():
                if backend is None:
                    mine = {e for e, in session.execute(select(Enrollment.course_id).where(Enrollment.user_id == uid))}
                    ranked = recommendations.popular(session, 5, exclude=mine)
                else:
                    ranked = rec.for_user(session, uid, 5)
                hits += len({cid for cid, _ in ranked[:5]} & truth)
            results[name] = (hits / (5 * len(held)), (time.monotonic() - t) / len(held) * 1000)
    engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    base = results["popularity baseline"][0]
    print(f"\n{'recommender':50} {'precision@5':>12} {'vs baseline':>12} {'ms/user':>8}")
    for name, (p, ms) in results.items():
        print(f"{name:50} {p:12.4f} {p / base if base else float('inf'):11.2f}x {ms:8.1f}")
    print(f"(precision@5 is at most {args.holdout / 5:.2f} here: {args.holdout} held-out courses per student)")


if __name__ == "__main__":
    main()
