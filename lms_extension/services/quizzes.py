"""Quizzes authored in lesson notebooks, graded on the server.

An author marks a (markdown) cell of the source notebook::

    "metadata": {"lms": {"quiz": {
        "id": "q-print", "type": "choice", "question": "What does print(2 + 3) show?",
        "options": ["2 + 3", "5", "23"], "answer": 1, "points": 1, "attempts": 2,
        "feedback": {"correct": "Yes!", "wrong": "Python evaluates the expression first."}}}}

``type`` is ``choice`` (``answer``: an option index, or a list of them when several are
right) or ``short`` (``answers``: accepted texts; case, surrounding and repeated blanks
are ignored, numbers compare by value). ``attempts`` is how many tries a student has
(default ``DEFAULT_ATTEMPTS``; 0 means unlimited).

A choice quiz with one right option is a single-answer question: students pick one option
(radio buttons), and an attempt naming several is refused without counting. Once a student
has no attempt left (or has answered correctly), their last answer and the right one are
shown to them; never before.

The import keeps the key in the ``quizzes`` table; the student version of the notebook
keeps only the public fields, so correct answers never reach a student.
"""
from __future__ import annotations

import json
import math
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, CourseFormatError, Forbidden, InvalidInput, NotFound
from ..models import Course, Lesson, User
from ..models.base import utcnow
from ..models.course import SLUG
from ..models.learning import Quiz, QuizAttempt
from . import enrollments, gamification, progress

PUBLIC_FIELDS = ("id", "type", "question", "options", "points", "attempts")
DEFAULT_ATTEMPTS = 0  # unlimited, unless the quiz says otherwise
MAX_RESPONSE_CHARS = 500
HINT = "\n\n> *Quiz `{id}`: answer on the lesson page, or run `%lms_quiz {id} <answer>` in a code cell.*"


def _quiz_meta(cell) -> dict | None:
    lms = (cell.get("metadata") or {}).get("lms")
    if not isinstance(lms, dict) or "quiz" not in lms:
        return None
    return lms["quiz"]


def parse_quizzes(nb: dict, where: str) -> list[dict]:
    """Validated quiz specs of a source notebook, in cell order."""
    specs, seen = [], set()
    for index, cell in enumerate(nb.get("cells", [])):
        raw = _quiz_meta(cell)
        if raw is None:
            continue
        here = f"{where}: cell {index}: quiz"
        if not isinstance(raw, dict):
            raise CourseFormatError(f"{here}: metadata lms.quiz must be an object")
        key = raw.get("id")
        if not isinstance(key, str) or not SLUG.match(key):
            raise CourseFormatError(f"{here}: id must match {SLUG.pattern}")
        if key in seen:
            raise CourseFormatError(f"{here}: duplicate quiz id {key!r}")
        seen.add(key)
        kind = raw.get("type")
        question = raw.get("question")
        if not isinstance(question, str) or not question.strip():
            raise CourseFormatError(f"{here} {key}: question must be a non-empty string")
        points = raw.get("points", 1)
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
            raise CourseFormatError(f"{here} {key}: points must be a number > 0")
        attempts = raw.get("attempts", DEFAULT_ATTEMPTS)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise CourseFormatError(f"{here} {key}: attempts must be a whole number >= 0 (0: unlimited)")
        options: list[str] = []
        if kind == "choice":
            options = raw.get("options")
            if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
                raise CourseFormatError(f"{here} {key}: a choice quiz needs a list of at least 2 option strings")
            answer = raw.get("answer")
            answer = [answer] if isinstance(answer, int) and not isinstance(answer, bool) else answer
            if (not isinstance(answer, list) or not answer
                    or not all(isinstance(a, int) and not isinstance(a, bool) and 0 <= a < len(options) for a in answer)):
                raise CourseFormatError(f"{here} {key}: answer must be an option index (or a list of them)")
            answer = sorted(set(answer))
        elif kind == "short":
            answer = raw.get("answers", raw.get("answer"))
            answer = [answer] if isinstance(answer, str) else answer
            if not isinstance(answer, list) or not answer or not all(isinstance(a, str) and a.strip() for a in answer):
                raise CourseFormatError(f"{here} {key}: a short quiz needs answers: a list of accepted texts")
        else:
            raise CourseFormatError(f"{here} {key}: type must be 'choice' or 'short'")
        feedback = raw.get("feedback", {})
        if not isinstance(feedback, dict):
            raise CourseFormatError(f"{here} {key}: feedback must be a table with 'correct' and/or 'wrong'")
        specs.append({"key": key, "kind": kind, "question": question, "options": options, "answer": answer,
                      "points": float(points), "attempts": attempts,
                      "feedback_correct": str(feedback.get("correct", "")),
                      "feedback_wrong": str(feedback.get("wrong", ""))})
    return specs


