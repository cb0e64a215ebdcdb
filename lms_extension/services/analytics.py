"""Course analytics for instructors and growth figures for admins.

Counting stays off the student's path: a storefront visit is one tuple appended to the
replica's ``VisitRecorder`` (no query, no transaction); the recorder writes its batch to
``analytics_events`` with one INSERT when it holds ``MAX_BATCH`` visits or is ``MAX_AGE``
seconds old, in a thread after the response. Everything else is already stored by its owner
(enrollments, lesson_progress, notebook_submissions, quiz_attempts, challenge_submissions,
certificates, activity_days, orders); the worker's ``analytics`` job (``refresh``) reads those
and stores each report as JSON rows in ``analytics_reports``, which is all a page reads.

A visit still buffered when a replica stops is lost: analytics counts, it does not account.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import math
import statistics
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import InvalidInput, NotFound
from ..kernel.judge0_tables import LANGUAGE_NAMES
from ..models import (Challenge, ChallengeSubmission, Course, Enrollment, Lesson, LessonProgress,
                      NotebookSubmission, User)
from ..models.analytics import CATALOG_VISIT, COURSE_VISIT, AnalyticsEvent, AnalyticsReport, SignupSource
from ..models.base import utcnow
from ..models.commerce import Order
from ..models.learning import ActivityDay, Certificate, Quiz, QuizAttempt

log = logging.getLogger("lms.analytics")

PLATFORM = "platform"
MAX_BATCH = 200  # visits a recorder holds before it writes them
MAX_AGE = 10.0  # seconds a recorded visit waits at most (when more visits arrive)
SIGNUP_WINDOW = timedelta(days=2)  # a source cookie counts for an account made this recently
MIN_STUDENTS_FOR_DISCRIMINATION = 4

# -- the reports: name -> (title, [(column key, column heading)]) ------------------------------
COURSE_REPORTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "funnel": ("Enrollment funnel", [("step", "Step"), ("people", "People"),
                                     ("percent_of_previous", "% of previous step"),
                                     ("percent_of_first", "% of visitors")]),
    "lessons": ("Lessons: drop-off and time spent", [
        ("position", "#"), ("lesson", "Lesson"), ("opened", "Opened"), ("completed", "Completed"),
        ("stopped_here", "Stopped here"), ("drop_off_percent", "Drop-off %"),
        ("mean_minutes", "Mean minutes"), ("median_minutes", "Median minutes")]),
    "exercises": ("Exercises (graded cells)", [
        ("lesson", "Lesson"), ("cell", "Cell"), ("students", "Students"), ("passed", "Passed"),
        ("pass_rate_percent", "Pass rate %"), ("mean_attempts", "Mean attempts"),
        ("top_failure", "Most common failure"), ("top_failure_count", "Times")]),
    "quizzes": ("Quiz item analysis", [
        ("lesson", "Lesson"), ("question", "Question"), ("students", "Students"),
        ("difficulty", "Difficulty (share correct)"), ("discrimination", "Discrimination (upper-lower 27%)")]),
    "challenges": ("Challenges by language", [
        ("language", "Language"), ("submissions", "Submissions"), ("passed", "Passed"),
        ("pass_rate_percent", "Pass rate %"), ("students", "Students"), ("students_passed", "Students who passed")]),
}
PLATFORM_REPORTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "signups": ("Sign-ups by source", [
        ("source", "Source"), ("medium", "Medium"), ("campaign", "Campaign"), ("signups", "Sign-ups"),
        ("last_30_days", "Last 30 days"), ("last_7_days", "Last 7 days")]),
    "signups_weekly": ("Sign-ups per week", [("week", "Week of"), ("source", "Source"), ("signups", "Sign-ups")]),
    "active_daily": ("Daily active learners", [("period", "Day"), ("learners", "Active learners")]),
    "active_weekly": ("Weekly active learners", [("period", "Week of"), ("learners", "Active learners")]),
    "active_monthly": ("Monthly active learners", [("period", "Month"), ("learners", "Active learners")]),
    "retention": ("Weekly cohort retention", [("cohort", "Cohort (week of sign-up)"), ("size", "Sign-ups")]
                  + [(f"week_{k}", f"Week {k} %") for k in range(8)]),
    "conversion": ("Catalog-to-purchase conversion", [
        ("week", "Week of"), ("visitors", "Storefront visitors"), ("buyers", "Buyers"),
        ("conversion_percent", "Conversion %")]),
}
DAYS, WEEKS, MONTHS, COHORT_WEEKS = 30, 12, 12, 8


# -- recording visits (the student's path) -----------------------------------------------------
SOURCE_FIELDS = ("s", "m", "c", "r", "l", "t")  # source, medium, campaign, referrer host, landing, time
SOURCE_MAX = {"s": 100, "m": 100, "c": 100, "r": 255, "l": 255, "t": 12}


@dataclass(frozen=True)
class Visit:
    kind: str  # CATALOG_VISIT | COURSE_VISIT
    course_slug: str | None
    hub_name: str | None
    visitor: str
    at: datetime


class VisitRecorder:
    """Visits of one replica, kept in memory and written in batches (see the module's doc)."""

    def __init__(self, max_batch: int = MAX_BATCH, max_age: float = MAX_AGE):
        self.max_batch, self.max_age = max_batch, max_age
        self._visits: list[Visit] = []
        self._lock = threading.Lock()
        self._oldest = 0.0
        self._flushing = False

    def record(self, kind: str, course_slug: str | None, hub_name: str | None, visitor: str) -> bool:
        """Keep one visit; True when the batch is due to be written (call ``flush``)."""
        visit = Visit(kind, course_slug, hub_name, visitor, utcnow())
        with self._lock:
            if not self._visits:
                self._oldest = time.monotonic()
            self._visits.append(visit)
            due = len(self._visits) >= self.max_batch or time.monotonic() - self._oldest >= self.max_age
            if due and not self._flushing:
                self._flushing = True
                return True
            return False

    def pending(self) -> int:
        return len(self._visits)

    def flush(self, factory) -> int:
        """Write the buffered visits with one INSERT; how many were written."""
        with self._lock:
            visits, self._visits = self._visits, []
        try:
            if not visits:
                return 0
            with factory() as session:
                written = store_visits(session, visits)
                session.commit()
            return written
        except Exception:  # the database away for a moment: these visits are lost, the page is not
            log.exception("could not store %d storefront visits", len(visits))
            return 0
        finally:
            with self._lock:
                self._flushing = False


def store_visits(session: Session, visits: list[Visit]) -> int:
    """Append ``visits`` to ``analytics_events``: slugs and hub names become ids in two queries;
    visits of courses that do not exist are dropped."""
    slugs = {v.course_slug for v in visits if v.course_slug}
    names = {v.hub_name for v in visits if v.hub_name}
    course_ids = dict(session.execute(select(Course.slug, Course.id).where(Course.slug.in_(slugs))).all()) if slugs else {}
    user_ids = dict(session.execute(select(User.hub_name, User.id).where(User.hub_name.in_(names))).all()) if names else {}
    rows = [{"kind": v.kind, "course_id": course_ids.get(v.course_slug), "user_id": user_ids.get(v.hub_name),
             "visitor": v.visitor, "created_at": v.at}
            for v in visits if v.kind == CATALOG_VISIT or course_ids.get(v.course_slug)]
    if rows:
        session.execute(insert(AnalyticsEvent), rows)
    return len(rows)


def visitor_id(secret: bytes, day: date, address: str, agent: str) -> str:
    """Who a visitor is, without a cookie: a keyed hash of the browser's address and user agent
    that changes every day (so one browser is one visitor per day, and nobody can follow it
    from one day to the next or reverse the hash without the service's secret)."""
    message = f"{day.isoformat()}|{address}|{agent[:500]}".encode("utf-8", "replace")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:16]


