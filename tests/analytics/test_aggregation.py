"""The worker's reports on a small known dataset (tests/analytics/conftest.py: seed_course),
on SQLite and PostgreSQL: each expected figure is worked out by hand in the comments."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from lms_extension.errors import Forbidden, InvalidInput, NotFound
from lms_extension.models.analytics import AnalyticsEvent, AnalyticsReport, SignupSource
from lms_extension.models.commerce import Order
from lms_extension.models.learning import ActivityDay
from lms_extension.services import accounts, analytics, enrollments
from tests.factories import make_user

from .conftest import seed_course


def test_course_reports_on_a_known_dataset(session, tmp_path):
    course, users = seed_course(session, tmp_path)
    other, _ = seed_course(session, tmp_path / "b", slug="other", teacher="other-teacher", students=("s1",))
    reports = analytics.compute_course(session, course)

    # 6 distinct browsers; 5 enrolled; s1-s4 opened a lesson; only s1 finished all three
    assert [(r["step"], r["people"], r["percent_of_previous"], r["percent_of_first"]) for r in reports["funnel"]] == [
        ("Visited the course page", 6, None, 100.0), ("Enrolled or bought", 5, 83.3, 83.3),
        ("Opened a first lesson", 4, 80.0, 66.7), ("Completed the course", 1, 25.0, 16.7)]

    # lesson 1: s1-s4 opened, s3 and s4 went no further; minutes 10, 5, 2 (s4's 0 s is no time);
    # lesson 2: s1, s2 opened, s2 stopped; 20 and 1 minutes; lesson 3 (last): s1 opened and completed
    assert [(r["opened"], r["completed"], r["stopped_here"], r["drop_off_percent"], r["mean_minutes"],
             r["median_minutes"]) for r in reports["lessons"]] == [
        (4, 2, 2, 50.0, 5.7, 5.0), (2, 1, 1, 50.0, 10.5, 10.5), (1, 1, 0, 0.0, 5.0, 5.0)]

    # test_square: s1 failed then passed, s2 failed twice, s3 passed; the queued one and the
    # written answer do not count
    assert reports["exercises"] == [{
        "lesson": "Lesson 1", "cell": "test_square", "students": 3, "passed": 2, "pass_rate_percent": 66.7,
        "mean_attempts": 1.67, "top_failure": "failed: assert square(3) == 9", "top_failure_count": 2}]

    # first answers: q1 s1 s2 s4 right, q2 s2 s3 right; totals s1 1, s2 2, s3 1, s4 1; 27 % of 4 is
    # one student: the lowest (s1, the first of the ties) and the highest (s2)
    assert [(r["question"], r["students"], r["difficulty"], r["discrimination"]) for r in reports["quizzes"]] == [
        ("What is 2 + 2?", 4, 0.75, 0.0), ("What is a list?", 4, 0.5, 1.0)]

    assert reports["challenges"] == [
        {"language": "Python", "submissions": 3, "passed": 1, "pass_rate_percent": 33.3, "students": 2,
         "students_passed": 1},
        {"language": "C++", "submissions": 1, "passed": 1, "pass_rate_percent": 100.0, "students": 1,
         "students_passed": 1},
        {"language": "Java", "submissions": 1, "passed": 0, "pass_rate_percent": 0.0, "students": 1,
         "students_passed": 0}]

    assert reports["funnel"][1]["bought"] == 0

    # the other course's figures are its own; a purchase counts as bought
    buyer = make_user(session, "other-buyer")
    assert enrollments.grant(session, buyer.id, other.id, "purchase")
    other_funnel = analytics.compute_course(session, other)["funnel"]
    assert [r["people"] for r in other_funnel] == [6, 2, 1, 1] and other_funnel[1]["bought"] == 1


def test_refresh_stores_what_pages_read_and_replaces_it(session, tmp_path):
    course, users = seed_course(session, tmp_path)
    teacher = make_user(session, "ana-teacher")
    assert analytics.refresh(session) >= len(analytics.COURSE_REPORTS) + len(analytics.PLATFORM_REPORTS)
    _, reports = analytics.course_reports(session, teacher, "ana")
    assert reports["funnel"].rows[0]["people"] == 6 and reports["funnel"].computed_at is not None
    analytics.store_visits(session, [analytics.Visit("course", "ana", None, "f" * 16, analytics.utcnow())])
    analytics.refresh(session)
    _, reports = analytics.course_reports(session, teacher, "ana")
    assert reports["funnel"].rows[0]["people"] == 7
    rows = session.scalar(select(func.count()).select_from(AnalyticsReport)
                          .where(AnalyticsReport.course_id == course.id))
    assert rows == len(analytics.COURSE_REPORTS)  # replaced, not added


def test_reports_are_the_course_teachers_and_admins_only(session, tmp_path):
    seed_course(session, tmp_path)
    analytics.refresh(session)
    other = make_user(session, "someone-else", instructor=True)
    student = make_user(session, "ana-s1")
    admin = make_user(session, "ana-admin", admin=True)
    for who in (other, student, None):
        with pytest.raises(Forbidden):
            analytics.course_reports(session, who, "ana")
    assert analytics.course_reports(session, admin, "ana")[1]["funnel"].rows
    with pytest.raises(NotFound):
        analytics.course_reports(session, admin, "nope")
    with pytest.raises(NotFound):
        analytics.course_reports(session, admin, "x" * 5000)
    with pytest.raises(Forbidden):
        analytics.platform_reports(session, other)
    assert analytics.platform_reports(session, admin)["signups"].rows


def test_an_empty_course_has_empty_reports(session, tmp_path):
    make_user(session, "empty-teacher", instructor=True)
    from lms_extension.services.course_import import import_course, load_course_folder
    from tests.factories import write_course

    course = import_course(session, load_course_folder(write_course(tmp_path, "empty", instructor="empty-teacher")))
    reports = analytics.compute_course(session, course)
    assert [r["people"] for r in reports["funnel"]] == [0, 0, 0, 0]
    assert all(r["percent_of_first"] is None for r in reports["funnel"])
    assert [r["opened"] for r in reports["lessons"]] == [0, 0]
    assert reports["exercises"] == reports["quizzes"] == reports["challenges"] == []


NOW = datetime(2026, 3, 18, 12, 0, tzinfo=timezone.utc)  # a Wednesday; its week began on Monday 16 March


def day(text: str) -> datetime:
    return datetime.fromisoformat(text + "T10:00:00+00:00")


def test_growth_on_a_known_dataset(session):
    people = {}
    for name, created, source in [("g1", "2026-03-02", {"s": "google", "m": "cpc", "c": "spring"}),
                                  ("g2", "2026-03-03", None), ("g3", "2026-03-10", {"s": "newsletter"}),
                                  ("g4", "2026-03-17", {"s": "google", "m": "cpc", "c": "spring"})]:
        user = make_user(session, name)
        user.created_at = day(created)
        if source:
            fields = {"m": "", "c": "", "r": "", "l": "/", "t": str(int(day(created).timestamp())), **source}
            assert analytics.attach_signup_source(session, user, fields, now=day(created) + timedelta(hours=1))
        people[name] = user
    for name, days in [("g1", ["2026-03-02", "2026-03-10", "2026-03-17"]), ("g2", ["2026-03-03"]),
                       ("g3", ["2026-03-11", "2026-03-18"]), ("g4", ["2026-03-18"])]:
        for d in days:
            session.add(ActivityDay(user_id=people[name].id, day=date.fromisoformat(d)))
    visits = [analytics.Visit(kind, slug, None, visitor, day(when)) for kind, slug, visitor, when in [
        ("catalog", None, "a" * 16, "2026-03-10"), ("catalog", None, "a" * 16, "2026-03-16"),
        ("catalog", None, "b" * 16, "2026-03-16"), ("catalog", None, "c" * 16, "2026-03-17"),
        ("catalog", None, "d" * 16, "2026-03-18"), ("catalog", None, "d" * 16, "2026-03-18")]]
    analytics.store_visits(session, visits)
    for user, paid_at, total in [("g1", day("2026-03-17"), 4900), ("g2", None, 4900), ("g3", day("2026-03-17"), 0)]:
        session.add(Order(user_id=people[user].id, kind="course", status="paid" if paid_at else "pending",
                          currency="usd", country="US", subtotal_cents=total, total_cents=total, paid_at=paid_at))
    session.flush()

    growth = analytics.compute_platform(session, now=NOW)

    assert growth["signups"] == [
        {"source": "google", "medium": "cpc", "campaign": "spring", "signups": 2, "last_30_days": 2, "last_7_days": 1},
        {"source": "direct", "medium": "", "campaign": "", "signups": 1, "last_30_days": 1, "last_7_days": 0},
        {"source": "newsletter", "medium": "", "campaign": "", "signups": 1, "last_30_days": 1, "last_7_days": 0}]
    assert {(r["week"], r["source"], r["signups"]) for r in growth["signups_weekly"]} == {
        ("2026-03-02", "direct", 1), ("2026-03-02", "google", 1), ("2026-03-09", "newsletter", 1),
        ("2026-03-16", "google", 1)}

    daily = {r["period"]: r["learners"] for r in growth["active_daily"]}
    assert len(daily) == 30 and daily["2026-03-18"] == 2 and daily["2026-03-17"] == 1 and daily["2026-03-12"] == 0
    weekly = {r["period"]: r["learners"] for r in growth["active_weekly"]}
    assert len(weekly) == 12 and (weekly["2026-03-16"], weekly["2026-03-09"], weekly["2026-03-02"]) == (3, 2, 2)
    monthly = {r["period"]: r["learners"] for r in growth["active_monthly"]}
    assert len(monthly) == 12 and monthly["2026-03"] == 4 and monthly["2026-02"] == 0 and "2025-04" in monthly

    retention = {r["cohort"]: r for r in growth["retention"]}
    assert set(retention) == {"2026-03-02", "2026-03-09", "2026-03-16"}
    first = retention["2026-03-02"]
    assert (first["size"], first["week_0"], first["week_1"], first["week_2"], first["week_3"]) == (2, 100.0, 50.0, 50.0, None)
    second = retention["2026-03-09"]
    assert (second["size"], second["week_0"], second["week_1"], second["week_2"]) == (1, 100.0, 100.0, None)
    assert (retention["2026-03-16"]["week_0"], retention["2026-03-16"]["week_1"]) == (100.0, None)

    conversion = {r["week"]: r for r in growth["conversion"]}
    assert len(conversion) == 12
    # this week: browsers a, b, c, d; one paying buyer (g3's order was free, g2's is not paid)
    assert (conversion["2026-03-16"]["visitors"], conversion["2026-03-16"]["buyers"],
            conversion["2026-03-16"]["conversion_percent"]) == (4, 1, 25.0)
    assert (conversion["2026-03-09"]["visitors"], conversion["2026-03-09"]["buyers"],
            conversion["2026-03-09"]["conversion_percent"]) == (1, 0, 0.0)
    assert conversion["2026-02-23"]["conversion_percent"] is None  # nobody came: no ratio


# -- recording -----------------------------------------------------------------------------------
def test_the_recorder_writes_in_batches_and_names_become_ids(session, tmp_path):
    course, users = seed_course(session, tmp_path, students=("s1",))
    before = session.scalar(select(func.count()).select_from(AnalyticsEvent))
    recorder = analytics.VisitRecorder(max_batch=3, max_age=3600)
    assert recorder.record("course", "ana", "ana-s1", "1" * 16) is False
    assert recorder.record("catalog", None, None, "2" * 16) is False
    assert recorder.record("course", "missing", None, "3" * 16) is True  # the batch is full
    assert recorder.record("catalog", None, None, "4" * 16) is False  # a flush is already due
    session.flush()
    written = analytics.store_visits(session, list(recorder._visits))
    assert written == 3  # the visit of a course that does not exist is dropped
    rows = session.execute(select(AnalyticsEvent.kind, AnalyticsEvent.course_id, AnalyticsEvent.user_id)
                           .order_by(AnalyticsEvent.id.desc()).limit(3)).all()
    assert sorted(rows, key=str) == sorted([("course", course.id, users["s1"].id), ("catalog", None, None),
                                            ("catalog", None, None)], key=str)
    assert session.scalar(select(func.count()).select_from(AnalyticsEvent)) == before + 3


def test_the_recorder_flushes_with_its_own_session(engine, tmp_path):
    from lms_extension.db import session_factory

    factory = session_factory(engine)
    recorder = analytics.VisitRecorder(max_batch=2, max_age=3600)
    marker = "e" * 16
    recorder.record("catalog", None, None, marker)
    assert recorder.record("catalog", None, None, marker) is True
    assert recorder.flush(factory) == 2 and recorder.pending() == 0
    with factory() as s:
        assert s.scalar(select(func.count()).where(AnalyticsEvent.visitor == marker)) == 2
        s.execute(AnalyticsEvent.__table__.delete().where(AnalyticsEvent.visitor == marker))
        s.commit()
    # a database that fails loses the batch, never the page
    broken = analytics.VisitRecorder(max_batch=1)
    broken.record("catalog", None, None, marker)

    def failing():
        raise RuntimeError("database away")
    assert broken.flush(failing) == 0 and broken.pending() == 0
    assert broken.record("catalog", None, None, marker) is True  # ready to flush again


@pytest.mark.parametrize("query, referrer, expected", [
    ({"utm_source": "Newsletter", "utm_medium": "email", "utm_campaign": "March"}, "", ("newsletter", "email", "March", "")),
    ({}, "https://www.google.com/search?q=jupyter", ("www.google.com", "", "", "www.google.com")),
    ({"utm_source": "ads\x00\x1b[31m", "utm_campaign": "x" * 500}, "", ("ads[31m", "", "x" * 100, "")),
])
def test_a_first_visit_with_a_source_gets_a_cookie(query, referrer, expected):
    raw = analytics.source_of_visit(query, referrer, ["lms.example.org"], "/services/lms/courses/x")
    fields = analytics.parse_source(raw)
    assert (fields["s"], fields["m"], fields["c"], fields["r"]) == expected
    assert fields["l"] == "/services/lms/courses/x" and fields["t"].isdigit()
    assert all(ch.isalnum() or ch in "%-_.~" for ch in raw)  # safe in a Set-Cookie header


def test_direct_and_internal_visits_and_forged_cookies_carry_no_source():
    assert analytics.source_of_visit({}, "", ["lms.example.org"], "/") is None
    assert analytics.source_of_visit({}, "https://lms.example.org/services/lms/", ["lms.example.org"], "/") is None
    for forged in ["", "garbage", "s=x", "s=x&t=now", "s=&t=1", "evil=1&s=x&t=1", "%ZZ", "s=x&t=1&" + "a" * 3000]:
        assert analytics.parse_source(forged) is None, forged


def test_sign_up_source_only_for_new_accounts_and_once(session):
    user = make_user(session, "newcomer")
    fields = analytics.parse_source(analytics.source_of_visit({"utm_source": "podcast"}, "", [], "/"))
    assert analytics.attach_signup_source(session, user, fields) is True
    assert analytics.attach_signup_source(session, user, {**fields, "s": "other"}) is False
    assert session.get(SignupSource, user.id).source == "podcast"
    old = make_user(session, "old-timer")
    old.created_at = analytics.utcnow() - timedelta(days=30)
    assert analytics.attach_signup_source(session, old, fields) is False


def test_deleting_an_account_erases_its_visits_and_source(session, tmp_path):
    seed_course(session, tmp_path, students=("s1",))
    user = make_user(session, "ana-s1")
    analytics.store_visits(session, [analytics.Visit("course", "ana", "ana-s1", "7" * 16, analytics.utcnow())])
    analytics.attach_signup_source(session, user, analytics.parse_source(
        analytics.source_of_visit({"utm_source": "x"}, "", [], "/")))
    accounts.delete_account(session, "ana-s1")
    assert session.scalar(select(func.count()).where(AnalyticsEvent.user_id == user.id)) == 0
    assert session.get(SignupSource, user.id) is None


def test_a_visitor_is_the_same_all_day_and_another_the_next_day():
    secret, today = b"k" * 32, date(2026, 3, 18)
    one = analytics.visitor_id(secret, today, "203.0.113.7", "Firefox/140")
    assert len(one) == 16 and one == analytics.visitor_id(secret, today, "203.0.113.7", "Firefox/140")
    assert one != analytics.visitor_id(secret, today + timedelta(days=1), "203.0.113.7", "Firefox/140")
    assert one != analytics.visitor_id(secret, today, "203.0.113.8", "Firefox/140")
    assert one != analytics.visitor_id(secret, today, "203.0.113.7", "Chrome/140")
    assert one != analytics.visitor_id(b"other" * 8, today, "203.0.113.7", "Firefox/140")


# -- CSV -----------------------------------------------------------------------------------------
def test_csv_has_the_headings_and_defuses_formulas(session, tmp_path):
    seed_course(session, tmp_path)
    analytics.refresh(session)
    admin = make_user(session, "csv-admin", admin=True)
    _, reports = analytics.course_reports(session, admin, "ana")
    rows = list(csv.reader(io.StringIO(analytics.to_csv(reports["lessons"]))))
    assert rows[0] == [h for _, h in analytics.COURSE_REPORTS["lessons"][1]]
    assert rows[1][:6] == ["1", "Lesson 1", "4", "2", "2", "50.0"]
    hostile = analytics.Report("x", "X", [("a", "A"), ("b", "B")], [{"a": "=HYPERLINK(\"http://evil\")", "b": -3.5}], None)
    assert list(csv.reader(io.StringIO(analytics.to_csv(hostile))))[1] == ["'=HYPERLINK(\"http://evil\")", "-3.5"]
    with pytest.raises(InvalidInput):
        analytics.check_report_name("nope", analytics.COURSE_REPORTS)