def strip_answers(nb) -> None:
    """Remove every answer key (and feedback) from a notebook about to reach students."""
    for cell in nb.get("cells", []):
        raw = _quiz_meta(cell)
        if not isinstance(raw, dict):
            continue
        public = {k: raw[k] for k in PUBLIC_FIELDS if k in raw}
        cell["metadata"]["lms"]["quiz"] = public
        if cell.get("cell_type") == "markdown" and isinstance(public.get("id"), str):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            cell["source"] = source + HINT.format(id=public["id"])


def sync_lesson_quizzes(session: Session, lesson: Lesson, specs: list[dict]) -> None:
    existing = {q.key: q for q in session.scalars(select(Quiz).where(Quiz.lesson_id == lesson.id))}
    for position, spec in enumerate(specs):
        quiz = existing.pop(spec["key"], None) or Quiz(lesson_id=lesson.id, key=spec["key"])
        quiz.position, quiz.kind, quiz.question = position, spec["kind"], spec["question"]
        quiz.options, quiz.answer = json.dumps(spec["options"]), json.dumps(spec["answer"])
        quiz.points, quiz.max_attempts = spec["points"], spec["attempts"]
        quiz.feedback_correct, quiz.feedback_wrong = spec["feedback_correct"], spec["feedback_wrong"]
        session.add(quiz)
    for gone in existing.values():
        session.delete(gone)
    session.flush()


# answering ----------------------------------------------------------------------------------
def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).casefold()


def _same(a: str, b: str) -> bool:
    a, b = _normalise(a), _normalise(b)
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isfinite(x) and math.isfinite(y) and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def _parse_choice(response, options: list[str], *, single: bool = False) -> list[int]:
    """An index, a list of indexes, or option letters ("b", "a,c"); exactly one when ``single``."""
    picked = _picked(response, options)
    if single and len(picked) > 1:
        raise InvalidInput("this question has one right answer: pick one option only "
                           "(this attempt was not counted)")
    return picked


def _picked(response, options: list[str]) -> list[int]:
    items = response if isinstance(response, list) else [response]
    picked = []
    for item in items:
        if isinstance(item, bool):
            raise InvalidInput("answer with an option number or letter")
        if isinstance(item, int):
            index = item
        elif isinstance(item, str) and item.strip():
            parts = [p.strip() for p in item.split(",") if p.strip()]
            if len(parts) > 1:
                picked += _picked(parts, options)
                continue
            token = parts[0].lower()
            if len(token) == 1 and token.isalpha():
                index = ord(token) - ord("a")
            elif token.isdigit():
                index = int(token)
            else:
                raise InvalidInput(f"{item!r} is not an option: use a letter (a, b, …) or an index")
        else:
            raise InvalidInput("answer with an option number or letter")
        if not 0 <= index < len(options):
            raise InvalidInput(f"there are {len(options)} options (a-{chr(ord('a') + len(options) - 1)})")
        picked.append(index)
    if not picked:
        raise InvalidInput("pick at least one option")
    return sorted(set(picked))


def find(session: Session, user: User, slug: str, quiz_key: str) -> tuple[Course, Lesson, Quiz]:
    """A quiz of a course the user may open (its lesson's access rules apply)."""
    if not isinstance(quiz_key, str) or not SLUG.match(quiz_key):
        raise NotFound(f"no quiz {quiz_key!r}")
    quiz = session.scalars(select(Quiz).join(Lesson, Lesson.id == Quiz.lesson_id).join(Course, Course.id == Lesson.course_id)
                           .where(Course.slug == slug, Quiz.key == quiz_key).limit(1)).first()
    if quiz is None:
        raise NotFound(f"course {slug!r} has no quiz {quiz_key!r}")
    course, lesson, _ = enrollments.lesson_access(session, user, slug, quiz.lesson.key)
    return course, lesson, quiz