def _clean(text: str, limit: int) -> str:
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:limit]


def source_of_visit(query: dict[str, str], referrer: str, own_hosts: Iterable[str], path: str,
                    now: datetime | None = None) -> str | None:
    """The sign-up source cookie's value for a first visit with UTM parameters or a referrer
    from another site; None for a direct or internal visit (no cookie: a later visit may still
    bring a source)."""
    source = _clean(query.get("utm_source", ""), 100).lower()
    host = (urlsplit(referrer).hostname or "") if referrer else ""
    host = _clean(host, 255).lower()
    if host in {h.lower() for h in own_hosts if h}:
        host = ""
    if not source and not host:
        return None
    fields = {"s": source or host, "m": _clean(query.get("utm_medium", ""), 100).lower(),
              "c": _clean(query.get("utm_campaign", ""), 100), "r": host, "l": _clean(path, 255),
              "t": str(int((now or utcnow()).timestamp()))}
    return quote(urlencode(fields), safe="")


def parse_source(raw: str | None) -> dict[str, str] | None:
    """The fields of a source cookie, or None when it is not one of ours."""
    if not raw or len(raw) > 2000:
        return None
    from urllib.parse import unquote

    try:
        pairs = dict(parse_qsl(unquote(raw), strict_parsing=True))
    except ValueError:
        return None
    if set(pairs) - set(SOURCE_FIELDS) or not pairs.get("s") or not pairs.get("t", "").isdigit():
        return None
    return {k: _clean(pairs.get(k, ""), SOURCE_MAX[k]) for k in SOURCE_FIELDS}


