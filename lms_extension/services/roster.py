"""A course's roster for its instructors: every enrolled student with progress, last activity,
time spent, per-lesson best score and attempts, deadline extensions, certificate, and every
quiz and code challenge of the course (the graded items besides the notebook exercises).

A quiz's result is as ``services/quizzes`` grades it: an attempt scores the quiz's points when
right and 0 when wrong, and a student's result is their best attempt (passed: answered right).
A challenge's result is the student's best submission: one that passed every test first, else
the one that passed most tests (the newest of equals); the challenge counts as passed when a
submission passed every test.

Read-only. Whatever the number of students, a roster costs the same few queries (enrollments,
lesson progress, submission aggregates, best submissions, submissions waiting for a manual
grade, extensions, policies, certificates, quizzes and their attempts, challenges and their best
submissions); search, filter and sort run over those rows and a page of them is returned.
``gradebook`` builds its CSV and nbgrader export from the same rows.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload

from .. import permissions
from ..errors import InvalidInput, NotFound
from ..models import (
    Challenge,
    ChallengeSubmission,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    NotebookSubmission,
    User,
)
from ..models.course import SLUG
from ..models.grading import LessonPolicy
from ..models.learning import Certificate, Quiz, QuizAttempt
from ..models.submission import FAILED, GRADED, GRADING, QUEUED
from . import extensions, grading_queue

FILTERS = {"all": "All students", "completed": "Completed", "in_progress": "In progress",
           "not_started": "Not started", "ungraded": "Has ungraded work"}
SORTS = {"name": "Name", "progress": "Progress", "activity": "Last activity", "time": "Time spent",
         "score": "Score", "attempts": "Attempts", "quizzes": "Quizzes", "challenges": "Challenges",
         "enrolled": "Enrolled"}
# the editor modes of services/challenges.MODES, as a person names them
LANGUAGE_NAMES = {71: "Python", 52: "C++", 50: "C", 62: "Java", 63: "JavaScript"}
MAX_TITLE_CHARS = 80
DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_QUERY_CHARS = 50, 200, 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def plain_name(value) -> bool:
    """A name the database can be asked about: text without control characters (PostgreSQL
    refuses a NUL in a query parameter, which would be a 500)."""
    return isinstance(value, str) and 0 < len(value) <= 255 and not _CONTROL.search(value)


def aware(moment: datetime | None) -> datetime | None:
    """A stored date-time in UTC (SQLite hands back naive ones)."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@dataclass
class LessonCell:
    """One student's standing in one lesson."""

    lesson: Lesson
    started: bool = False
    completed: bool = False
    seconds: int = 0
    attempts: int = 0
    pending: int = 0  # submissions queued or being graded
    needs_manual_grade: bool = False
    best_id: int | None = None  # the best graded submission (highest final score)
    submitted_at: datetime | None = None  # ... and when it was submitted
    score: float | None = None
    max_score: float | None = None
    raw_score: float | None = None  # auto + manual, before the late penalty
    late_penalty_percent: float = 0.0
    deadline: datetime | None = None  # the student's effective deadline
    extended: bool = False
    extension_reason: str = ""
    manual: dict = field(default_factory=dict)  # (notebook, grade_id) -> (points, comment), best submission
    feedback: dict | None = None  # the best submission's per-cell results (gradebook export only)


