"""A course's gradebook for its instructors: a CSV, and nbgrader's own ``gradebook.db``.

The CSV has one row per enrolled student (the username first, then the display name) and every
graded item of the course, in this order:

- per exercise (a lesson whose notebook has nbgrader graded cells): the raw score (autograder +
  manual grades), the late penalty and the final score of the student's best graded submission;
- per quiz: the best attempt's score, as ``services/quizzes`` grades it (the quiz's points when
  answered right, else 0); the header says the points there are. Empty: never attempted;
- per code challenge: ``yes``/``no`` (a submission passed every test), the best submission's tests
  passed (``3 of 5``) and its language. Empty: never submitted;
- the exercises' totals (raw, final, max), last as they always were.

Headers name lessons by key (as nbgrader does) and quizzes (their question) and challenges by
their human titles, e.g. ``What is 2 + 2? (quiz, 2 pts)`` and ``Sum two numbers (challenge)
tests``; every text cell that a spreadsheet would read as a formula, header or not, is quoted
with a leading ``'`` (``FORMULA_START``).

The nbgrader export holds the notebook exercises only: nbgrader has no notion of quizzes or code
challenges (its assignments are notebooks with graded cells).

The nbgrader export is written by nbgrader's own ``nbgrader.api.Gradebook`` (its SQLite schema:
assignments = lessons, notebooks, grade and solution cells, students, submissions with their
per-cell grades, manual comments, late penalties and deadline extensions), so nbgrader's tools
(``nbgrader export``, the formgrader) read it as one of theirs.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import sqlite3
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import Session

from ..models import Course, Lesson, LessonVersion, User
from ..models.grading import LessonPolicy
from . import roster

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class GradeCell:
    grade_id: str
    points: float
    cell_type: str  # code | markdown
    solution: bool  # a written answer / solution cell too (comments attach to it)


@dataclass
class Exercise:
    lesson: Lesson
    notebook: str  # nbgrader's notebook name: the lesson's file without .ipynb
    cells: list[GradeCell]

    @property
    def max_score(self) -> float:
        return round(sum(c.points for c in self.cells), 4)


def _cells(source: str) -> list[GradeCell]:
    try:
        cells = json.loads(source).get("cells", [])
    except (ValueError, AttributeError):
        return []
    out = []
    for cell in cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if meta.get("grade") and meta.get("grade_id"):
            try:
                points = float(meta.get("points") or 0)
            except (TypeError, ValueError):
                points = 0.0
            out.append(GradeCell(str(meta["grade_id"]), points,
                                 "markdown" if cell.get("cell_type") == "markdown" else "code",
                                 bool(meta.get("solution"))))
    return out


def exercises(session: Session, course: Course) -> list[Exercise]:
    """The course's lessons with graded cells in their newest version, in syllabus order (one query)."""
    ids = [ls.id for ls in course.lessons]
    if not ids:
        return []
    newest = (select(LessonVersion.lesson_id, func.max(LessonVersion.number).label("number"))
              .where(LessonVersion.lesson_id.in_(ids)).group_by(LessonVersion.lesson_id).subquery())
    sources = dict(session.execute(
        select(LessonVersion.lesson_id, LessonVersion.source_notebook)
        .join(newest, (newest.c.lesson_id == LessonVersion.lesson_id) & (newest.c.number == LessonVersion.number))).all())
    out = []
    for lesson in course.lessons:
        cells = _cells(sources.get(lesson.id) or "")
        if cells:
            name = lesson.filename[:-6] if lesson.filename.endswith(".ipynb") else lesson.filename
            out.append(Exercise(lesson, name, cells))
    return out


def _text(value: str) -> str:
    """A spreadsheet opening the CSV must not run a name as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _unique(names: list[str]) -> list[str]:
    """Two quizzes may ask the same question: the second header gets " (2)", and so on."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def quiz_headers(quizzes: list) -> list[str]:
    return _unique([f"{roster.quiz_title(q)} (quiz, {q.points:g} pt{'' if q.points == 1 else 's'})"
                    for q in quizzes])


def challenge_headers(challenges: list) -> list[str]:
    titles = _unique([f"{roster.challenge_title(c)} (challenge)" for c in challenges])
    return [f"{t} {part}" for t in titles for part in ("passed", "tests", "language")]


