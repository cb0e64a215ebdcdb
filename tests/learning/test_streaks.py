"""Streaks count calendar days in the learner's own time zone: midnight, time zones and DST."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from lms_extension.errors import InvalidInput
from lms_extension.models.learning import Achievement
from lms_extension.services import gamification
from sqlalchemy import select


def at(local: str, tz: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def set_tz(session, user, tz):
    gamification.update_profile(session, user, timezone_name=tz)


def test_one_second_apart_across_local_midnight_is_two_days(session, alice):
    set_tz(session, alice, "Europe/Berlin")
    gamification.record_activity(session, alice.id, at("2026-06-10T23:59:59", "Europe/Berlin"))
    gamification.record_activity(session, alice.id, at("2026-06-11T00:00:00", "Europe/Berlin"))
    s = gamification.streak(session, alice.id, date(2026, 6, 11))
    assert s["current"] == 2 and s["longest"] == 2 and s["active_today"]


def test_same_utc_instants_are_other_days_in_another_zone(session, alice, bob):
    # 03:30 UTC is still the previous evening in New York and already morning in Berlin
    set_tz(session, alice, "America/New_York")
    set_tz(session, bob, "Europe/Berlin")
    moments = [datetime(2026, 6, 10, 3, 30, tzinfo=timezone.utc), datetime(2026, 6, 10, 20, 0, tzinfo=timezone.utc)]
    for m in moments:
        gamification.record_activity(session, alice.id, m)
        gamification.record_activity(session, bob.id, m)
    # New York: June 9 (23:30) and June 10 (16:00): two days; Berlin: both on June 10: one day
    assert gamification.streak(session, alice.id, date(2026, 6, 10))["current"] == 2
    assert gamification.streak(session, bob.id, date(2026, 6, 10))["current"] == 1


def test_spring_forward_day_is_one_day_in_berlin(session, alice):
    # Europe/Berlin jumps 02:00 -> 03:00 on 2026-03-29: that day has 23 hours
    set_tz(session, alice, "Europe/Berlin")
    gamification.record_activity(session, alice.id, at("2026-03-28T23:30:00", "Europe/Berlin"))
    gamification.record_activity(session, alice.id, at("2026-03-29T00:15:00", "Europe/Berlin"))
    gamification.record_activity(session, alice.id, at("2026-03-29T23:45:00", "Europe/Berlin"))
    gamification.record_activity(session, alice.id, at("2026-03-30T00:05:00", "Europe/Berlin"))
    assert gamification.streak(session, alice.id, date(2026, 3, 30))["current"] == 3


def test_fall_back_day_of_25_hours_in_new_york(session, alice):
    # America/New_York repeats 01:00-02:00 on 2026-11-01: 00:10 and 23:50 that day are 24h40m apart
    set_tz(session, alice, "America/New_York")
    first = at("2026-11-01T00:10:00", "America/New_York")
    last = at("2026-11-01T23:50:00", "America/New_York")
    assert last - first == timedelta(hours=24, minutes=40)
    gamification.record_activity(session, alice.id, first)
    gamification.record_activity(session, alice.id, last)
    s = gamification.streak(session, alice.id, date(2026, 11, 1))
    assert s["current"] == 1  # one local day, not two
    gamification.record_activity(session, alice.id, at("2026-11-02T00:00:01", "America/New_York"))
    assert gamification.streak(session, alice.id, date(2026, 11, 2))["current"] == 2


def test_streak_survives_until_the_end_of_the_next_day_then_breaks(session, alice):
    set_tz(session, alice, "Asia/Tokyo")
    for d in range(1, 4):
        gamification.record_activity(session, alice.id, at(f"2026-05-0{d}T12:00:00", "Asia/Tokyo"))
    assert gamification.streak(session, alice.id, date(2026, 5, 4)) == {
        "current": 3, "longest": 3, "active_today": False, "today": "2026-05-04"}
    assert gamification.streak(session, alice.id, date(2026, 5, 5))["current"] == 0
    assert gamification.streak(session, alice.id, date(2026, 5, 5))["longest"] == 3


def test_seven_and_thirty_day_streak_badges(session, alice):
    set_tz(session, alice, "Europe/Berlin")
    start = at("2026-01-01T21:00:00", "Europe/Berlin")
    keys = lambda: set(session.scalars(select(Achievement.key).where(Achievement.user_id == alice.id)))  # noqa: E731
    for d in range(6):
        gamification.record_activity(session, alice.id, start + timedelta(days=d))
    assert keys() == set()
    gamification.record_activity(session, alice.id, start + timedelta(days=6))
    assert keys() == {"streak-7"}
    for d in range(7, 30):
        gamification.record_activity(session, alice.id, start + timedelta(days=d))
    assert keys() == {"streak-7", "streak-30"}


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "../../etc/passwd", "x" * 100, 5])
def test_unknown_time_zones_are_refused(session, alice, bad):
    with pytest.raises(InvalidInput):
        gamification.update_profile(session, alice, timezone_name=bad)