def attach_signup_source(session: Session, user: User, fields: dict[str, str], *,
                         now: datetime | None = None) -> bool:
    """Remember where ``user`` came from, when their account is new (made within
    ``SIGNUP_WINDOW``) and has no source yet; True when stored."""
    now = now or utcnow()
    if _utc(user.created_at) < now - SIGNUP_WINDOW or session.get(SignupSource, user.id) is not None:
        return False
    first = datetime.fromtimestamp(int(fields["t"]), timezone.utc) if fields.get("t", "").isdigit() else None
    session.add(SignupSource(user_id=user.id, source=fields["s"], medium=fields.get("m", ""),
                             campaign=fields.get("c", ""), referrer=fields.get("r", ""),
                             landing=fields.get("l", ""), first_visit_at=first))
    session.flush()
    return True


# -- reading reports (pages and API) -----------------------------------------------------------
@dataclass
class Report:
    name: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict]
    computed_at: datetime | None


def course_for_teacher(session: Session, user: User | None, slug: str) -> Course:
    course = session.scalars(select(Course).where(Course.slug == slug)).first() if len(slug) <= 100 else None
    if course is None:
        raise NotFound("There is no such course.")
    permissions.require_teacher(user, course, "Only the course's instructor or an admin can see its analytics.")
    return course


def _read(session: Session, scope: str, specs: dict) -> dict[str, Report]:
    stored = {r.name: r for r in session.scalars(select(AnalyticsReport).where(AnalyticsReport.scope == scope))}
    out = {}
    for name, (title, columns) in specs.items():
        row = stored.get(name)
        out[name] = Report(name, title, columns, json.loads(row.data) if row else [],
                           _utc(row.computed_at) if row else None)
    return out


def course_reports(session: Session, user: User | None, slug: str) -> tuple[Course, dict[str, Report]]:
    """The course's reports as the analytics job last computed them (instructor or admin only)."""
    course = course_for_teacher(session, user, slug)
    return course, _read(session, f"course:{course.id}", COURSE_REPORTS)


def platform_reports(session: Session, user: User | None) -> dict[str, Report]:
    permissions.require_admin(user, "Only admins can see the growth figures.")
    return _read(session, PLATFORM, PLATFORM_REPORTS)


def check_report_name(name: str, specs: dict) -> str:
    if name not in specs:
        raise InvalidInput(f"report must be one of: {', '.join(specs)}")
    return name


