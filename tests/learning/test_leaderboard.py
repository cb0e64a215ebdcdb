"""Leaderboards: ranking with ties, per course and global, weekly and all-time, opt-out."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from lms_extension.models.learning import XPEvent
from lms_extension.services import gamification
from tests.factories import make_user

from .conftest import build_course

NOW = datetime(2026, 6, 11, 12, 0, tzinfo=timezone.utc)  # a Thursday


def xp(session, user, points, *, course=None, when=NOW, ref=None):
    session.add(XPEvent(user_id=user.id, course_id=course.id if course else None, reason="quiz",
                        ref=ref or f"r{points}-{when.isoformat()}-{course.id if course else 0}", points=points,
                        created_at=when))
    session.flush()


def names(rows):
    return [(r.rank, r.name, r.xp) for r in rows]


def test_ranking_with_ties_and_courses(session, tmp_path):
    a, b, c, d = (make_user(session, n) for n in ("ann", "ben", "cat", "dan"))
    py = build_course(session, tmp_path, "py")
    js = build_course(session, tmp_path, "js")
    xp(session, a, 100, course=py)
    xp(session, b, 100, course=py)
    xp(session, c, 40, course=py)
    xp(session, c, 500, course=js)
    xp(session, d, 10, course=js)
    assert names(gamification.leaderboard(session, course_id=py.id, now=NOW)) == [
        (1, "ann", 100), (1, "ben", 100), (3, "cat", 40)]
    assert names(gamification.leaderboard(session, now=NOW)) == [
        (1, "cat", 540), (2, "ann", 100), (2, "ben", 100), (4, "dan", 10)]
    mine = gamification.leaderboard(session, viewer_id=d.id, now=NOW)
    assert [r.is_me for r in mine] == [False, False, False, True]


def test_weekly_counts_from_monday_utc(session):
    a, b = make_user(session, "ann"), make_user(session, "ben")
    monday = datetime(2026, 6, 8, 0, 0, tzinfo=timezone.utc)
    xp(session, a, 300, when=monday - timedelta(seconds=1))  # last week
    xp(session, a, 20, when=monday)
    xp(session, b, 50, when=NOW)
    assert names(gamification.leaderboard(session, period="week", now=NOW)) == [(1, "ben", 50), (2, "ann", 20)]
    assert names(gamification.leaderboard(session, period="all", now=NOW)) == [(1, "ann", 320), (2, "ben", 50)]


def test_opted_out_learners_never_appear(session):
    a, b = make_user(session, "ann"), make_user(session, "ben")
    xp(session, a, 999)
    xp(session, b, 1)
    gamification.update_profile(session, a, leaderboard_opt_out=True)
    for period in ("week", "all"):
        rows = gamification.leaderboard(session, period=period, viewer_id=a.id, now=NOW)
        assert names(rows) == [(1, "ben", 1)]
    gamification.update_profile(session, a, leaderboard_opt_out=False)
    assert names(gamification.leaderboard(session, now=NOW))[0] == (1, "ann", 999)


def test_bad_period_is_invalid_input(session):
    import pytest

    from lms_extension.errors import InvalidInput

    with pytest.raises(InvalidInput):
        gamification.leaderboard(session, period="month")


def test_xp_is_awarded_once_per_reference(session):
    a = make_user(session, "ann")
    assert gamification.add_xp(session, a.id, "lesson", "lesson:1")
    assert not gamification.add_xp(session, a.id, "lesson", "lesson:1")
    assert gamification.total_xp(session, a.id) == gamification.XP["lesson"]
