"""Time spent counts only the notebook in use: the student's server turns the browser's activity
pings into reports (``HeartbeatReporter``) and the LMS counts them (``progress.heartbeat``).
A fake clock drives both; the reports go through the real service code and database."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from lms_extension.labserver.progress import HeartbeatReporter
from lms_extension.services import progress

from .conftest import build_course, enroll

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
A = "courses/learn/l1.ipynb"
B = "courses/learn/l2.ipynb"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class StudentServer:
    """The lab extension's side the reporter uses, reporting straight into the LMS's service."""

    def __init__(self, session, user, clock, root):
        self.session, self.user, self.clock = session, user, clock
        self.serverapp = SimpleNamespace(root_dir=str(root))
        self.reports = []

    async def send_heartbeat(self, course, lesson, seconds):
        self.reports.append((course, lesson, seconds))
        return progress.heartbeat(self.session, self.user, course, lesson, seconds=seconds,
                                  now=T0 + timedelta(seconds=self.clock.now), idle_seconds=300)

    async def lesson_access(self, lessons):
        raise AssertionError("no lesson is placed in this home")


def spent(session, user, course, key):
    return progress.lesson_status(session, user.id, next(ls for ls in course.lessons if ls.key == key),
                                  course)["seconds_spent"]


def run(reporter, clock, seconds, pings):
    """Advance the clock second by second for ``seconds``; ``pings(t)`` lists the paths pinged at t."""
    for _ in range(int(seconds)):
        clock.now += 1
        for path in pings(clock.now):
            reporter.ping(path)
        if clock.now % reporter.interval == 0:
            asyncio.run(reporter.tick())


def test_two_lessons_open_ten_minutes_in_one_count_at_most_ten(session, tmp_path, alice):
    course = build_course(session, tmp_path)
    enroll(session, alice, course.slug)
    clock = Clock()
    server = StudentServer(session, alice, clock, tmp_path / "home")
    reporter = HeartbeatReporter(server, 60, 300, clock=clock)
    assert reporter.ping_seconds == 30
    # both lessons open; the student works in A's tab for ten minutes; B's tab is hidden: no pings
    run(reporter, clock, 600, lambda t: [A] if t % 30 == 0 else [])
    run(reporter, clock, 120, lambda t: [])  # gone for a coffee, tabs left open: nothing
    a, b = spent(session, alice, course, "l1"), spent(session, alice, course, "l2")
    assert 540 <= a <= 600 and b == 0, (a, b, server.reports)


def test_two_windows_pinging_at_once_never_exceed_the_wall_clock(session, tmp_path, alice):
    course = build_course(session, tmp_path)
    enroll(session, alice, course.slug)
    clock = Clock()
    server = StudentServer(session, alice, clock, tmp_path / "home")
    reporter = HeartbeatReporter(server, 60, 300, clock=clock)
    # two browser windows side by side, each pinging its own notebook, out of step
    run(reporter, clock, 600, lambda t: ([A] if t % 30 == 0 else []) + ([B] if t % 30 == 7 else []))
    a, b = spent(session, alice, course, "l1"), spent(session, alice, course, "l2")
    assert a + b <= 600 and a > 0 and b > 0, (a, b)


def test_switching_lessons_moves_the_time_and_idle_gaps_are_not_counted(session, tmp_path, alice):
    course = build_course(session, tmp_path)
    enroll(session, alice, course.slug)
    clock = Clock()
    server = StudentServer(session, alice, clock, tmp_path / "home")
    reporter = HeartbeatReporter(server, 60, 300, clock=clock)
    run(reporter, clock, 300, lambda t: [A] if t % 30 == 0 else [])  # 5 min in A
    run(reporter, clock, 240, lambda t: [B] if t % 30 == 0 else [])  # 4 min in B
    run(reporter, clock, 900, lambda t: [])  # idle: the browser stops pinging
    run(reporter, clock, 120, lambda t: [A] if t % 30 == 0 else [])  # back in A for 2 min
    run(reporter, clock, 600, lambda t: ["scratch/untitled.ipynb"] if t % 30 == 0 else [])  # not a lesson
    run(reporter, clock, 60, lambda t: [])
    a, b = spent(session, alice, course, "l1"), spent(session, alice, course, "l2")
    # the first ping only starts the clock; a ping gives the interval before it to the notebook the
    # previous ping named (the switch to B gives A its last 30 s); the first ping after the pause,
    # and the pings on a notebook that is not a lesson, count for no lesson
    assert (a, b) == (270 + 30 + 90 + 30, 210), server.reports


def test_a_refused_lesson_is_not_reported_again_every_tick(session, tmp_path, bob):
    clock = Clock()
    server = StudentServer(session, bob, clock, tmp_path / "home")
    calls = []

    async def refused(course_, lesson, seconds):
        calls.append(lesson)
        from tornado.web import HTTPError
        raise HTTPError(403, "enroll first")

    server.send_heartbeat = refused
    reporter = HeartbeatReporter(server, 60, 300, clock=clock)
    run(reporter, clock, 600, lambda t: [A] if t % 30 == 0 else [])
    assert calls == ["l1"] and not reporter.pending, calls
