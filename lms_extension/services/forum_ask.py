"""Asking about a notebook cell from JupyterLab: the question's attachment, redacted by construction.

The one writer of ``forum_attachments``; the thread itself is made by ``forum.create_thread``.

Whatever the client sends (code, the cells above, output, traceback, title, body), it is cleaned here, on the
server, against the lesson version's instructor notebook before anything is stored: every line
of a hidden-test block, of a solution region (or a whole solution cell without delimiters), of a
test cell that holds hidden tests and of an instructor-only cell is forbidden, unless the same
line is in the student version anyway. Lines are compared normalised (NFKC, ANSI colours and all
whitespace removed), a forbidden line is found inside a longer line too (a traceback's
``----> 5 assert ...``), and a text that still spells one out across lines is withheld whole.
The failing public tests are never taken from the client: they come from the version's test
cells and the student's own last graded submission.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Forbidden, InvalidInput, NotFound
from ..models import Lesson, LessonVersion, NotebookSubmission, User
from ..models.forum import ForumPost, ForumThread
from ..models.forum_ask import ForumAttachment
from ..models.submission import GRADED
from . import feedback_release, forum, notebooks

MAX_FIELD = 20_000  # characters of code, output or traceback kept
MAX_FAILING = 10
SIMILAR_LIMIT = 5
MIN_LINE = 6  # normalised characters: shorter lines (`pass`, `else:`, `)`) say nothing
MIN_INSIDE = 8  # a forbidden line this long is also found inside a longer line or across lines
GRAM = 16  # and any run of this many characters of one (a quoted part of a long hidden line)
REMOVED = "[line removed: it quotes a hidden test or solution]"
WITHHELD = "[withheld: it quotes a hidden test or solution]"
CUT = "\n[… cut: too long]"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_SPACE = re.compile(r"\s+")
_EXCEPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
_LAST_ERROR = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]{0,80}(?:Error|Exception|Interrupt|Exit|Warning))(?::|$)")
_MARKERS = ("BEGINSOLUTION", "ENDSOLUTION", "BEGINHIDDENTESTS", "ENDHIDDENTESTS")
SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


def normalise(line: str) -> str:
    """A line as the redaction compares it: NFKC, without colour codes or any whitespace."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", _ANSI.sub("", line)))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(s for s in source if isinstance(s, str))


