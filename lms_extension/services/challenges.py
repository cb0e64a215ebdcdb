"""Code challenges: authored with a lesson, run in the sandbox, stored per user.

Hidden test inputs and expected outputs never leave this module toward a student: the
outcomes it returns carry them only for public tests. A hidden test reports its status
and nothing else: the time or memory a program took on a hidden input is a figure the
program controls, enough to encode the input it read.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from graders.judging import RunResult, Status
from graders.languages import LANGUAGES, get_language
from graders.limits import Limits

from ..errors import CourseFormatError, InvalidInput, NotFound
from ..models import Challenge, ChallengeSubmission, ChallengeTest, Lesson, User
from ..models.course import SLUG
from . import enrollments, progress

MODES = {71: "python", 52: "cpp", 50: "c", 62: "java", 63: "javascript"}
MAX_SOURCE_BYTES = 64 * 1024
MAX_STDIN_BYTES = 64 * 1024


@dataclass
class TestSpec:
    stdin: str
    expected: str
    hidden: bool


@dataclass
class ChallengeSpec:
    key: str
    title: str
    statement: str
    starter: dict[str, str] = field(default_factory=dict)
    tests: list[TestSpec] = field(default_factory=list)
    cpu_time: float | None = None
    memory_kb: int | None = None
    # the instructor's reference solution per language: Validate runs it (services/authoring.py);
    # it is never stored, so it never reaches a student
    solution: dict[str, str] = field(default_factory=dict)


def load_challenge_file(path: Path) -> ChallengeSpec:
    where = str(path)
    if not path.is_file():
        raise CourseFormatError(f"{where}: challenge file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CourseFormatError(f"{where}: invalid TOML ({exc})") from exc
    return load_challenge_text(text, where)


def load_challenge_text(text: str, where: str) -> ChallengeSpec:
    """A challenge file's TOML (``where`` names it in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CourseFormatError(f"{where}: invalid TOML ({exc})") from exc
    unknown = set(data) - {"id", "title", "statement", "starter", "tests", "limits", "solution"}
    if unknown:
        raise CourseFormatError(f"{where}: unknown keys {sorted(unknown)}")
    key, title = data.get("id"), data.get("title")
    if not isinstance(key, str) or not SLUG.match(key):
        raise CourseFormatError(f"{where}: id must match {SLUG.pattern}")
    if not isinstance(title, str) or not title:
        raise CourseFormatError(f"{where}: title is required")
    starter = data.get("starter", {})
    if not isinstance(starter, dict) or set(starter) - set(MODES.values()):
        raise CourseFormatError(f"{where}: starter keys must be among {sorted(MODES.values())}")
    solution = data.get("solution", {})
    if not isinstance(solution, dict) or set(solution) - set(MODES.values()) or not all(
            isinstance(v, str) for v in solution.values()):
        raise CourseFormatError(f"{where}: solution keys must be among {sorted(MODES.values())}, each a program")
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        raise CourseFormatError(f"{where}: a challenge needs at least one [[tests]] entry")
    specs = []
    for i, t in enumerate(tests, 1):
        if not isinstance(t, dict) or not isinstance(t.get("expected"), str):
            raise CourseFormatError(f"{where}: test {i} needs an expected string")
        specs.append(TestSpec(str(t.get("stdin", "")), t["expected"], bool(t.get("hidden", False))))
    if all(t.hidden for t in specs):
        raise CourseFormatError(f"{where}: at least one test must be public")
    limits = data.get("limits", {})
    try:
        Limits(cpu_time=float(limits.get("cpu_time", 5.0)), memory=int(limits.get("memory_kb", 128000)))
    except (ValueError, TypeError) as exc:
        raise CourseFormatError(f"{where}: limits: {exc}") from exc
    return ChallengeSpec(key, title, str(data.get("statement", "")), {k: str(v) for k, v in starter.items()},
                         specs, limits.get("cpu_time"), limits.get("memory_kb"), dict(solution))


def sync_lesson_challenges(lesson: Lesson, specs: list[ChallengeSpec], existing: list[Challenge]) -> list[Challenge]:
    """The lesson's challenges after an import: updated in place by key, tests replaced."""
    by_key = {c.key: c for c in existing}
    result = []
    for position, spec in enumerate(specs):
        challenge = by_key.get(spec.key) or Challenge(key=spec.key, lesson=lesson)
        challenge.title, challenge.statement, challenge.position = spec.title, spec.statement, position
        challenge.starter_code = json.dumps(spec.starter)
        challenge.cpu_time_limit, challenge.memory_limit_kb = spec.cpu_time, spec.memory_kb
        challenge.tests = [ChallengeTest(position=i, stdin=t.stdin, expected_output=t.expected, hidden=t.hidden)
                           for i, t in enumerate(spec.tests)]
        result.append(challenge)
    return result


def find(session: Session, user: User | None, slug: str, lesson_key: str, key: str) -> Challenge:
    _, lesson, _ = enrollments.lesson_access(session, user, slug, lesson_key)
    challenge = session.scalars(select(Challenge).where(Challenge.lesson_id == lesson.id, Challenge.key == key)
                                .options(selectinload(Challenge.tests))).one_or_none()
    if challenge is None:
        raise NotFound(f"lesson {lesson_key!r} has no challenge {key!r}")
    return challenge


def find_by_id(session: Session, user: User | None, challenge_id: int) -> Challenge:
    challenge = session.get(Challenge, challenge_id, options=[selectinload(Challenge.tests)])
    if challenge is None:
        raise NotFound(f"no challenge {challenge_id}")
    lesson = challenge.lesson
    enrollments.lesson_access(session, user, lesson.course.slug, lesson.key)  # access check
    return challenge


