"""The ``course_stats`` aggregate, one row per course: the rating columns follow every review
change (``shift_rating``, in the review's transaction, with SQL increments so concurrent writers
do not lose counts) and the trending score and enrollment count follow ``trending.refresh``."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, bindparam, cast, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models.discovery import CourseStats

_ZERO = {"rating_count": 0, "rating_sum": 0, "rating_avg": 0.0, "rating_1": 0, "rating_2": 0, "rating_3": 0,
         "rating_4": 0, "rating_5": 0, "enrollment_count": 0, "trending_score": 0.0}


def get(session: Session, course_id: int) -> CourseStats | None:
    return session.get(CourseStats, course_id)


def _ensure(session: Session, course_id: int) -> None:
    if session.get(CourseStats, course_id) is not None:
        return
    try:
        with session.begin_nested():
            session.add(CourseStats(course_id=course_id, **_ZERO))
    except IntegrityError:  # created concurrently
        pass


def shift_rating(session: Session, course_id: int, *, add: int | None = None, remove: int | None = None) -> None:
    """Move one rating into / out of the aggregate (both for an edit)."""
    _ensure(session, course_id)
    t = CourseStats.__table__.c
    count_delta = (1 if add else 0) - (1 if remove else 0)
    sum_delta = (add or 0) - (remove or 0)
    values = {"rating_count": t.rating_count + count_delta, "rating_sum": t.rating_sum + sum_delta}
    if add:
        values[f"rating_{add}"] = t[f"rating_{add}"] + 1
    if remove:
        values[f"rating_{remove}"] = (values.get(f"rating_{remove}", t[f"rating_{remove}"])) - 1
    new_count, new_sum = t.rating_count + count_delta, t.rating_sum + sum_delta
    values["rating_avg"] = func.coalesce(cast(new_sum, Float) / func.nullif(cast(new_count, Float), 0), 0.0)
    session.execute(update(CourseStats.__table__).where(t.course_id == course_id).values(**values))
    session.expire_all()


def store_trending(session: Session, course_ids: set[int], scores: dict[int, float], counts: dict[int, int],
                   now: datetime) -> int:
    """Replace every course's trending score and enrollment count (0 for courses not in
    ``course_ids``); returns the number of courses scored."""
    existing = set(session.scalars(select(CourseStats.course_id)))
    missing = [{"course_id": cid, **_ZERO} for cid in sorted(course_ids - existing)]
    if missing:
        session.execute(insert(CourseStats), missing)
    t = CourseStats.__table__
    session.execute(update(t).values(trending_score=0.0, enrollment_count=0, refreshed_at=now))
    rows = [{"cid": cid, "score": round(scores.get(cid, 0.0), 6), "n": counts.get(cid, 0)} for cid in sorted(course_ids)]
    if rows:
        session.execute(update(t).where(t.c.course_id == bindparam("cid"))
                        .values(trending_score=bindparam("score"), enrollment_count=bindparam("n")), rows)
    session.expire_all()
    return len(rows)