def one_line(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """A title for a column or a table row: one line, at most ``limit`` characters."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def quiz_title(quiz: Quiz) -> str:
    """A quiz has no title of its own: its question, on one line (the key when it has none)."""
    return one_line(quiz.question) or quiz.key


def challenge_title(challenge: Challenge) -> str:
    return one_line(challenge.title) or challenge.key


@dataclass
class QuizCell:
    """One student's result in one quiz (``attempts`` 0: not attempted)."""

    quiz: Quiz
    attempts: int = 0
    score: float | None = None  # the best attempt's score (the quiz's points when right, else 0)
    passed: bool = False

    @property
    def percent(self) -> float | None:
        if self.score is None:
            return None
        return round(100.0 * self.score / self.quiz.points, 1) if self.quiz.points else (100.0 if self.passed else 0.0)


@dataclass
class ChallengeCell:
    """One student's result in one code challenge (``submissions`` 0: never submitted)."""

    challenge: Challenge
    submissions: int = 0
    passed: bool = False  # a submission passed every test
    tests_passed: int | None = None  # the best submission's
    tests_total: int | None = None
    language: str | None = None
    submitted_at: datetime | None = None


@dataclass
class StudentRow:
    user: User
    enrolled_at: datetime | None
    cells: list[LessonCell]
    certificate_uid: str | None = None
    last_activity: datetime | None = None
    quizzes: list[QuizCell] = field(default_factory=list)
    challenges: list[ChallengeCell] = field(default_factory=list)

    @property
    def quizzes_passed(self) -> int:
        return sum(q.passed for q in self.quizzes)

    @property
    def quizzes_attempted(self) -> int:
        return sum(q.attempts > 0 for q in self.quizzes)

    @property
    def quiz_mean_percent(self) -> float | None:
        """The mean result of the quizzes the student attempted (None: none attempted)."""
        done = [q.percent for q in self.quizzes if q.percent is not None]
        return round(sum(done) / len(done), 1) if done else None

    @property
    def challenges_passed(self) -> int:
        return sum(c.passed for c in self.challenges)

    @property
    def challenges_submitted(self) -> int:
        return sum(c.submissions > 0 for c in self.challenges)

    @property
    def completed(self) -> int:
        return sum(c.completed for c in self.cells)

    @property
    def percent(self) -> int:
        return 100 * self.completed // len(self.cells) if self.cells else 0

    @property
    def started(self) -> bool:
        return any(c.started or c.attempts for c in self.cells)

    @property
    def seconds(self) -> int:
        return sum(c.seconds for c in self.cells)

    @property
    def attempts(self) -> int:
        return sum(c.attempts for c in self.cells)

    @property
    def score(self) -> float:
        return round(sum(c.score or 0.0 for c in self.cells), 4)

    @property
    def ungraded(self) -> bool:
        return any(c.pending or c.needs_manual_grade for c in self.cells)

    @property
    def status(self) -> str:
        if self.cells and self.completed == len(self.cells) or self.certificate_uid:
            return "completed"
        return "in_progress" if self.started else "not_started"


@dataclass
class Roster:
    course: Course
    rows: list[StudentRow]  # this page
    total: int  # students matching the search and filter
    enrolled: int  # every student of the course
    q: str
    status: str
    sort: str
    order: str
    page: int
    per_page: int
    quizzes: list[Quiz] = field(default_factory=list)  # the course's, in syllabus order
    challenges: list[Challenge] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def taught_course(session: Session, user: User, slug: str) -> Course:
    """The course ``slug`` with its lessons, if ``user`` teaches it or is an admin."""
    course = session.scalars(select(Course).where(Course.slug == slug)
                             .options(selectinload(Course.lessons))).one_or_none() \
        if isinstance(slug, str) and SLUG.match(slug) else None
    if course is None:
        raise NotFound(f"no course {str(slug)[:100]!r}")
    permissions.require_teacher(user, course, "only the course's instructor or an admin can see its students")
    return course


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def student_rows(session: Session, course: Course, q: str = "", *, details: bool = False,
                 quizzes: list[Quiz] | None = None, challenges: list[Challenge] | None = None) -> list[StudentRow]:
    """Every enrolled student of ``course`` (whose name or display name contains ``q``), by name.

    ``details``: also each best submission's manual grades and per-cell results (the gradebook).
    ``quizzes``, ``challenges``: the course's (``course_quizzes``, ``course_challenges``), when
    the caller has them already."""
    lessons = list(course.lessons)
    lesson_ids = [ls.id for ls in lessons]
    stmt = (select(User, Enrollment.created_at).join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == course.id).order_by(User.hub_name))
    if q:
        pattern = _like(q.lower())
        stmt = stmt.where(or_(func.lower(User.hub_name).like(pattern, escape="\\"),
                              func.lower(User.display_name).like(pattern, escape="\\")))
    students = session.execute(stmt).all()
    if not students:
        return []
    cells: dict[tuple[int, int], LessonCell] = {}
    rows: dict[int, StudentRow] = {}
    for user, enrolled_at in students:
        row = StudentRow(user=user, enrolled_at=aware(enrolled_at), cells=[])
        for lesson in lessons:
            cell = LessonCell(lesson=lesson)
            row.cells.append(cell)
            cells[(user.id, lesson.id)] = cell
        rows[user.id] = row
    if not lesson_ids:
        return list(rows.values())
    enrolled_ids = select(Enrollment.user_id).where(Enrollment.course_id == course.id)

    def touch(user_id: int, moment: datetime | None) -> None:
        row, moment = rows.get(user_id), aware(moment)
        if row is not None and moment is not None and (row.last_activity is None or moment > row.last_activity):
            row.last_activity = moment

    # time spent, completion, last activity
    for p in session.execute(select(LessonProgress.user_id, LessonProgress.lesson_id, LessonProgress.seconds_spent,
                                    LessonProgress.completed_at, LessonProgress.last_opened_at,
                                    LessonProgress.last_heartbeat_at)
                             .where(LessonProgress.lesson_id.in_(lesson_ids),
                                    LessonProgress.user_id.in_(select(Enrollment.user_id)
                                                               .where(Enrollment.course_id == course.id)))):
        cell = cells.get((p.user_id, p.lesson_id))
        if cell is None:
            continue
        cell.started, cell.completed, cell.seconds = True, p.completed_at is not None, int(p.seconds_spent or 0)
        touch(p.user_id, p.last_opened_at)
        touch(p.user_id, p.last_heartbeat_at)

    # attempts (failed gradings are not the student's), work waiting for the grader, last submission
    sub = NotebookSubmission
    for a in session.execute(
            select(sub.user_id, sub.lesson_id,
                   func.count(case((sub.status != FAILED, sub.id))).label("attempts"),
                   func.count(case((sub.status.in_((QUEUED, GRADING)), sub.id))).label("pending"),
                   func.max(sub.submitted_at).label("last"))
            .where(sub.lesson_id.in_(lesson_ids)).group_by(sub.user_id, sub.lesson_id)):
        cell = cells.get((a.user_id, a.lesson_id))
        if cell is not None:
            cell.attempts, cell.pending = a.attempts, a.pending
            touch(a.user_id, a.last)

    # the best graded submission per student and lesson, and the newest one (manual grading waits on it)
    best_rank = func.row_number().over(partition_by=(sub.user_id, sub.lesson_id),
                                       order_by=(sub.score.desc(), sub.id.desc())).label("best")
    newest_rank = func.row_number().over(partition_by=(sub.user_id, sub.lesson_id),
                                         order_by=sub.id.desc()).label("newest")
    ranked = (select(sub.id, sub.user_id, sub.lesson_id, best_rank, newest_rank)
              .where(sub.lesson_id.in_(lesson_ids), sub.status == GRADED, sub.score.is_not(None)).subquery())
    # never the notebooks themselves (megabytes each): the results and manual grades are enough
    load = (selectinload(sub.manual_grades), defer(sub.notebooks), defer(sub.autograded))
    if details:
        loaded = session.execute(select(sub, ranked.c.best, ranked.c.newest).join(ranked, ranked.c.id == sub.id)
                                 .where(or_(ranked.c.best == 1, ranked.c.newest == 1)).options(*load)).all()
        best = [s for s, b, _ in loaded if b == 1]
        waiting = [s for s, _, n in loaded if n == 1]
    else:
        best = session.execute(select(sub.id, sub.user_id, sub.lesson_id, sub.score, sub.max_score, sub.auto_score,
                                      sub.manual_score, sub.late_penalty_percent, sub.submitted_at)
                               .join(ranked, ranked.c.id == sub.id).where(ranked.c.best == 1)).all()
        # only the newest submissions whose results ask for a person can wait for a manual grade
        waiting = session.scalars(select(sub).join(ranked, ranked.c.id == sub.id)
                                  .where(ranked.c.newest == 1, sub.feedback.like('%"needs_manual_grade": true%'))
                                  .options(*load)).all()
    for s in best:
        cell = cells.get((s.user_id, s.lesson_id))
        if cell is None:
            continue
        cell.best_id, cell.score, cell.max_score = s.id, s.score, s.max_score
        cell.submitted_at = aware(s.submitted_at)
        cell.late_penalty_percent = s.late_penalty_percent or 0.0
        if s.auto_score is not None or s.manual_score is not None:
            cell.raw_score = round((s.auto_score or 0.0) + (s.manual_score or 0.0), 4)
        if details:
            cell.manual = {(g.notebook, g.grade_id): (g.points, g.comment) for g in s.manual_grades}
            cell.feedback = json.loads(s.feedback) if s.feedback else None
    for s in waiting:  # a cell the autograder left to a person and nobody graded yet
        graded = {(g.notebook, g.grade_id) for g in s.manual_grades if g.points is not None}
        results = grading_queue.feedback_cells(json.loads(s.feedback) if s.feedback else None)
        if any(c.get("needs_manual_grade") and k not in graded for k, c in results.items()):
            cell = cells.get((s.user_id, s.lesson_id))
            if cell is not None:
                cell.needs_manual_grade = True

    # deadlines: the lesson's, or the student's own later one
    deadlines = {p.lesson_id: aware(p.deadline) for p in session.scalars(
        select(LessonPolicy).where(LessonPolicy.lesson_id.in_(lesson_ids))) if p.deadline is not None}
    for (user_id, lesson_id), cell in cells.items():
        cell.deadline = deadlines.get(lesson_id)
    for (user_id, lesson_id), ext in extensions.for_course(session, course.id).items():
        cell = cells.get((user_id, lesson_id))
        if cell is not None and cell.deadline is not None:
            # as policies.effective_deadline: an extension never makes a deadline earlier
            own = aware(ext.deadline)
            cell.extended, cell.extension_reason = own > cell.deadline, ext.reason
            cell.deadline = max(cell.deadline, own)

    for user_id, uid in session.execute(select(Certificate.user_id, Certificate.uid).where(
            Certificate.course_id == course.id, Certificate.revoked_at.is_(None),
            Certificate.user_id.in_(enrolled_ids))):
        if user_id in rows:
            rows[user_id].certificate_uid = uid
    _quiz_results(session, course_quizzes(session, course) if quizzes is None else quizzes,
                  rows, enrolled_ids, touch)
    _challenge_results(session, course_challenges(session, course) if challenges is None else challenges,
                       rows, enrolled_ids, touch)
    return list(rows.values())