def languages() -> list[dict]:
    return [{"id": lang.id, "name": lang.display_name, "mode": MODES[lang.id]}
            for lang in LANGUAGES if lang.id in MODES]


def public_tests(challenge: Challenge) -> list[dict]:
    return [{"index": t.position, "stdin": t.stdin, "expected": t.expected_output}
            for t in challenge.tests if not t.hidden]


def limits_for(challenge: Challenge) -> Limits:
    return Limits(cpu_time=challenge.cpu_time_limit or 5.0, memory=challenge.memory_limit_kb or 128000)


def validate_code(language_id, source, stdin="") -> int:
    if not isinstance(language_id, int) or language_id not in MODES:
        raise InvalidInput(f"language_id must be one of {sorted(MODES)}")
    get_language(language_id)
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("source must be a non-empty string")
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidInput(f"source is limited to {MAX_SOURCE_BYTES} bytes")
    if not isinstance(stdin, str) or len(stdin.encode()) > MAX_STDIN_BYTES:
        raise InvalidInput(f"stdin must be a string of at most {MAX_STDIN_BYTES} bytes")
    return language_id


@dataclass(frozen=True)
class JudgeCase:
    """What the sandbox needs of a test, detached from the database session."""

    index: int
    stdin: str
    expected: str
    hidden: bool


def cases(challenge: Challenge) -> list[JudgeCase]:
    return [JudgeCase(t.position, t.stdin, t.expected_output, t.hidden) for t in challenge.tests]


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace")


def outcome(judge_cases: list[JudgeCase], failure: RunResult | None, results: list[RunResult]) -> dict:
    """What the student sees of a graded submission: hidden tests only as passed/failed."""
    if failure is not None:
        status = "compilation_error" if failure.status is Status.COMPILATION_ERROR else "error"
        return {"status": status, "passed": 0, "total": len(judge_cases),
                "compile_output": _text(failure.compile_output) or failure.message, "tests": []}
    tests = []
    for case, result in zip(judge_cases, results):
        item = {"index": case.index, "hidden": case.hidden, "status": result.judge0_status["description"]}
        if not case.hidden:
            item.update(time=f"{result.time or 0:.3f}", memory=result.memory or 0, stdin=case.stdin,
                        expected=case.expected, stdout=_text(result.stdout)[:10_000])
        tests.append(item)
    passed = sum(1 for r in results if r.status is Status.ACCEPTED)
    return {"status": "passed" if passed == len(judge_cases) else "failed", "passed": passed,
            "total": len(judge_cases), "compile_output": None, "tests": tests}


def record(session: Session, user: User, challenge: Challenge, language_id: int, source: str,
           result: dict) -> ChallengeSubmission:
    submission = ChallengeSubmission(
        challenge_id=challenge.id, user_id=user.id, language_id=language_id, source=source,
        status=result["status"], passed=result["passed"], total=result["total"],
        compile_output=result["compile_output"], results=json.dumps(result["tests"]),
    )
    session.add(submission)
    progress.record_open(session, user, challenge.lesson)  # a submission counts as work on the lesson
    session.flush()
    progress.after_challenge_submission(session, user, challenge, submission)
    return submission


def submission_view(sub: ChallengeSubmission) -> dict:
    lang = next((lang for lang in LANGUAGES if lang.id == sub.language_id), None)
    return {"id": sub.id, "language_id": sub.language_id,
            "language_name": lang.display_name if lang else str(sub.language_id),
            "status": sub.status, "passed": sub.passed, "total": sub.total,
            "score": round(sub.passed / sub.total, 2) if sub.total else 0.0,
            "compile_output": sub.compile_output, "tests": [_shown(t) for t in json.loads(sub.results)],
            "created_at": sub.created_at.isoformat()}


def _shown(test: dict) -> dict:
    """A stored test result as shown; rows stored before hidden tests lost their figures
    lose them here."""
    if test.get("hidden"):
        return {k: test[k] for k in ("index", "hidden", "status") if k in test}
    return test


def submissions_of(session: Session, user: User, challenge: Challenge, limit: int = 20) -> list[ChallengeSubmission]:
    return list(session.scalars(
        select(ChallengeSubmission).where(ChallengeSubmission.user_id == user.id,
                                          ChallengeSubmission.challenge_id == challenge.id)
        .order_by(ChallengeSubmission.id.desc()).limit(limit)))


def solved_per_course(session: Session, user: User, course_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per course: (challenges with a passing submission by ``user``, challenges in all)."""
    if not course_ids:
        return {}
    totals = dict(session.execute(
        select(Lesson.course_id, func.count(Challenge.id)).join(Challenge, Challenge.lesson_id == Lesson.id)
        .where(Lesson.course_id.in_(course_ids)).group_by(Lesson.course_id)).all())
    solved = dict(session.execute(
        select(Lesson.course_id, func.count(func.distinct(Challenge.id)))
        .join(Challenge, Challenge.lesson_id == Lesson.id)
        .join(ChallengeSubmission, ChallengeSubmission.challenge_id == Challenge.id)
        .where(ChallengeSubmission.user_id == user.id, ChallengeSubmission.status == "passed",
               Lesson.course_id.in_(course_ids))
        .group_by(Lesson.course_id)).all())
    return {cid: (solved.get(cid, 0), total) for cid, total in totals.items()}
