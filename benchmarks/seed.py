"""Seed a database with many courses, fast (bulk inserts through SQLAlchemy Core)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select

from lms_extension.models import Course, Instructor, Lesson, User
from lms_extension.services import search

CATEGORIES = ["Programming", "Data Science", "Algorithms", "Machine Learning", "Web", "Statistics"]
LEVELS = ["beginner", "intermediate", "advanced"]
WORDS = ("python pandas numpy graphs sorting search web api testing statistics regression "
         "trees heaps queues dynamic programming sql databases plotting notebooks").split()


def seed_courses(session, n: int, *, lessons_per_course: int = 6, seed: int = 7) -> None:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    users = [{"hub_name": f"teacher{i}", "display_name": f"Teacher {i}", "is_instructor": True,
              "is_admin": False, "last_seen_at": now, "created_at": now} for i in range(50)]
    session.execute(insert(User), users)
    user_ids = session.scalars(select(User.id).where(User.hub_name.like("teacher%"))).all()
    session.execute(insert(Instructor), [{"user_id": uid, "headline": "", "bio": "",
                                          "created_at": now} for uid in user_ids])
    instructor_ids = session.scalars(select(Instructor.id)).all()
    rows = []
    for i in range(n):
        words = rng.sample(WORDS, 3)
        rows.append({
            "slug": f"course-{i:05d}", "title": f"{words[0].title()} and {words[1]} {i}",
            "subtitle": f"Learn {words[2]} step by step", "description": " ".join(rng.choices(WORDS, k=60)),
            "category": rng.choice(CATEGORIES), "level": rng.choice(LEVELS), "language": "en",
            "price_cents": rng.choice([0, 1900, 2900, 4900, 7900, 9900]), "currency": "usd",
            "published": True, "instructor_id": rng.choice(instructor_ids),
            "created_at": now - timedelta(minutes=i),
        })
    for start in range(0, n, 2000):
        session.execute(insert(Course), rows[start:start + 2000])
    course_ids = session.scalars(select(Course.id)).all()
    lessons = [{"course_id": cid, "key": f"l{j}", "title": f"Lesson {j}", "position": j,
                "free_preview": j == 0, "filename": f"l{j}.ipynb"}
               for cid in course_ids for j in range(lessons_per_course)]
    for start in range(0, len(lessons), 5000):
        session.execute(insert(Lesson), lessons[start:start + 5000])
    search.reindex_all(session)  # bulk inserts bypass the importer that keeps the index
    session.commit()