def course_quizzes(session: Session, course: Course) -> list[Quiz]:
    """The course's quizzes in syllabus order (lesson, then position in the lesson)."""
    order = {ls.id: i for i, ls in enumerate(course.lessons)}
    found = session.scalars(select(Quiz).where(Quiz.lesson_id.in_(list(order) or [0]))).all()
    return sorted(found, key=lambda q: (order[q.lesson_id], q.position, q.id))


def course_challenges(session: Session, course: Course) -> list[Challenge]:
    """The course's code challenges in syllabus order (lesson, then position in the lesson)."""
    order = {ls.id: i for i, ls in enumerate(course.lessons)}
    found = session.scalars(select(Challenge).where(Challenge.lesson_id.in_(list(order) or [0]))).all()
    return sorted(found, key=lambda c: (order[c.lesson_id], c.position, c.id))


def _quiz_results(session: Session, quizzes: list[Quiz], rows: dict[int, StudentRow], enrolled_ids, touch) -> None:
    found: dict[tuple[int, int], QuizCell] = {}
    for row in rows.values():
        row.quizzes = [QuizCell(quiz=q) for q in quizzes]
        found.update({(row.user.id, c.quiz.id): c for c in row.quizzes})
    if not quizzes:
        return
    a = QuizAttempt
    for r in session.execute(
            select(a.user_id, a.quiz_id, func.count(a.id).label("attempts"), func.max(a.score).label("best"),
                   func.max(case((a.correct, 1), else_=0)).label("right"), func.max(a.created_at).label("last"))
            .where(a.quiz_id.in_([q.id for q in quizzes]), a.user_id.in_(enrolled_ids))
            .group_by(a.user_id, a.quiz_id)):
        cell = found.get((r.user_id, r.quiz_id))
        if cell is not None:
            cell.attempts, cell.score, cell.passed = r.attempts, float(r.best or 0.0), bool(r.right)
            touch(r.user_id, r.last)