def to_csv(report: Report) -> str:
    """The report as CSV: a header of the column headings, one line per row. Cells that a
    spreadsheet would run as a formula are prefixed with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([heading for _, heading in report.columns])
    for row in report.rows:
        writer.writerow([_csv_cell(row.get(key)) for key, _ in report.columns])
    return out.getvalue()


def _csv_cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# -- the worker's job --------------------------------------------------------------------------
def refresh(session: Session, *, now: datetime | None = None) -> int:
    """Recompute every course's reports and the platform's; how many reports were stored."""
    now = now or utcnow()
    stored = 0
    for course in session.scalars(select(Course).order_by(Course.id)).all():
        stored += _store(session, f"course:{course.id}", course.id, compute_course(session, course), now)
    stored += _store(session, PLATFORM, None, compute_platform(session, now=now), now)
    return stored


def _store(session: Session, scope: str, course_id: int | None, reports: dict[str, list[dict]], now) -> int:
    session.execute(delete(AnalyticsReport).where(AnalyticsReport.scope == scope))
    session.add_all([AnalyticsReport(scope=scope, name=name, course_id=course_id, computed_at=now,
                                     data=json.dumps(rows, default=str))
                     for name, rows in reports.items()])
    session.flush()
    return len(reports)


def compute_course(session: Session, course: Course) -> dict[str, list[dict]]:
    lessons = session.scalars(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.position)).all()
    lesson_ids = [lesson.id for lesson in lessons]
    progress = session.execute(select(LessonProgress.user_id, LessonProgress.lesson_id,
                                      LessonProgress.seconds_spent, LessonProgress.completed_at)
                               .where(LessonProgress.lesson_id.in_(lesson_ids))).all() if lesson_ids else []
    return {"funnel": _funnel(session, course, lessons, progress),
            "lessons": _lessons(lessons, progress),
            "exercises": _exercises(session, lessons),
            "quizzes": _quizzes(session, lessons),
            "challenges": _challenges(session, lesson_ids)}


def _percent(part: int | float, whole: int | float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _funnel(session, course, lessons, progress) -> list[dict]:
    visitors = session.scalar(select(func.count(func.distinct(AnalyticsEvent.visitor)))
                              .where(AnalyticsEvent.course_id == course.id, AnalyticsEvent.kind == COURSE_VISIT)) or 0
    enrolled = set(session.scalars(select(Enrollment.user_id).where(Enrollment.course_id == course.id)))
    bought = session.scalar(select(func.count()).select_from(Enrollment)
                            .where(Enrollment.course_id == course.id, Enrollment.source == "purchase")) or 0
    started = {user_id for user_id, *_ in progress}
    done: dict[int, set[int]] = defaultdict(set)
    for user_id, lesson_id, _seconds, completed_at in progress:
        if completed_at is not None:
            done[user_id].add(lesson_id)
    completed = {u for u, ids in done.items() if lessons and len(ids) >= len(lessons)}
    completed |= set(session.scalars(select(Certificate.user_id).where(Certificate.course_id == course.id,
                                                                        Certificate.revoked_at.is_(None))))
    steps = [("Visited the course page", visitors), ("Enrolled or bought", len(enrolled)),
             ("Opened a first lesson", len(started & enrolled) if enrolled else len(started)),
             ("Completed the course", len(completed))]
    rows, previous = [], None
    for step, people in steps:
        rows.append({"step": step, "people": people,
                     "percent_of_previous": _percent(people, previous) if previous is not None else None,
                     "percent_of_first": _percent(people, steps[0][1])})
        previous = people
    rows[1]["bought"] = bought
    return rows


def _lessons(lessons, progress) -> list[dict]:
    by_lesson: dict[int, list] = defaultdict(list)
    reached: dict[int, int] = defaultdict(int)  # user -> furthest position opened
    position = {lesson.id: lesson.position for lesson in lessons}
    for row in progress:
        by_lesson[row.lesson_id].append(row)
        reached[row.user_id] = max(reached[row.user_id], position[row.lesson_id])
    last = lessons[-1].position if lessons else None
    rows = []
    for index, lesson in enumerate(lessons, 1):
        opened = by_lesson.get(lesson.id, [])
        users = {r.user_id for r in opened}
        completed = {r.user_id for r in opened if r.completed_at is not None}
        if lesson.position == last:  # stopping at the last lesson is leaving it unfinished
            stopped = len(users - completed)
        else:
            stopped = sum(1 for u in users if reached[u] == lesson.position)
        minutes = [r.seconds_spent / 60 for r in opened if r.seconds_spent]
        rows.append({"position": index, "lesson": lesson.title, "opened": len(users), "completed": len(completed),
                     "stopped_here": stopped, "drop_off_percent": _percent(stopped, len(users)),
                     "mean_minutes": round(statistics.fmean(minutes), 1) if minutes else None,
                     "median_minutes": round(statistics.median(minutes), 1) if minutes else None})
    return rows


def _failure_text(cell: dict) -> str:
    message = cell.get("error_message") or ""
    name = cell.get("error_name") or ""
    if message:
        return _clean(message.splitlines()[0] if message.strip() else message, 200)
    if name:
        return _clean(name, 200)
    return {"timeout": "timed out", "not_run": "did not run", "tampered": "test cell changed"}.get(
        cell.get("status"), "failed")


def _exercises(session, lessons) -> list[dict]:
    titles = {lesson.id: lesson.title for lesson in lessons}
    if not titles:
        return []
    results = session.execute(select(NotebookSubmission.lesson_id, NotebookSubmission.user_id,
                                     NotebookSubmission.feedback)
                              .where(NotebookSubmission.lesson_id.in_(list(titles)),
                                     NotebookSubmission.status == "graded",
                                     NotebookSubmission.feedback.is_not(None))
                              .order_by(NotebookSubmission.id))
    attempts: dict[tuple, Counter] = defaultdict(Counter)  # (lesson, cell) -> user -> attempts
    passed: dict[tuple, set] = defaultdict(set)
    failures: dict[tuple, Counter] = defaultdict(Counter)
    order: dict[tuple, int] = {}
    for lesson_id, user_id, feedback in results:
        try:
            document = json.loads(feedback)
        except (TypeError, ValueError):
            continue
        for notebook in document.get("notebooks") or [] if isinstance(document, dict) else []:
            for cell in (notebook.get("cells") or []) if isinstance(notebook, dict) else []:
                if not isinstance(cell, dict) or cell.get("passed") is None or not cell.get("grade_id"):
                    continue  # written answers and ungraded cells
                key = (lesson_id, str(cell["grade_id"])[:100])
                order.setdefault(key, len(order))
                attempts[key][user_id] += 1
                if cell.get("passed") is True or cell.get("status") == "passed":
                    passed[key].add(user_id)
                else:
                    failures[key][_failure_text(cell)] += 1
    lesson_order = {lesson.id: lesson.position for lesson in lessons}
    rows = []
    for key in sorted(attempts, key=lambda k: (lesson_order[k[0]], order[k])):
        students = len(attempts[key])
        top = failures[key].most_common(1)
        rows.append({"lesson": titles[key[0]], "cell": key[1], "students": students, "passed": len(passed[key]),
                     "pass_rate_percent": _percent(len(passed[key]), students),
                     "mean_attempts": round(sum(attempts[key].values()) / students, 2),
                     "top_failure": top[0][0] if top else None, "top_failure_count": top[0][1] if top else 0})
    return rows


def _quizzes(session, lessons) -> list[dict]:
    titles = {lesson.id: lesson.title for lesson in lessons}
    if not titles:
        return []
    quizzes = session.scalars(select(Quiz).where(Quiz.lesson_id.in_(list(titles)))).all()
    lesson_order = {lesson.id: lesson.position for lesson in lessons}
    quizzes.sort(key=lambda q: (lesson_order[q.lesson_id], q.position, q.id))
    first: dict[int, dict[int, bool]] = defaultdict(dict)  # quiz -> user -> first attempt correct
    if quizzes:
        for quiz_id, user_id, correct in session.execute(
                select(QuizAttempt.quiz_id, QuizAttempt.user_id, QuizAttempt.correct)
                .where(QuizAttempt.quiz_id.in_([q.id for q in quizzes]))
                .order_by(QuizAttempt.created_at, QuizAttempt.id)):
            first[quiz_id].setdefault(user_id, bool(correct))
    totals: Counter = Counter()
    for answers in first.values():
        for user_id, correct in answers.items():
            totals[user_id] += int(correct)
    ranked = sorted(totals, key=lambda u: (totals[u], u))
    group = max(1, round(0.27 * len(ranked))) if ranked else 0
    lower, upper = set(ranked[:group]), set(ranked[-group:]) if group else set()
    rows = []
    for quiz in quizzes:
        answers = first.get(quiz.id, {})
        discrimination = None
        if len(ranked) >= MIN_STUDENTS_FOR_DISCRIMINATION:
            up = sum(1 for u in upper if answers.get(u)) / group
            low = sum(1 for u in lower if answers.get(u)) / group
            discrimination = round(up - low, 2)
        rows.append({"lesson": titles[quiz.lesson_id], "question": _clean(quiz.question, 120),
                     "students": len(answers),
                     "difficulty": round(sum(answers.values()) / len(answers), 2) if answers else None,
                     "discrimination": discrimination})
    return rows


def _challenges(session, lesson_ids) -> list[dict]:
    if not lesson_ids:
        return []
    by_language: dict[int, dict] = {}
    for language_id, user_id, status in session.execute(
            select(ChallengeSubmission.language_id, ChallengeSubmission.user_id, ChallengeSubmission.status)
            .join(Challenge, Challenge.id == ChallengeSubmission.challenge_id)
            .where(Challenge.lesson_id.in_(lesson_ids))):
        entry = by_language.setdefault(language_id, {"submissions": 0, "passed": 0, "students": set(), "winners": set()})
        entry["submissions"] += 1
        entry["students"].add(user_id)
        if status == "passed":
            entry["passed"] += 1
            entry["winners"].add(user_id)
    rows = [{"language": LANGUAGE_NAMES.get(language_id, f"Language {language_id}"),
             "submissions": e["submissions"], "passed": e["passed"],
             "pass_rate_percent": _percent(e["passed"], e["submissions"]),
             "students": len(e["students"]), "students_passed": len(e["winners"])}
            for language_id, e in by_language.items()]
    return sorted(rows, key=lambda r: (-r["submissions"], r["language"]))


# -- growth ------------------------------------------------------------------------------------
def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month(day: date) -> date:
    return day.replace(day=1)


def _months_back(day: date, n: int) -> date:
    month = day.year * 12 + day.month - 1 - n
    return date(month // 12, month % 12 + 1, 1)


def compute_platform(session: Session, *, now: datetime | None = None) -> dict[str, list[dict]]:
    now = _utc(now or utcnow())
    today = now.date()
    signups = session.execute(
        select(User.id, User.created_at, SignupSource.source, SignupSource.medium, SignupSource.campaign)
        .outerjoin(SignupSource, SignupSource.user_id == User.id)).all()
    activity: dict[int, set[date]] = defaultdict(set)
    for user_id, day in session.execute(select(ActivityDay.user_id, ActivityDay.day)
                                        .where(ActivityDay.day >= min(_months_back(today, MONTHS - 1),
                                                                      _week(today) - timedelta(weeks=max(WEEKS, COHORT_WEEKS) + COHORT_WEEKS)))):
        activity[user_id].add(day)
    return {"signups": _signups(signups, today), "signups_weekly": _signups_weekly(signups, today),
            **_active(activity, today), "retention": _retention(signups, activity, today),
            "conversion": _conversion(session, today)}


def _signups(signups, today: date) -> list[dict]:
    groups: dict[tuple, Counter] = defaultdict(Counter)
    for _id, created, source, medium, campaign in signups:
        day = _utc(created).date()
        counts = groups[(source or "direct", medium or "", campaign or "")]
        counts["signups"] += 1
        counts["last_30_days"] += day > today - timedelta(days=30)
        counts["last_7_days"] += day > today - timedelta(days=7)
    rows = [{"source": s, "medium": m, "campaign": c, "signups": n["signups"], "last_30_days": n["last_30_days"],
             "last_7_days": n["last_7_days"]} for (s, m, c), n in groups.items()]
    return sorted(rows, key=lambda r: (-r["signups"], r["source"], r["medium"], r["campaign"]))


def _signups_weekly(signups, today: date) -> list[dict]:
    first = _week(today) - timedelta(weeks=WEEKS - 1)
    counts: Counter = Counter()
    for _id, created, source, _medium, _campaign in signups:
        week = _week(_utc(created).date())
        if week >= first:
            counts[(week, source or "direct")] += 1
    return [{"week": week.isoformat(), "source": source, "signups": n}
            for (week, source), n in sorted(counts.items())]


def _active(activity: dict[int, set[date]], today: date) -> dict[str, list[dict]]:
    daily, weekly, monthly = Counter(), defaultdict(set), defaultdict(set)
    for user_id, days in activity.items():
        for day in days:
            daily[day] += 1
            weekly[_week(day)].add(user_id)
            monthly[_month(day)].add(user_id)
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    weeks = [_week(today) - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]
    months = [_months_back(today, n) for n in range(MONTHS - 1, -1, -1)]
    return {"active_daily": [{"period": d.isoformat(), "learners": daily.get(d, 0)} for d in days],
            "active_weekly": [{"period": w.isoformat(), "learners": len(weekly.get(w, ()))} for w in weeks],
            "active_monthly": [{"period": m.strftime("%Y-%m"), "learners": len(monthly.get(m, ()))} for m in months]}


def _retention(signups, activity, today: date) -> list[dict]:
    this_week = _week(today)
    cohorts: dict[date, list[int]] = defaultdict(list)
    for user_id, created, *_ in signups:
        week = _week(_utc(created).date())
        if week > this_week - timedelta(weeks=COHORT_WEEKS):
            cohorts[week].append(user_id)
    rows = []
    for week in sorted(cohorts):
        members = cohorts[week]
        row = {"cohort": week.isoformat(), "size": len(members)}
        for k in range(COHORT_WEEKS):
            start = week + timedelta(weeks=k)
            if start > this_week:
                row[f"week_{k}"] = None  # not there yet
                continue
            end = start + timedelta(days=7)
            active = sum(1 for u in members if any(start <= d < end for d in activity.get(u, ())))
            row[f"week_{k}"] = _percent(active, len(members))
        rows.append(row)
    return rows


def _conversion(session, today: date) -> list[dict]:
    first = _week(today) - timedelta(weeks=WEEKS - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=timezone.utc)
    visitors: dict[date, set] = defaultdict(set)
    for visitor, at in session.execute(select(AnalyticsEvent.visitor, AnalyticsEvent.created_at)
                                       .where(AnalyticsEvent.created_at >= since)):
        visitors[_week(_utc(at).date())].add(visitor)
    buyers: dict[date, set] = defaultdict(set)
    for user_id, paid_at in session.execute(select(Order.user_id, Order.paid_at)
                                            .where(Order.paid_at >= since, Order.total_cents > 0)):
        buyers[_week(_utc(paid_at).date())].add(user_id)
    weeks = [first + timedelta(weeks=n) for n in range(WEEKS)]
    return [{"week": w.isoformat(), "visitors": len(visitors.get(w, ())), "buyers": len(buyers.get(w, ())),
             "conversion_percent": _percent(len(buyers.get(w, ())), len(visitors.get(w, ())))} for w in weeks]


# -- charts: inline SVG, made here so that pages need no script ---------------------------------
@dataclass
class Bar:
    label: str
    value: float


def bar_chart(bars: list[Bar], *, unit: str = "", width: int = 480, bar_height: int = 22) -> dict:
    """Geometry of a horizontal bar chart (the template draws it as SVG): labels left, bars
    scaled to the largest value. Returns {"width", "height", "bars": [...]} in SVG units."""
    label_width, gap = 150, 6
    if not any(b.value for b in bars):
        return {"width": width, "height": 0, "bars": [], "label_width": label_width}  # nothing to draw
    top = max((b.value for b in bars if b.value is not None), default=0) or 1
    span = width - label_width - 80
    shapes = []
    for i, b in enumerate(bars):
        value = b.value or 0
        shapes.append({"label": b.label if len(b.label) <= 24 else b.label[:23] + "…", "y": i * (bar_height + gap), "x": label_width,
                       "w": max(1.0, span * value / top) if value else 0, "h": bar_height,
                       "text": f"{_fmt(b.value)}{unit}" if b.value is not None else "–",
                       "tx": label_width + (span * value / top if value else 0) + 6})
    return {"width": width, "height": max(bar_height, len(bars) * (bar_height + gap)), "bars": shapes,
            "label_width": label_width}


def line_chart(points: list[tuple[str, float]], *, width: int = 480, height: int = 180) -> dict:
    """Geometry of a line chart over equally spaced periods (first and last labelled)."""
    left, bottom, top_pad = 40, 24, 10
    top = max((v for _, v in points), default=0) or 1
    n = len(points)
    step = (width - left - 10) / max(1, n - 1)
    plot = height - bottom - top_pad

    def y(v):
        return top_pad + plot - plot * v / top

    coords = [(left + i * step, y(v)) for i, (_, v) in enumerate(points)]
    return {"width": width, "height": height, "points": " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords),
            "dots": [{"x": round(x, 1), "y": round(yy, 1), "label": f"{p[0]}: {_fmt(p[1])}"}
                     for (x, yy), p in zip(coords, points)],
            "max": _fmt(top), "first": points[0][0] if points else "", "last": points[-1][0] if points else "",
            "left": left, "baseline": round(top_pad + plot, 1), "top_pad": top_pad}


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not math.isclose(value, round(value)):
        return f"{value:.2f}" if abs(value) < 1 else f"{value:.1f}"
    return f"{int(round(value)):,}"