def _attempts(session: Session, user_id: int, quiz_id: int) -> list[QuizAttempt]:
    return list(session.scalars(select(QuizAttempt).where(QuizAttempt.user_id == user_id,
                                                          QuizAttempt.quiz_id == quiz_id)
                                .order_by(QuizAttempt.id)))


def answer(session: Session, user: User, slug: str, quiz_key: str, response) -> dict:
    """Grade one attempt. Only enrolled students answer; attempts are limited per quiz."""
    course, lesson, quiz = find(session, user, slug, quiz_key)
    if enrollments.find_enrollment(session, user, course) is None:
        raise Forbidden(f"enroll in {course.title!r} to answer its quizzes")
    previous = _attempts(session, user.id, quiz.id)
    if any(a.correct for a in previous):
        raise Conflict("you already answered this quiz correctly")
    if quiz.max_attempts and len(previous) >= quiz.max_attempts:
        raise Conflict(f"no attempts left ({quiz.max_attempts} allowed)")
    key = json.loads(quiz.answer)
    if quiz.kind == "choice":
        picked = _parse_choice(response, json.loads(quiz.options), single=len(key) == 1)
        correct = picked == key
        stored = picked
    else:
        if not isinstance(response, str) or not response.strip():
            raise InvalidInput("answer with a non-empty text")
        if len(response) > MAX_RESPONSE_CHARS:
            raise InvalidInput(f"answers are at most {MAX_RESPONSE_CHARS} characters")
        correct = any(_same(response, accepted) for accepted in key)
        stored = response.strip()
    attempt = QuizAttempt(quiz_id=quiz.id, user_id=user.id, response=json.dumps(stored), correct=correct,
                          score=quiz.points if correct else 0.0, created_at=utcnow())
    session.add(attempt)
    session.flush()
    progress.record_open(session, user, lesson)
    if correct:
        gamification.add_xp(session, user.id, "quiz", f"quiz:{quiz.id}", course_id=course.id,
                            points=int(round(gamification.XP["quiz"] * quiz.points)))
    gamification.record_activity(session, user.id)
    progress.refresh_lesson(session, user.id, lesson)
    return public_view(session, user, quiz, include_lesson=True) | {"correct": correct}


def public_view(session: Session, user: User | None, quiz: Quiz, *, include_lesson: bool = False) -> dict:
    """What a student may see of a quiz: never the answer key."""
    attempts = _attempts(session, user.id, quiz.id) if user is not None else []
    solved = any(a.correct for a in attempts)
    left = None if not quiz.max_attempts else max(0, quiz.max_attempts - len(attempts))
    feedback = None
    if attempts:
        feedback = (quiz.feedback_correct or "Correct.") if solved else (quiz.feedback_wrong or "Not quite.")
    key = json.loads(quiz.answer)
    finished = solved or left == 0
    view = {"id": quiz.key, "type": quiz.kind, "question": quiz.question, "options": json.loads(quiz.options),
            "multiple": quiz.kind == "choice" and len(key) > 1,
            "points": quiz.points, "attempts_allowed": quiz.max_attempts, "attempts_used": len(attempts),
            "attempts_left": left, "solved": solved, "score": quiz.points if solved else 0.0,
            "feedback": feedback, "finished": finished,
            # the key only once nothing can be gained from it any more
            "your_answer": json.loads(attempts[-1].response) if finished and attempts else None,
            "correct_answer": key if finished else None}
    if include_lesson:
        view["lesson"] = quiz.lesson.key
    return view


def quizzes_of_lesson(session: Session, user: User | None, lesson: Lesson) -> list[dict]:
    quizzes = session.scalars(select(Quiz).where(Quiz.lesson_id == lesson.id).order_by(Quiz.position)).all()
    return [public_view(session, user, q) for q in quizzes]


def lesson_quiz_list(session: Session, user: User, slug: str, lesson_key: str) -> list[dict]:
    _, lesson, _ = enrollments.lesson_access(session, user, slug, lesson_key)
    return quizzes_of_lesson(session, user, lesson)