def _challenge_results(session: Session, challenges: list[Challenge], rows: dict[int, StudentRow], enrolled_ids,
                       touch) -> None:
    found: dict[tuple[int, int], ChallengeCell] = {}
    for row in rows.values():
        row.challenges = [ChallengeCell(challenge=c) for c in challenges]
        found.update({(row.user.id, c.challenge.id): c for c in row.challenges})
    if not challenges:
        return
    s = ChallengeSubmission
    per = (s.user_id, s.challenge_id)
    # the best submission: a passing one first, then the most tests passed, then the newest
    rank = func.row_number().over(partition_by=per, order_by=(
        case((s.status == "passed", 1), else_=0).desc(), s.passed.desc(), s.id.desc())).label("rank")
    ranked = (select(s.id, rank, func.count(s.id).over(partition_by=per).label("submissions"),
                     func.max(s.created_at).over(partition_by=per).label("last"))
              .where(s.challenge_id.in_([c.id for c in challenges]), s.user_id.in_(enrolled_ids)).subquery())
    for r in session.execute(select(s.user_id, s.challenge_id, s.status, s.passed, s.total, s.language_id,
                                    s.created_at, ranked.c.submissions, ranked.c.last)
                             .join(ranked, ranked.c.id == s.id).where(ranked.c.rank == 1)):
        cell = found.get((r.user_id, r.challenge_id))
        if cell is not None:
            cell.submissions = r.submissions
            cell.passed, cell.tests_passed, cell.tests_total = r.status == "passed", r.passed, r.total
            cell.language = LANGUAGE_NAMES.get(r.language_id, "another language")
            cell.submitted_at = aware(r.created_at)
            touch(r.user_id, r.last)