def csv_text(session: Session, user: User, slug: str) -> tuple[Course, str]:
    """The course's gradebook as CSV: a header row, then one row per student (username first)."""
    course = roster.taught_course(session, user, slug)
    graded = exercises(session, course)
    quizzes = roster.course_quizzes(session, course)
    challenges = roster.course_challenges(session, course)
    rows = roster.student_rows(session, course, quizzes=quizzes, challenges=challenges)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["username", "display_name"]
    for ex in graded:
        header += [f"{ex.lesson.key} raw", f"{ex.lesson.key} late penalty %", f"{ex.lesson.key} final"]
    header += quiz_headers(quizzes) + challenge_headers(challenges)
    writer.writerow([_text(h) for h in header] + ["total raw", "total final", "total max"])
    for row in rows:
        by_lesson = {c.lesson.id: c for c in row.cells}
        line = [_text(row.user.hub_name), _text(row.user.display_name or row.user.hub_name)]
        raw_total = final_total = 0.0
        for ex in graded:
            cell = by_lesson[ex.lesson.id]
            graded_here = cell.score is not None
            line += [_number(cell.raw_score), _number(cell.late_penalty_percent) if graded_here else "",
                     _number(cell.score)]
            raw_total += cell.raw_score or 0.0
            final_total += cell.score or 0.0
        by_quiz = {q.quiz.id: q for q in row.quizzes}
        for quiz in quizzes:
            line.append(_number(by_quiz[quiz.id].score))
        by_challenge = {c.challenge.id: c for c in row.challenges}
        for challenge in challenges:
            cell = by_challenge[challenge.id]
            if not cell.submissions or cell.tests_total is None:
                line += ["", "", ""]
            else:
                line += ["yes" if cell.passed else "no", f"{cell.tests_passed} of {cell.tests_total}",
                         _text(cell.language or "")]
        writer.writerow(line + [_number(round(raw_total, 4)), _number(round(final_total, 4)),
                                _number(round(sum(ex.max_score for ex in graded), 4))])
    return course, out.getvalue()


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def _naive_utc(moment: datetime | None) -> datetime | None:
    """nbgrader stores naive UTC date-times."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


@functools.cache
def _nbgrader_schema_revision() -> str:
    """The Alembic head of nbgrader's gradebook schema, read in this process."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


def _stamped(path: Path) -> None:
    """A new gradebook file already stamped with nbgrader's schema revision: ``Gradebook`` stamps a
    new file by running the ``alembic`` command found on PATH (a subprocess per export, and an
    error where the service's PATH has no ``alembic``); it leaves a stamped file's stamp alone."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (_nbgrader_schema_revision(),))
    db.close()


def nbgrader_db(session: Session, user: User, slug: str) -> tuple[Course, bytes]:
    """The course's gradebook as nbgrader's ``gradebook.db`` (SQLite), written by nbgrader itself."""
    from nbgrader.api import Gradebook  # nbgrader pulls in a lot; only this export needs it

    course = roster.taught_course(session, user, slug)
    graded = exercises(session, course)
    rows = roster.student_rows(session, course, details=True)
    deadlines = {p.lesson_id: p.deadline for p in session.scalars(
        select(LessonPolicy).where(LessonPolicy.lesson_id.in_([ex.lesson.id for ex in graded] or [0])))}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gradebook.db"
        _stamped(path)
        with Gradebook(f"sqlite:///{path}", course_id=course.slug) as gb:
            for ex in graded:
                due = _naive_utc(_aware(deadlines.get(ex.lesson.id)))
                gb.add_assignment(ex.lesson.key, duedate=due)
                gb.add_notebook(ex.notebook, ex.lesson.key)
                for cell in ex.cells:
                    gb.add_grade_cell(cell.grade_id, ex.notebook, ex.lesson.key, max_score=cell.points,
                                      cell_type=cell.cell_type)
                    if cell.solution:
                        gb.add_solution_cell(cell.grade_id, ex.notebook, ex.lesson.key)
            for row in rows:
                gb.update_or_create_student(row.user.hub_name, first_name=row.user.display_name or None)
            for row in rows:
                by_lesson = {c.lesson.id: c for c in row.cells}
                for ex in graded:
                    cell = by_lesson[ex.lesson.id]
                    if cell.best_id is None:
                        continue
                    _add_submission(gb, ex, row.user.hub_name, cell, deadlines.get(ex.lesson.id))
        return course, path.read_bytes()


def _add_submission(gb, ex: Exercise, student: str, cell: roster.LessonCell, lesson_deadline) -> None:
    extension = None
    if cell.extended and lesson_deadline is not None and cell.deadline is not None:
        extension = cell.deadline - _aware(lesson_deadline)
    with warnings.catch_warnings():  # nbgrader's own add_submission autoflushes half-built rows, harmlessly
        warnings.simplefilter("ignore", SAWarning)
        gb.add_submission(ex.lesson.key, student, timestamp=_naive_utc(cell.submitted_at), extension=extension)
    results = {}
    for book in (cell.feedback or {}).get("notebooks", []):
        for result in book.get("cells", []):
            results[result.get("grade_id")] = result
    notebook_file = ex.lesson.filename
    for grade_cell in ex.cells:
        grade = gb.find_grade(grade_cell.grade_id, ex.notebook, ex.lesson.key, student)
        result = results.get(grade_cell.grade_id) or {}
        manual_points, comment = cell.manual.get((notebook_file, grade_cell.grade_id), (None, ""))
        grade.auto_score = result.get("points")
        grade.manual_score = manual_points
        grade.needs_manual_grade = bool(result.get("needs_manual_grade")) and manual_points is None
        if grade_cell.solution and comment:
            gb.find_comment(grade_cell.grade_id, ex.notebook, ex.lesson.key, student).manual_comment = comment
    submitted = gb.find_submission_notebook(ex.notebook, ex.lesson.key, student)
    raw = cell.raw_score or 0.0
    submitted.late_submission_penalty = round(raw * cell.late_penalty_percent / 100.0, 4) or None
    gb.db.commit()
