"""``%lms_quiz`` and ``%lms_progress``: answer lesson quizzes and see progress from a notebook.

In a student's kernel (``LMS_SERVICE_URL`` and ``JUPYTERHUB_API_TOKEN`` are set there)::

    %lms_quiz                 # the quizzes of this lesson, with their options
    %lms_quiz q-print b       # answer quiz q-print with option b (graded on the server)
    %lms_quiz q-name Ada Lovelace
    %lms_progress             # progress in this course

The course comes from the notebook's folder (``~/courses/<slug>/``), the lesson from the
notebook name when the kernel knows it; ``--course SLUG`` / ``--lesson ID`` override both.
"""
from __future__ import annotations

import os
import re
import shlex
import urllib.parse
from pathlib import Path

from .client import LMSClient, LMSError

SAFE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def _call(method: str, path: str, body: dict | None = None, environ=None) -> dict:
    try:
        return LMSClient.from_environment(environ).call(method, "api/v1/" + path, body)
    except LMSError as exc:
        if exc.status is None:
            raise
        raise LMSError(f"{exc.status}: {exc.message}", exc.status) from None


def _context(args: list[str], cwd: Path, notebook: str | None) -> tuple[str | None, str | None, list[str]]:
    course = lesson = None
    rest = []
    it = iter(args)
    for arg in it:
        if arg == "--course":
            course = next(it, None)
        elif arg == "--lesson":
            lesson = next(it, None)
        else:
            rest.append(arg)
    if course is None and cwd.parent.name == "courses" and SAFE.match(cwd.name):
        course = cwd.name
    if lesson is None and notebook:
        stem = re.sub(r"\.v\d+$", "", Path(notebook).stem)
        lesson = stem if SAFE.match(stem) else None
    return course, lesson, rest


def quiz_text(quizzes: list[dict]) -> str:
    lines = []
    for q in quizzes:
        state = "solved ✓" if q["solved"] else ("no attempts left" if q["finished"] else
                                                 f"{q['attempts_left'] if q['attempts_left'] is not None else '∞'} attempts left")
        if q.get("options"):
            state += ", pick several" if q.get("multiple") else ", pick one"
        lines.append(f"[{q['id']}] {q['question']}  ({state})")
        for i, option in enumerate(q.get("options") or []):
            lines.append(f"    {chr(ord('a') + i)}) {option}")
        if q.get("correct_answer") is not None and not q["solved"]:
            lines.append(f"    right answer: {_answer_text(q, q['correct_answer'])}")
    return "\n".join(lines) or "This lesson has no quiz."


def _title(course: dict, lesson_key: str) -> str:
    """A lesson as the student knows it: its title (the id only if the server sent none)."""
    return next((ls.get("title") or lesson_key for ls in course.get("lessons", []) if ls.get("lesson") == lesson_key),
                lesson_key)


def _answer_text(q: dict, answer) -> str:
    """An answer as the student reads it: option letters and texts, or the accepted texts."""
    options = q.get("options") or []
    if q.get("type") == "choice":
        return ", ".join(f"{chr(ord('a') + i)}) {options[i]}" for i in answer
                         if isinstance(i, int) and 0 <= i < len(options))
    return " / ".join(answer) if isinstance(answer, list) else str(answer)


def run_quiz(line: str, cwd: Path, notebook: str | None = None, environ=None) -> str:
    course, lesson, rest = _context(shlex.split(line), cwd, notebook)
    if not course:
        raise LMSError("which course? run this in a lesson notebook or add --course SLUG")
    if not rest:
        if not lesson:
            raise LMSError("which lesson? add --lesson ID")
        data = _call("GET", f"courses/{urllib.parse.quote(course)}/lessons/{urllib.parse.quote(lesson)}/quizzes",
                     environ=environ)
        return quiz_text(data["quizzes"])
    quiz, answer = rest[0], " ".join(rest[1:])
    if not answer:
        raise LMSError("usage: %lms_quiz QUIZ-ID ANSWER (an option letter, or the text)")
    result = _call("POST", f"courses/{urllib.parse.quote(course)}/quizzes/{urllib.parse.quote(quiz)}/answers",
                   {"answer": answer}, environ=environ)
    verdict = "✓ correct" if result["correct"] else "✗ not correct"
    left = result.get("attempts_left")
    tail = "" if result["correct"] or left is None else f" ({left} attempts left)"
    text = f"{verdict}{tail}. {result.get('feedback') or ''}".strip()
    if not result["correct"] and result.get("correct_answer") is not None:
        text += f"\nThe right answer: {_answer_text(result, result['correct_answer'])}"
    return text


def run_progress(line: str, cwd: Path, environ=None) -> str:
    course, _, _ = _context(shlex.split(line), cwd, None)
    data = _call("GET", "me/progress", environ=environ)
    lines = []
    for c in data["courses"]:
        if course and c["course"] != course:
            continue
        lines.append(f"{c['title']}: {c['percent']}% ({c['completed_lessons']}/{c['total_lessons']} lessons, "
                     f"{c['seconds_spent'] // 60} min)" + (f", next: {_title(c, c['next'])}" if c.get("next") else ""))
    return "\n".join(lines) or "No enrolled course."


def load_ipython_extension(ipython) -> None:
    from IPython.core.magic import register_line_magic

    def _notebook() -> str | None:
        return ipython.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")

    @register_line_magic
    def lms_quiz(line):
        try:
            print(run_quiz(line, Path.cwd(), _notebook()))
        except LMSError as exc:
            print(f"lms_quiz: {exc}")

    @register_line_magic
    def lms_progress(line):
        try:
            print(run_progress(line, Path.cwd()))
        except LMSError as exc:
            print(f"lms_progress: {exc}")