def _nbgrader(cell: dict) -> dict:
    meta = (cell.get("metadata") or {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _cells(notebook_text: str) -> list[dict]:
    try:
        cells = json.loads(notebook_text).get("cells") or []
    except (ValueError, AttributeError):
        return []
    return [c for c in cells if isinstance(c, dict)]


def _between(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _secret_and_public(source_notebook: str, student_notebook: str) -> tuple[list[str], list[str]]:
    student_ids = {_nbgrader(c).get("grade_id") for c in _cells(student_notebook)} - {None}
    secret: list[str] = []
    for cell in _cells(source_notebook):
        source, meta = _source(cell), _nbgrader(cell)
        grade_id = meta.get("grade_id")
        secret += _between(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        secret += _between(source, "BEGIN SOLUTION", "END SOLUTION")
        whole = (
            (meta.get("solution") and "BEGIN SOLUTION" not in source)  # nbgrader replaces the whole cell
            or (meta.get("grade") and "BEGIN HIDDEN TESTS" in source)  # a hidden-test cell
            or (grade_id is not None and grade_id not in student_ids))  # not in the student version
        if whole:
            secret += source.splitlines()
    public = [normalise(line) for cell in _cells(student_notebook) for line in _source(cell).splitlines()]
    return [normalise(line) for line in secret], public


def forbidden_lines(source_notebook: str, student_notebook: str) -> frozenset[str]:
    """The normalised lines of a lesson version no question may carry (see the module's doc)."""
    secret, public = _secret_and_public(source_notebook, student_notebook)
    return frozenset(n for n in set(secret) - set(public)
                     if len(n) >= MIN_LINE and not any(m in n.upper() for m in _MARKERS))


def _grams(text: str) -> set[str]:
    return {text[i:i + GRAM] for i in range(len(text) - GRAM + 1)}


@dataclass(frozen=True)
class Redactor:
    """``forbidden``: whole lines; ``grams``: every run of GRAM characters of a forbidden line that
    the student version does not hold, so that a part of a long line is found too."""

    forbidden: frozenset[str]
    grams: frozenset[str] = frozenset()

    @property
    def _long(self) -> tuple[str, ...]:
        return tuple(f for f in self.forbidden if MIN_INSIDE <= len(f) < GRAM)

    def _quotes(self, normalised: str, long: tuple[str, ...]) -> bool:
        return (normalised in self.forbidden or any(f in normalised for f in long)
                or any(g in self.grams for g in _grams(normalised)))

    def clean(self, text: str) -> tuple[str, int]:
        """``text`` without the lines that quote a forbidden line, and how many were taken out."""
        text = _ANSI.sub("", text.replace("\x00", ""))
        if not self.forbidden:
            return text, 0
        long = self._long
        kept, removed = [], 0
        for line in text.split("\n"):
            if self._quotes(normalise(line), long):
                kept.append(REMOVED)
                removed += 1
            else:
                kept.append(line)
        cleaned = "\n".join(kept)
        # written across several lines (or with the line breaks as the only difference): all of it goes
        joined = normalise(cleaned.replace(REMOVED, "\x00"))
        if any(f in joined for f in long) or any(g in self.grams for g in _grams(joined)):
            return WITHHELD, max(removed, 1) + len(kept)
        return cleaned, removed


def redactor_for(version: LessonVersion) -> Redactor:
    forbidden = forbidden_lines(version.source_notebook, version.student_notebook)
    secret, public = _secret_and_public(version.source_notebook, version.student_notebook)
    seen: set[str] = set()
    for line in public:
        seen |= _grams(line)
    grams = set()
    for line in forbidden:
        grams |= _grams(line)
    return Redactor(forbidden, frozenset(grams - seen))


# ------------------------------------------------------------------ input
def _field(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=name)
    return value if len(value) <= MAX_FIELD else value[:MAX_FIELD] + CUT


def _exception(raw, traceback: str) -> str:
    if raw not in (None, ""):
        if not isinstance(raw, str) or not _EXCEPTION.match(raw):
            raise InvalidInput("exception must be the name of an exception type, such as AssertionError",
                               field="exception")
        return raw
    for line in reversed([ln.strip() for ln in _ANSI.sub("", traceback).splitlines() if ln.strip()]):
        match = _LAST_ERROR.match(line)  # the traceback's last "SomeError: message"
        if match:
            return match.group(1)
    return ""


@dataclass
class Target:
    member: forum.Member
    lesson: Lesson
    version: LessonVersion
    cell_id: str
    cell: dict


def _target(session: Session, user: User | None, slug: str, lesson_key, cell_id, version) -> Target:
    m = forum.member(session, user, slug)
    if not isinstance(lesson_key, str) or not lesson_key:
        raise InvalidInput("name the lesson the cell belongs to", field="lesson")
    lesson = next((ls for ls in m.course.lessons if ls.key == lesson_key), None)
    if lesson is None:
        raise InvalidInput(f"{m.course.title!r} has no lesson {lesson_key[:100]!r}.", field="lesson")
    if not isinstance(cell_id, str) or not cell_id.strip():
        raise InvalidInput("name the cell the question is about (its cell id)", field="cell_id")
    cell_id = cell_id.strip()
    if len(cell_id) > forum.MAX_CELL_ID:
        raise InvalidInput("The cell id is too long.", field="cell_id")
    stmt = select(LessonVersion).where(LessonVersion.lesson_id == lesson.id)
    if version is not None:
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidInput("version must be a whole number", field="version")
        stmt = stmt.where(LessonVersion.number == version)
    found = session.scalars(stmt.order_by(LessonVersion.number.desc()).limit(1)).first()
    if found is None:
        raise InvalidInput(f"Lesson {lesson.title!r} has no version {version}." if version is not None
                           else f"Lesson {lesson.title!r} has no published version yet.", field="version")
    cell = next((c for c in _cells(found.student_notebook) if c.get("id") == cell_id), None)
    if cell is None:
        raise InvalidInput(f"Version {found.number} of lesson {lesson.title!r} has no cell {cell_id[:100]!r}: "
                           "ask from a cell of the lesson's notebook.", field="cell_id")
    return Target(m, lesson, found, cell_id, cell)


def failing_public_tests(session: Session, t: Target, errored: bool) -> list[str]:
    """Titles of the public tests failing: the asked cell if it is a test and errored, then the test
    cells without hidden tests that failed in the student's last graded submission of this version
    (when its results are released to them)."""
    source_cells = _cells(t.version.source_notebook)
    hidden = {_nbgrader(c).get("grade_id") for c in source_cells
              if _nbgrader(c).get("grade") and "BEGIN HIDDEN TESTS" in _source(c)}
    titles = notebooks.exercise_titles(t.version.student_notebook)
    names: list[str] = []
    meta = _nbgrader(t.cell)
    # the asked test cell failed in the student's kernel, where only its public part runs
    if errored and meta.get("grade") and not meta.get("solution") and meta.get("grade_id") in titles:
        names.append(titles[meta["grade_id"]])
    last = session.scalars(select(NotebookSubmission).where(
        NotebookSubmission.user_id == t.member.user.id, NotebookSubmission.lesson_id == t.lesson.id,
        NotebookSubmission.lesson_version_id == t.version.id, NotebookSubmission.status == GRADED)
        .order_by(NotebookSubmission.id.desc()).limit(1)).first()
    if last is not None and last.feedback and feedback_release.visible(last):
        for book in json.loads(last.feedback).get("notebooks", []):
            for cell in book.get("cells", []):
                gid = cell.get("grade_id")
                if gid in titles and gid not in hidden and cell.get("passed") is False \
                        and not cell.get("needs_manual_grade") and titles[gid] not in names:
                    names.append(titles[gid])
    return names[:MAX_FAILING]


def signature(lesson_id: int, cell_id: str, exception: str, test: str) -> str:
    """The error signature similar questions share: the cell, the exception type and the failing test."""
    return hashlib.sha256(f"{lesson_id}\x1f{cell_id}\x1f{exception}\x1f{test}".encode()).hexdigest()


@dataclass
class Draft:
    target: Target
    code: str
    context: str
    output: str
    traceback: str
    exception: str
    failing_tests: list[str]
    signature: str
    redacted_lines: int

    def title(self) -> str:
        lesson = self.target.lesson.title
        if self.failing_tests:
            return f"{self.exception or 'Failing test'} in {self.failing_tests[0]} ({lesson})"[:forum.MAX_TITLE]
        if self.exception:
            return f"{self.exception} in {lesson}"[:forum.MAX_TITLE]
        return f"Question about a cell of {lesson}"[:forum.MAX_TITLE]

    def body(self) -> str:
        """The opening post as JupyterLab prefills it (Markdown; the student edits it before posting)."""
        parts = [f"Lesson *{self.target.lesson.title}*, version {self.target.version.number}, "
                 f"cell `{self.target.cell_id}`."]
        if self.failing_tests:
            parts += ["", "Failing tests: " + ", ".join(f"**{name}**" for name in self.failing_tests)]
        for label, text, lang in (("Code", self.code, "python"), ("Output", self.output, "text"),
                                  ("Traceback", self.traceback, "text")):
            if text.strip():
                fence = "````" if "```" in text else "```"
                parts += ["", f"{label}:", "", f"{fence}{lang}", text.rstrip("\n"), fence]
        return "\n".join(parts)

    def as_dict(self) -> dict:
        return {"course": self.target.member.course.slug, "lesson": self.target.lesson.key,
                "lesson_title": self.target.lesson.title, "version": self.target.version.number,
                "cell_id": self.target.cell_id, "code": self.code, "context": self.context, "output": self.output,
                "traceback": self.traceback, "exception": self.exception, "failing_tests": self.failing_tests,
                "signature": self.signature, "redacted_lines": self.redacted_lines,
                "title": self.title(), "body": self.body()}


def draft(session: Session, user: User | None, slug: str, *, lesson, cell_id, version=None, code=None,
          context=None, output=None, traceback=None, exception=None) -> Draft:
    """What a question from this cell would attach, cleaned: JupyterLab prefills its dialog with it."""
    t = _target(session, user, slug, lesson, cell_id, version)
    redactor = redactor_for(t.version)
    code, n_code = redactor.clean(_field(code, "code"))
    context, n_context = redactor.clean(_field(context, "context"))
    output, n_out = redactor.clean(_field(output, "output"))
    traceback, n_tb = redactor.clean(_field(traceback, "traceback"))
    exc = _exception(exception, traceback)
    if exc and redactor.clean(exc)[1]:
        exc = ""
    failing = failing_public_tests(session, t, errored=bool(exc or traceback.strip()))
    own = _nbgrader(t.cell)
    titles = notebooks.exercise_titles(t.version.student_notebook)
    test = titles.get(own.get("grade_id"), "") if own.get("grade") and titles.get(own.get("grade_id")) in failing \
        else (failing[0] if failing else "")
    return Draft(t, code, context, output, traceback, exc, failing, signature(t.lesson.id, t.cell_id, exc, test),
                 n_code + n_context + n_out + n_tb)


def ask(session: Session, user: User | None, slug: str, *, title, body, kind="question", anonymous=None,
        private=None, lesson, cell_id, version=None, code=None, context=None, output=None, traceback=None,
        exception=None, limits: forum.Limits = forum.Limits()) -> tuple[ForumThread, ForumAttachment]:
    """A question anchored to the cell, with its cleaned attachment; title and body are cleaned too."""
    d = draft(session, user, slug, lesson=lesson, cell_id=cell_id, version=version, code=code, context=context,
              output=output, traceback=traceback, exception=exception)
    redactor = redactor_for(d.target.version)
    title, n_title = redactor.clean(forum.check_title(title))
    if n_title:
        title = f"Question about {d.target.lesson.title}"[:forum.MAX_TITLE]
    body, n_body = redactor.clean(forum.check_body(body))
    thread = forum.create_thread(session, user, slug, title=title, body=body, kind=kind, lesson=d.target.lesson.key,
                                 cell_id=d.target.cell_id, version=d.target.version.number, anonymous=anonymous,
                                 private=private, limits=limits)
    attachment = ForumAttachment(
        thread_id=thread.id, course_id=d.target.member.course.id, lesson_version_id=d.target.version.id,
        cell_id=d.target.cell_id, signature=d.signature, exception=d.exception,
        failing_tests=json.dumps(d.failing_tests), code=d.code, context=d.context, output=d.output,
        traceback=d.traceback,
        redacted_lines=d.redacted_lines + n_title + n_body, created_at=thread.created_at)
    session.add(attachment)
    session.flush()
    return thread, attachment


# ------------------------------------------------------------------ reading
def similar(session: Session, user: User | None, slug: str, *, signature_hex: str = "", lesson: str = "",
            q: str = "", limit: int = SIMILAR_LIMIT) -> list[dict]:
    """Threads the asker may read with the same error signature, those with an endorsed answer
    first, then accepted ones; then (``q``) threads of the lesson whose words match the title typed."""
    m = forum.member(session, user, slug)
    if signature_hex and not SIGNATURE.match(signature_hex):
        raise InvalidInput("signature must be the 64 hex digits a draft gave", field="signature")
    if not 1 <= limit <= 20:
        raise InvalidInput("limit must be 1 to 20", field="limit")
    found: list[dict] = []
    if signature_hex:
        endorsed = (select(func.count()).where(ForumPost.thread_id == ForumThread.id, ForumPost.endorsed.is_(True))
                    .correlate(ForumThread).scalar_subquery())
        stmt = (select(ForumThread, endorsed.label("endorsed"))
                .join(ForumAttachment, ForumAttachment.thread_id == ForumThread.id)
                .where(ForumAttachment.course_id == m.course.id, ForumAttachment.signature == signature_hex,
                       ForumThread.course_id == m.course.id))
        stmt = forum.visible(stmt, m)  # private and hidden threads only for their author and the staff
        rows = session.execute(stmt.order_by(endorsed.desc(), ForumThread.accepted_post_id.is_(None),
                                             ForumThread.last_activity_at.desc(), ForumThread.id.desc())
                               .limit(limit)).all()
        for thread, n_endorsed in rows:
            found.append(_summary(m, thread, same_error=True, endorsed=bool(n_endorsed)))
    if q.strip() and len(found) < limit:
        seen = {t["id"] for t in found}
        try:
            page = forum.list_threads(session, user, slug, q=q[:200], lesson=lesson or "", limit=limit)
        except InvalidInput:
            page = forum.list_threads(session, user, slug, q=q[:200], limit=limit)
        for t in page.threads:
            if t["id"] not in seen and len(found) < limit:
                found.append({"id": t["id"], "title": t["title"], "accepted": t["accepted"],
                              "staff_answered": t["staff_answered"], "replies": t["replies"],
                              "same_error": False, "endorsed": False,
                              "url": f"forum/threads/{t['id']}"})
    return found


def _summary(m: forum.Member, thread: ForumThread, *, same_error: bool, endorsed: bool) -> dict:
    return {"id": thread.id, "title": thread.title, "accepted": thread.accepted_post_id is not None,
            "staff_answered": thread.staff_answered, "replies": thread.reply_count, "same_error": same_error,
            "endorsed": endorsed, "url": f"forum/threads/{thread.id}"}


def attachment_summary(session: Session, thread_id: int) -> dict | None:
    """What the thread page shows of an attachment (the thread page has checked who may read it)."""
    a = session.get(ForumAttachment, thread_id)
    if a is None:
        return None
    version = session.get(LessonVersion, a.lesson_version_id) if a.lesson_version_id else None
    return {"failing_tests": json.loads(a.failing_tests or "[]"), "exception": a.exception,
            "cell_id": a.cell_id, "version": version.number if version else None,
            "redacted_lines": a.redacted_lines, "has_code": bool(a.code.strip() or a.context.strip())}


def attachment_for_staff(session: Session, user: User | None, thread_id: int) -> dict:
    """The attached cell for the course's staff to reproduce, as a notebook for their own JupyterLab."""
    view = forum.thread_view(session, user, thread_id, mark_read=False)  # members only; private stays private
    if not view["staff"]:
        raise Forbidden("only the course's staff can open a question's code in JupyterLab")
    a = session.get(ForumAttachment, thread_id)
    if a is None:
        raise NotFound(f"thread {thread_id} was not asked from a notebook cell")
    failing = json.loads(a.failing_tests or "[]")
    version = session.get(LessonVersion, a.lesson_version_id) if a.lesson_version_id else None
    intro = [f"# Question: {view['title']}", "",
             f"Asked from cell `{a.cell_id}` of *{view['lesson_title'] or view['lesson']}*"
             + (f", version {version.number}" if version else "") + f", in {view['course_title']}."]
    if failing:
        intro += ["", "Failing tests: " + ", ".join(failing)]
    intro += ["", "The code below is the student's, as attached: the cells above the question's cell, then "
                  "that cell (hidden tests and solutions were removed)."]
    outputs = []
    if a.output.strip():
        outputs.append({"output_type": "stream", "name": "stdout", "text": a.output})
    if a.traceback.strip():
        outputs.append({"output_type": "stream", "name": "stderr", "text": a.traceback})
    notebook = {"nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                             "lms": {"question": thread_id, "course": view["course"], "lesson": view["lesson"],
                                     "version": version.number if version else None}},
                "cells": [{"cell_type": "markdown", "id": "question", "metadata": {}, "source": "\n".join(intro)}]
                + ([{"cell_type": "code", "id": "above", "metadata": {}, "execution_count": None,
                     "source": a.context, "outputs": []}] if a.context.strip() else [])
                + [{"cell_type": "code", "id": "attached", "metadata": {}, "execution_count": None,
                    "source": a.code, "outputs": outputs}]}
    return {"thread": thread_id, "course": view["course"], "lesson": view["lesson"],
            "version": version.number if version else None, "cell_id": a.cell_id, "code": a.code,
            "context": a.context,
            "output": a.output, "traceback": a.traceback, "exception": a.exception, "failing_tests": failing,
            "notebook": json.dumps(notebook, indent=1)}