def _sort_key(sort: str):
    never = datetime.min.replace(tzinfo=timezone.utc)
    return {
        "name": lambda r: ((r.user.display_name or r.user.hub_name).lower(), r.user.hub_name),
        "progress": lambda r: (r.percent, r.score),
        "activity": lambda r: r.last_activity or never,
        "time": lambda r: r.seconds,
        "score": lambda r: r.score,
        "attempts": lambda r: r.attempts,
        "quizzes": lambda r: (r.quizzes_passed, r.quiz_mean_percent if r.quiz_mean_percent is not None else -1.0),
        "challenges": lambda r: (r.challenges_passed, sum(c.tests_passed or 0 for c in r.challenges)),
        "enrolled": lambda r: r.enrolled_at or never,
    }[sort]


def _whole(raw, name: str, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}")
    return value


def course_roster(session: Session, user: User, slug: str, *, q: str = "", status: str = "all",
                  sort: str = "name", order: str = "asc", page=1, per_page=DEFAULT_PER_PAGE) -> Roster:
    """One page of the course's students, searched (name or display name), filtered and sorted."""
    course = taught_course(session, user, slug)
    if not isinstance(q, str) or len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the search is at most {MAX_QUERY_CHARS} characters")
    if _CONTROL.search(q):
        raise InvalidInput("the search may not contain control characters")
    q = " ".join(q.split())
    status = status or "all"
    if status not in FILTERS:
        raise InvalidInput(f"status must be one of {', '.join(FILTERS)}")
    sort = sort or "name"
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
    order = order or "asc"
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be asc or desc")
    per_page = _whole(per_page, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _whole(page, "page", 1, 1, 1_000_000)
    quizzes, challenges = course_quizzes(session, course), course_challenges(session, course)
    everyone = student_rows(session, course, q, quizzes=quizzes, challenges=challenges)
    enrolled = everyone if not q else None
    rows = [r for r in everyone if status == "all" or (r.ungraded if status == "ungraded" else r.status == status)]
    rows.sort(key=lambda r: r.user.hub_name)
    rows.sort(key=_sort_key(sort), reverse=order == "desc")
    start = (page - 1) * per_page
    total_enrolled = len(enrolled) if enrolled is not None else session.scalar(
        select(func.count(Enrollment.id)).where(Enrollment.course_id == course.id))
    return Roster(course=course, rows=rows[start:start + per_page], total=len(rows), enrolled=total_enrolled,
                  q=q, status=status, sort=sort, order=order, page=page, per_page=per_page,
                  quizzes=quizzes, challenges=challenges)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def cell_view(cell: LessonCell) -> dict:
    return {"lesson": cell.lesson.key, "title": cell.lesson.title, "started": cell.started,
            "completed": cell.completed, "time_spent_seconds": cell.seconds, "attempts": cell.attempts,
            "score": cell.score, "raw_score": cell.raw_score, "max_score": cell.max_score,
            "late_penalty_percent": cell.late_penalty_percent, "pending": cell.pending,
            "needs_manual_grade": cell.needs_manual_grade, "deadline": _iso(cell.deadline),
            "deadline_extended": cell.extended}


def row_view(row: StudentRow, certificate_url: str | None = None) -> dict:
    return {"username": row.user.hub_name, "display_name": row.user.display_name or row.user.hub_name,
            "enrolled_at": _iso(row.enrolled_at), "status": row.status,
            "progress_percent": row.percent, "completed_lessons": row.completed, "total_lessons": len(row.cells),
            "last_activity": _iso(row.last_activity), "time_spent_seconds": row.seconds,
            "attempts": row.attempts, "score": row.score, "has_ungraded": row.ungraded,
            "certificate": None if row.certificate_uid is None else {
                "uid": row.certificate_uid, "url": certificate_url and certificate_url + row.certificate_uid},
            "lessons": [cell_view(c) for c in row.cells],
            "quizzes_passed": row.quizzes_passed, "quizzes_attempted": row.quizzes_attempted,
            "quizzes_total": len(row.quizzes), "quiz_mean_percent": row.quiz_mean_percent,
            "challenges_passed": row.challenges_passed, "challenges_submitted": row.challenges_submitted,
            "challenges_total": len(row.challenges),
            "quizzes": [quiz_view(q) for q in row.quizzes],
            "challenges": [challenge_view(c) for c in row.challenges]}


def quiz_view(cell: QuizCell) -> dict:
    return {"quiz": cell.quiz.key, "lesson": cell.quiz.lesson.key, "title": quiz_title(cell.quiz),
            "points": cell.quiz.points, "attempts": cell.attempts, "score": cell.score,
            "percent": cell.percent, "passed": cell.passed}


def challenge_view(cell: ChallengeCell) -> dict:
    return {"challenge": cell.challenge.key, "lesson": cell.challenge.lesson.key,
            "title": challenge_title(cell.challenge), "submissions": cell.submissions, "passed": cell.passed,
            "tests_passed": cell.tests_passed, "tests_total": cell.tests_total, "language": cell.language,
            "submitted_at": _iso(cell.submitted_at)}


def student(session: Session, user: User, slug: str, username: str) -> tuple[Course, StudentRow]:
    """One enrolled student of the course, with the same figures as their roster row."""
    course = taught_course(session, user, slug)
    if not plain_name(username):
        raise NotFound("no such student")
    found = [r for r in student_rows(session, course, username) if r.user.hub_name == username]
    if not found:
        raise NotFound(f"no student {username[:100]!r} in {course.title!r}")
    return course, found[0]
