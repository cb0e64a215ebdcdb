"""Courses authored on the web: create and edit a course, lesson drafts, publish and unpublish,
zip import/export and pulls from a git URL.

The instructor edits *drafts* (``lesson_drafts``: a lesson's title, place, preview flag, nbgrader
source and policy); students see only what was published. Publish hands the drafts to
``course_import.publish_lessons``, which generates the student notebooks with nbgrader's own
preprocessors and makes a new ``LessonVersion`` of every changed source, as ``lms course import``
does. A zip or a git repository holds a course folder (course.toml + notebooks + challenge files)
and goes through ``course_import.load_course_folder`` and ``import_course``, the CLI's own path.

Course attributes (title, price...) and lesson policies are settings, not content: they change at
once. Every change is in the audit log, in the change's transaction.
"""
from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import Conflict, CourseFormatError, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from ..models import Course, Lesson, User
from ..models.authoring import LessonDraft
from ..models.base import utcnow
from ..models.course import LEVELS, SLUG
from ..models.learning import CourseLearningSettings
from . import audit, authoring as checks, course_import, covers, notebooks, policies
from .challenges import ChallengeSpec, load_challenge_text, sync_lesson_challenges
from .course_import import CURRENCIES

MAX_TITLE = 200
MAX_SUBTITLE = 300
MAX_DESCRIPTION = 20_000
MAX_CATEGORY = 100
MAX_PRICE_CENTS = 100_000_000  # a million in currency units
MAX_NOTEBOOK_BYTES = 5 * 1024 * 1024
MAX_LESSONS = 200
MAX_ZIP_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # what a zip or a clone may unpack to (zip bombs)
MAX_FILES = 2000
GIT_TIMEOUT_SECONDS = 60
RESERVED_SLUGS = {"new"}  # teach/courses/new is the form
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
FIELD_LABELS = {"slug": "Address", "title": "Title", "subtitle": "Subtitle", "description": "Description",
                "category": "Category", "level": "Level", "language": "Language", "price_cents": "Price",
                "currency": "Currency"}


# -- access ----------------------------------------------------------------------------------------
def course_for_teacher(session: Session, user: User, slug: str) -> Course:
    """The course ``slug`` if ``user`` teaches it (its instructor, or an admin)."""
    permissions.require_instructor(user, "only instructors can edit courses")
    course = session.scalars(select(Course).where(Course.slug == slug)).one_or_none() if SLUG.match(slug or "") else None
    if course is None:
        raise NotFound("no such course")
    permissions.require_teacher(user, course, "only the course's instructor or an admin can edit this course")
    return course


# -- course attributes ---------------------------------------------------------------------------
def _text(data: dict, key: str, limit: int, *, required: bool) -> str:
    value = data[key]
    label = FIELD_LABELS[key]
    if not isinstance(value, str):
        raise InvalidInput(f"{label} must be text", field=key)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{label} is required", field=key)
    if len(value) > limit:
        raise InvalidInput(f"{label} is at most {limit} characters", field=key)
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value) or (key != "description" and ("\n" in value or "\r" in value)):
        raise InvalidInput(f"{label} contains control characters or line breaks", field=key)
    return value


def validate_fields(data, *, creating: bool) -> tuple[str | None, dict]:
    """(slug, attributes) from a JSON object or a form: every field checked, unknown ones refused.
    Creating needs slug, title, category and level; an edit sends any subset (no slug)."""
    if not isinstance(data, dict):
        raise InvalidInput("send a JSON object of course fields")
    allowed = set(FIELD_LABELS) if creating else set(FIELD_LABELS) - {"slug"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        what = "the address (slug) of a course cannot change" if unknown == ["slug"] else \
            f"unknown field(s): {', '.join(k[:40] for k in unknown[:10])}"
        raise InvalidInput(what)
    if creating:
        missing = [FIELD_LABELS[k] for k in ("slug", "title", "category", "level") if k not in data]
        if missing:
            raise InvalidInput(f"missing: {', '.join(missing)}")
    elif not data:
        raise InvalidInput("nothing to change: send at least one course field")
    slug = None
    if creating:
        slug = data["slug"]
        if not isinstance(slug, str) or not SLUG.match(slug) or slug in RESERVED_SLUGS:
            raise InvalidInput("Address must be 1 to 100 lowercase letters, digits and dashes, starting with a "
                               "letter or digit (e.g. python-basics)", field="slug")
    fields: dict = {}
    for key, limit, required in (("title", MAX_TITLE, True), ("subtitle", MAX_SUBTITLE, False),
                                 ("description", MAX_DESCRIPTION, False), ("category", MAX_CATEGORY, True)):
        if key in data:
            fields[key] = _text(data, key, limit, required=required)
    if "level" in data:
        if data["level"] not in LEVELS:
            raise InvalidInput(f"Level must be one of {', '.join(LEVELS)}", field="level")
        fields["level"] = data["level"]
    if "language" in data:
        lang = data["language"]
        if not isinstance(lang, str) or not LANGUAGE.match(lang):
            raise InvalidInput("Language must be a language code such as en, fr or pt-BR", field="language")
        fields["language"] = lang
    if "currency" in data:
        cur = data["currency"]
        if not isinstance(cur, str) or cur.lower() not in CURRENCIES:
            raise InvalidInput(f"Currency must be one of {', '.join(sorted(CURRENCIES))}", field="currency")
        fields["currency"] = cur.lower()
    if "price_cents" in data:
        price = data["price_cents"]
        if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_PRICE_CENTS:
            raise InvalidInput(f"Price must be a whole number of cents from 0 to {MAX_PRICE_CENTS}",
                               field="price_cents")
        fields["price_cents"] = price
    return slug, fields


def _course_view(course: Course) -> dict:
    return {key: getattr(course, key) for key in ("slug", *course_import.COURSE_FIELDS, "published")}


def create_course(session: Session, user: User, data) -> Course:
    permissions.require_instructor(user, "only instructors can create courses")
    if user.instructor is None:
        raise Forbidden("your account has no instructor profile yet: sign in again")
    slug, fields = validate_fields(data, creating=True)
    fields = {"subtitle": "", "description": "", "language": "en", "price_cents": 0, "currency": "usd", **fields}
    try:
        course = course_import.create_course(session, slug, user.instructor, fields)
    except IntegrityError:  # the same slug created at the same moment
        raise Conflict(f"a course with the address {slug!r} already exists: choose another") from None
    audit.record(session, user, "course.create", "course", course.slug, after=_course_view(course),
                 summary=f"created the draft course {course.title!r}")
    return course


def update_course(session: Session, user: User, slug: str, data) -> Course:
    course = course_for_teacher(session, user, slug)
    _, fields = validate_fields(data, creating=False)
    before = _course_view(course)
    course_import.update_course(session, course, fields)
    old, new = audit.changes(before, _course_view(course))
    if new:
        audit.record(session, user, "course.update", "course", course.slug, before=old, after=new,
                     summary=f"edited {', '.join(FIELD_LABELS[k].lower() for k in new)} of {course.title!r}")
    return course


def upload_cover(session: Session, store, user: User, slug: str, data: bytes):
    """A new cover (checked, cropped and resized by ``covers``), recorded in the audit log."""
    course = course_for_teacher(session, user, slug)
    old = course.cover.version if course.cover is not None else None
    row = covers.upload_cover(session, store, user, slug, data)
    audit.record(session, user, "course.cover", "course", course.slug, before={"cover": old},
                 after={"cover": row.version}, summary=f"uploaded a new cover for {course.title!r}")
    return row


def completion_threshold(session: Session, course: Course) -> float | None:
    row = session.get(CourseLearningSettings, course.id)
    return row.pass_threshold if row is not None else None


def set_completion_threshold(session: Session, user: User, slug: str, raw) -> Course:
    """The share (0-1] of a graded part's points that counts as passed; None or "" is the default."""
    course = course_for_teacher(session, user, slug)
    if raw in (None, ""):
        value = None
    else:
        try:
            value = float(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        if value is None or not 0 < value <= 1:
            raise InvalidInput("Completion threshold must be a share from 0.01 to 1 (e.g. 0.7 for 70 %)",
                               field="pass_threshold")
    before = completion_threshold(session, course)
    if before != value:
        course_import.set_completion_threshold(session, course, value)
        audit.record(session, user, "course.update", "course", course.slug, before={"pass_threshold": before},
                     after={"pass_threshold": value}, summary=f"changed the completion threshold of {course.title!r}")
    return course


# -- lesson drafts ---------------------------------------------------------------------------------
def drafts_of(session: Session, course: Course) -> list[LessonDraft]:
    """The course's drafts, in order; a course imported before the web editor existed gets
    drafts from its published lessons first."""
    drafts = list(session.scalars(select(LessonDraft).where(LessonDraft.course_id == course.id)
                                  .order_by(LessonDraft.position, LessonDraft.id)))
    if not course.lessons:
        return drafts
    if not drafts:
        return _reset_drafts(session, course)
    return _catch_up(session, course, drafts)


def _catch_up(session: Session, course: Course, drafts: list[LessonDraft]) -> list[LessonDraft]:
    """Drafts follow what was published around them (``lms course import``): a lesson published
    without a draft gets one, and a draft nobody edited since an older version takes the newest
    source, so publishing it later cannot bring the old notebook back."""
    by_key = {d.key: d for d in drafts}
    changed = False
    for lesson in course.lessons:
        if not lesson.versions:
            continue
        latest = lesson.versions[-1]
        draft = by_key.get(lesson.key)
        if draft is None:
            draft = LessonDraft(course_id=course.id, key=lesson.key, title=lesson.title, free_preview=lesson.free_preview,
                                position=max((d.position for d in drafts), default=-1) + 1,
                                source_notebook=latest.source_notebook, policy="", updated_at=utcnow())
            session.add(draft)
            drafts.append(draft)
            changed = True
            continue
        digest = notebooks.sha256(draft.source_notebook)
        if digest != latest.source_sha256 and _aware(draft.updated_at) < _aware(latest.created_at) \
                and digest in {v.source_sha256 for v in lesson.versions[:-1]}:
            draft.source_notebook, draft.updated_at = latest.source_notebook, utcnow()
            changed = True
    if changed:
        session.flush()
    return drafts


def _aware(moment):
    # SQLite hands back naive datetimes; everything stored is UTC
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _reset_drafts(session: Session, course: Course) -> list[LessonDraft]:
    for old in session.scalars(select(LessonDraft).where(LessonDraft.course_id == course.id)):
        session.delete(old)
    session.flush()
    drafts = []
    for lesson in course.lessons:
        if not lesson.versions:
            continue
        policy = policies.view(policies.for_lesson(session, lesson.id))
        draft = LessonDraft(course_id=course.id, key=lesson.key, title=lesson.title, position=lesson.position,
                            free_preview=lesson.free_preview, source_notebook=lesson.versions[-1].source_notebook,
                            policy=json.dumps(_policy_keys(policy)) if policy else "", updated_at=utcnow())
        session.add(draft)
        drafts.append(draft)
    session.flush()
    return drafts


def _policy_keys(view: dict) -> dict:
    """policies.view() as course.toml keys (the ones a lesson sets)."""
    keys = {k: v for k, v in view.items() if v is not None}
    if keys.get("late_policy") != "percent_per_day":
        keys.pop("late_percent_per_day", None)
    if not keys.get("cooldown_seconds"):
        keys.pop("cooldown_seconds", None)
    return keys


def _draft(session: Session, course: Course, key: str) -> LessonDraft:
    draft = next((d for d in drafts_of(session, course) if d.key == key), None)
    if draft is None:
        raise NotFound("this course has no such lesson")
    return draft


@dataclass
class LessonRow:
    draft: LessonDraft
    lesson: Lesson | None
    state: str  # "new" (never published), "changed" (draft differs), "published"
    version: int | None
    policy: dict | None


def lesson_rows(session: Session, course: Course) -> list[LessonRow]:
    published = {lesson.key: lesson for lesson in course.lessons}
    rows = []
    for d in drafts_of(session, course):
        lesson = published.get(d.key)
        latest = lesson.versions[-1] if lesson is not None and lesson.versions else None
        if latest is None:
            state = "new"
        elif (latest.source_sha256 != notebooks.sha256(d.source_notebook) or lesson.title != d.title
              or lesson.free_preview != d.free_preview or lesson.position != d.position):
            state = "changed"
        else:
            state = "published"
        rows.append(LessonRow(d, lesson, state, latest.number if latest else None,
                              json.loads(d.policy) if d.policy else None))
    return rows


def has_unpublished_changes(session: Session, course: Course) -> bool:
    return not course.published or any(r.state != "published" for r in lesson_rows(session, course))


def _cell_label(nb: dict, index: int) -> str:
    cells = nb.get("cells") if isinstance(nb, dict) else None
    cell = cells[index] if isinstance(cells, list) and 0 <= index < len(cells) else None
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return f"cell {index + 1}" + (f" ({gid})" if isinstance(gid, str) and gid else "")


def check_source_notebook(raw, name: str) -> str:
    """An uploaded nbgrader source notebook (bytes, text or a parsed JSON object) as the normalised
    text ``course_import`` stores; the error names the cell at fault."""
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > MAX_NOTEBOOK_BYTES:
            raise PayloadTooLarge(f"a notebook is at most {MAX_NOTEBOOK_BYTES >> 20} MB")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{name} is not a notebook: it is not UTF-8 text") from None
    if isinstance(raw, str):
        if len(raw) > MAX_NOTEBOOK_BYTES:
            raise PayloadTooLarge(f"a notebook is at most {MAX_NOTEBOOK_BYTES >> 20} MB")
        try:
            nb = json.loads(raw)
        except ValueError:
            raise InvalidInput(f"{name} is not a notebook: it is not JSON (save it from Jupyter as .ipynb)") from None
    else:
        nb = raw
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidInput(f"{name} is not a notebook: a notebook is a JSON object with a list of cells")
    if len(json.dumps(nb)) > MAX_NOTEBOOK_BYTES:
        raise PayloadTooLarge(f"a notebook is at most {MAX_NOTEBOOK_BYTES >> 20} MB")
    if nb.get("nbformat") != 4:
        raise InvalidInput(f"{name} is not a version 4 notebook (nbformat 4); open and save it in JupyterLab")
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise InvalidInput(f"{name}: {_cell_label(nb, index)} is not a code, markdown or raw cell", cell=index + 1)
        meta = cell.get("metadata", {})
        if not isinstance(meta, dict) or ("nbgrader" in meta and not isinstance(meta["nbgrader"], dict)):
            raise InvalidInput(f"{name}: {_cell_label(nb, index)}: its nbgrader metadata must be an object",
                               cell=index + 1)
    try:
        node = nbformat.from_dict(nb)
        nbformat.validate(node)
    except nbformat.ValidationError as exc:
        path = list(getattr(exc, "absolute_path", []) or [])
        where = _cell_label(nb, path[1]) if len(path) > 1 and path[0] == "cells" and isinstance(path[1], int) else "the notebook"
        raise InvalidInput(f"{name}: {where} is not valid notebook JSON ({str(exc.message)[:200]})",
                           **({"cell": path[1] + 1} if where != "the notebook" else {})) from None
    except Exception:  # nbformat raises several unrelated types for odd input
        raise InvalidInput(f"{name} is not a valid Jupyter notebook") from None
    try:
        source_nb = notebooks.read_notebook(json.dumps(nb), name)
        notebooks.student_version(source_nb, name)
    except CourseFormatError as exc:
        match = re.search(r"cell (\d+)", exc.message)
        message = re.sub(r"cell (\d+)", lambda m: _cell_label(nb, int(m.group(1))), exc.message, count=1)
        raise InvalidInput(message, **({"cell": int(match.group(1)) + 1} if match else {})) from None
    return notebooks.dumps(source_nb)


def _title_from(nb_text: str, fallback: str) -> str:
    for cell in json.loads(nb_text).get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            for line in src.splitlines():
                if line.startswith("#"):
                    title = line.lstrip("#").strip()
                    if title:
                        return title[:MAX_TITLE]
    return fallback


def put_lesson_source(session: Session, user: User, slug: str, key: str, raw, *, title: str | None = None) -> tuple[LessonDraft, bool]:
    """The lesson's new draft source (a new lesson when ``key`` is new); (draft, created)."""
    course = course_for_teacher(session, user, slug)
    if not isinstance(key, str) or not SLUG.match(key):
        raise InvalidInput("a lesson id is 1 to 100 lowercase letters, digits and dashes (e.g. 01-intro)")
    if title is not None:
        title = _lesson_title(title)
    text = check_source_notebook(raw, f"{key}.ipynb")
    drafts = drafts_of(session, course)
    draft = next((d for d in drafts if d.key == key), None)
    created = draft is None
    if created:
        if len(drafts) >= MAX_LESSONS:
            raise InvalidInput(f"a course has at most {MAX_LESSONS} lessons")
        draft = LessonDraft(course_id=course.id, key=key, title=title or _title_from(text, key),
                            position=max((d.position for d in drafts), default=-1) + 1, free_preview=False,
                            source_notebook=text, policy="")
        session.add(draft)
    else:
        draft.source_notebook = text
        if title:
            draft.title = title
    draft.updated_at = utcnow()
    session.flush()
    audit.record(session, user, "lesson.source_upload", "lesson", f"{course.slug}/{key}",
                 after={"sha256": notebooks.sha256(text), "title": draft.title, "new_lesson": created},
                 summary=f"uploaded a source notebook for {draft.title!r} of {course.title!r} (draft)")
    return draft, created


def _lesson_title(raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("a lesson needs a title")
    if len(raw.strip()) > MAX_TITLE or any(ord(c) < 32 for c in raw):
        raise InvalidInput(f"a lesson title is one line of at most {MAX_TITLE} characters")
    return raw.strip()


def update_lesson(session: Session, user: User, slug: str, key: str, *, title, free_preview) -> LessonDraft:
    course = course_for_teacher(session, user, slug)
    draft = _draft(session, course, key)
    before = {"title": draft.title, "free_preview": draft.free_preview}
    if not isinstance(free_preview, bool):
        raise InvalidInput("free preview is yes or no")
    draft.title, draft.free_preview = _lesson_title(title), free_preview
    old, new = audit.changes(before, {"title": draft.title, "free_preview": draft.free_preview})
    if new:
        draft.updated_at = utcnow()
        audit.record(session, user, "lesson.update", "lesson", f"{course.slug}/{key}", before=old, after=new,
                     summary=f"edited the lesson {draft.title!r} of {course.title!r} (draft)")
    session.flush()
    return draft


def move_lesson(session: Session, user: User, slug: str, key: str, direction: str) -> None:
    course = course_for_teacher(session, user, slug)
    if direction not in ("up", "down"):
        raise InvalidInput("move a lesson up or down")
    drafts = drafts_of(session, course)
    index = next((i for i, d in enumerate(drafts) if d.key == key), None)
    if index is None:
        raise NotFound("this course has no such lesson")
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(drafts):
        return
    drafts[index], drafts[other] = drafts[other], drafts[index]
    for position, d in enumerate(drafts):
        d.position = position
    session.flush()
    audit.record(session, user, "lesson.reorder", "course", course.slug, after={"order": [d.key for d in drafts]},
                 summary=f"moved {drafts[other].title!r} {direction} in {course.title!r} (draft)")


def remove_lesson(session: Session, user: User, slug: str, key: str) -> None:
    """Drops a lesson that was never published; a published one holds students' work and stays."""
    course = course_for_teacher(session, user, slug)
    draft = _draft(session, course, key)
    if any(lesson.key == key for lesson in course.lessons):
        raise Conflict("a published lesson cannot be removed: students may have work in it")
    session.delete(draft)
    session.flush()
    for position, d in enumerate(d for d in drafts_of(session, course) if d.key != key):
        d.position = position
    session.flush()
    audit.record(session, user, "lesson.remove", "lesson", f"{course.slug}/{key}", before={"title": draft.title},
                 summary=f"removed the unpublished lesson {draft.title!r} of {course.title!r}")


def set_policy(session: Session, user: User, slug: str, key: str, raw: dict) -> dict | None:
    """The lesson's deadline, late policy, attempts and cooldown (course.toml's keys); an empty
    ``raw`` removes it. Takes effect at once on a published lesson."""
    course = course_for_teacher(session, user, slug)
    draft = _draft(session, course, key)
    if not isinstance(raw, dict) or set(raw) - policies.POLICY_KEYS:
        raise InvalidInput(f"a policy has only {', '.join(sorted(policies.POLICY_KEYS))}")
    raw = {k: v for k, v in raw.items() if v not in (None, "")}
    try:
        spec = policies.parse_policy(raw, draft.title)
    except CourseFormatError as exc:
        raise InvalidInput(exc.message) from None
    stored = _policy_keys(_spec_view(spec)) if spec is not None else None
    before = json.loads(draft.policy) if draft.policy else None
    draft.policy = json.dumps(stored) if stored else ""
    lesson = next((ls for ls in course.lessons if ls.key == key), None)
    if lesson is not None:
        policies.apply(session, lesson, spec)
    session.flush()
    if before != stored:
        audit.record(session, user, "lesson.policy", "lesson", f"{course.slug}/{key}", before=before, after=stored,
                     summary=f"changed the policy of {draft.title!r} in {course.title!r}")
    return stored


def _spec_view(spec: policies.PolicySpec) -> dict:
    return {"deadline": spec.deadline.isoformat() if spec.deadline else None, "late_policy": spec.late_policy,
            "late_percent_per_day": spec.late_percent_per_day, "max_attempts": spec.max_attempts,
            "cooldown_seconds": spec.cooldown_seconds}


# -- publishing ------------------------------------------------------------------------------------
@dataclass
class SentChallenge:
    """A challenge file sent with a publish (JupyterLab's Teach panel), checked for format."""
    lesson: str
    file: str  # its path in the instructor's course folder: what messages name
    text: str
    spec: ChallengeSpec
    state: str  # "new", "changed" or "unchanged" against the stored challenge of the same id


def _stored_view(ch) -> tuple:
    return (ch.title, ch.statement, json.loads(ch.starter_code or "{}"), ch.cpu_time_limit, ch.memory_limit_kb,
            [(t.stdin, t.expected_output, t.hidden) for t in ch.tests])


def _spec_challenge_view(spec: ChallengeSpec) -> tuple:
    return (spec.title, spec.statement, spec.starter, spec.cpu_time, spec.memory_kb,
            [(t.stdin, t.expected, t.hidden) for t in spec.tests])


def parse_publish_challenges(session: Session, user: User, slug: str, raw, *,
                             dry_run: bool = False) -> dict[str, list[SentChallenge]]:
    """``{"<lesson id>": {"<file>": "<challenge TOML>"}}`` of a publish, each file read as ``lms course
    import`` reads it; the error names the file. A lesson named here gets exactly these challenges
    (updated in place by id) plus the ones it already has that are not named (students' submissions
    stay); a lesson not named keeps its challenges as they are. A ``dry_run`` (checks only, before
    the lessons' sources are sent) accepts lesson ids the course does not have yet."""
    course = course_for_teacher(session, user, slug)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput('challenges must be {"<lesson id>": {"<file>": "<challenge TOML>"}}')
    drafts = {d.key for d in drafts_of(session, course)}
    stored = {lesson.key: {ch.key: ch for ch in lesson.challenges} for lesson in course.lessons}
    result: dict[str, list[SentChallenge]] = {}
    total = 0
    for lesson_key, files in raw.items():
        if not isinstance(lesson_key, str) or not (lesson_key in drafts or dry_run and SLUG.match(lesson_key)):
            raise InvalidInput(f"challenges are sent for {str(lesson_key)[:100]!r}, which is not a lesson of this "
                               "course: send its source first")
        files = checks._files(files, f"challenges of {lesson_key}", checks.MAX_CHALLENGES)
        total += len(files)
        if total > checks.MAX_CHALLENGES:
            raise InvalidInput(f"a publish sends at most {checks.MAX_CHALLENGES} challenges")
        sent = []
        for name, text in files.items():
            try:
                spec = load_challenge_text(text, name)
            except CourseFormatError as exc:
                raise InvalidInput(exc.message, challenge=name) from None
            if not checks.offered_languages(spec):
                raise InvalidInput(f"{name}: the challenge offers no language: add a [starter] or [solution] program",
                                   challenge=name)
            if any(s.spec.key == spec.key for s in sent):
                raise InvalidInput(f"{name}: lesson {lesson_key} has two challenges with the id {spec.key!r}",
                                   challenge=name)
            old = stored.get(lesson_key, {}).get(spec.key)
            state = "new" if old is None else \
                "unchanged" if _stored_view(old) == _spec_challenge_view(spec) else "changed"
            sent.append(SentChallenge(lesson_key, name, text, spec, state))
        result[lesson_key] = sent
    return result


def to_check(sent: dict[str, list[SentChallenge]]) -> dict[str, str]:
    """The files whose reference solution must pass before students get them: the new and changed
    ones (an unchanged challenge, e.g. from Get course source, which holds no solution, is not rerun)."""
    return {c.file: c.text for cs in sent.values() for c in cs if c.state != "unchanged"}


def refuse_failing(reports: list[dict]) -> None:
    """``authoring.validate_challenges``'s report: the first failing challenge as a 400 naming it."""
    for report in reports:
        if report["ok"]:
            continue
        name = report["file"]
        if report.get("error"):
            raise InvalidInput(f"{name}: {report['error']}", challenge=name)
        for row in report["languages"]:
            if row["ok"]:
                continue
            problem = row["message"] or "its reference solution fails"
            if row["failing"]:
                first = row["failing"][0]
                kind = "hidden test" if first["hidden"] else "test"
                problem = (f"the reference solution in {row['name']} fails {len(row['failing'])} test(s); {kind} "
                           f"{first['test']} ({first['status']}): expected {first['expected'][:200]!r}, "
                           f"got {first['stdout'][:200]!r}")
            elif not row["message"].startswith("no reference"):
                problem = f"the reference solution in {row['name']} {row['message'][:1000]}"
            raise InvalidInput(f"{name}: {problem}", challenge=name, language=row["language"])
        raise InvalidInput(f"{name}: the challenge did not pass its checks", challenge=name)


def _apply_challenges(course: Course, sent: dict[str, list[SentChallenge]]) -> list[dict]:
    lessons = {lesson.key: lesson for lesson in course.lessons}
    rows = []
    for lesson_key, items in sent.items():
        lesson = lessons[lesson_key]
        existing = list(lesson.challenges)
        named = {c.spec.key for c in items}
        synced = sync_lesson_challenges(lesson, [c.spec for c in items], existing)
        kept = [ch for ch in existing if ch.key not in named]  # students may have submissions in them
        for position, ch in enumerate(kept, len(synced)):
            ch.position = position
        lesson.challenges = synced + kept
        rows += [{"lesson": lesson_key, "challenge": c.spec.key, "file": c.file, "state": c.state} for c in items]
    return rows


def publish(session: Session, user: User, slug: str, challenges: dict[str, list[SentChallenge]] | None = None) -> dict:
    """Publishes the drafts: changed sources become new versions; the course shows in the catalog.
    ``challenges`` (``parse_publish_challenges``, their reference solutions already run) are
    created or updated in the same transaction."""
    course = course_for_teacher(session, user, slug)
    drafts = drafts_of(session, course)
    specs = []
    for d in drafts:
        try:
            policy = policies.parse_policy(json.loads(d.policy), d.title) if d.policy else None
        except CourseFormatError as exc:
            raise InvalidInput(exc.message) from None
        specs.append(course_import.DraftLesson(d.key, d.title, d.free_preview, d.source_notebook, policy))
    was_published = course.published
    try:
        made = course_import.publish_lessons(session, course, specs)
    except CourseFormatError as exc:
        raise InvalidInput(exc.message) from None
    except IntegrityError:  # the same version number from a publish running at the same time
        raise Conflict("the course was being published at the same moment: reload and publish again") from None
    for d, lesson in zip(drafts, course.lessons):
        d.position = lesson.position
    challenge_rows = _apply_challenges(course, challenges or {})
    session.flush()
    changed = [f"{r['lesson']}/{r['challenge']}" for r in challenge_rows if r["state"] != "unchanged"]
    audit.record(session, user, "course.publish", "course", course.slug,
                 before={"published": was_published},
                 after={"published": True, "new_versions": {key: number for key, number in made},
                        **({"challenges": changed} if changed else {})},
                 summary=f"published {course.title!r}" + (f" with {len(made)} new lesson version(s)" if made else "")
                 + (f" and {len(changed)} new or changed challenge(s)" if changed else ""))
    return {"slug": course.slug, "published": True, "lessons": len(course.lessons),
            "new_versions": [{"lesson": key, "version": number} for key, number in made],
            "challenges": challenge_rows}


def unpublish(session: Session, user: User, slug: str) -> Course:
    """Hides the course from the catalog and new buyers; enrolled students keep their access."""
    course = course_for_teacher(session, user, slug)
    if course.published:
        course_import.set_published(session, course, False)
        audit.record(session, user, "course.unpublish", "course", course.slug, before={"published": True},
                     after={"published": False}, summary=f"unpublished {course.title!r}")
    return course


# -- zip export and import -------------------------------------------------------------------------
def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def export_zip(session: Session, user: User, slug: str) -> bytes:
    """The course as a folder in a zip: course.toml, each lesson's draft source, its challenges."""
    course = course_for_teacher(session, user, slug)
    lines = [f"{k} = {_toml_value(getattr(course, k))}" for k in ("slug", *course_import.COURSE_FIELDS)]
    lines.append(f"instructor = {_toml_value(course.instructor.user.hub_name if course.instructor else user.hub_name)}")
    lines.append(f"published = {_toml_value(course.published)}")
    threshold = completion_threshold(session, course)
    if threshold is not None:
        lines.append(f"pass_threshold = {threshold!r}")
    files: dict[str, str] = {}
    lessons = {lesson.key: lesson for lesson in course.lessons}
    for d in drafts_of(session, course):
        lines += ["", "[[lessons]]", f"id = {_toml_value(d.key)}", f"title = {_toml_value(d.title)}",
                  f"notebook = \"lessons/{d.key}.ipynb\"", f"free_preview = {_toml_value(d.free_preview)}"]
        for k, v in (json.loads(d.policy) if d.policy else {}).items():
            lines.append(f"{k} = {_toml_value(v)}")
        files[f"lessons/{d.key}.ipynb"] = d.source_notebook
        lesson = lessons.get(d.key)
        challenge_paths = []
        for ch in (lesson.challenges if lesson is not None else []):
            path = f"challenges/{d.key}/{ch.key}.toml"
            challenge_paths.append(path)
            files[path] = _challenge_toml(ch)
        if challenge_paths:
            lines.append(f"challenges = {_toml_value(challenge_paths)}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{course.slug}/course.toml", "\n".join(lines) + "\n")
        for path, text in files.items():
            zf.writestr(f"{course.slug}/{path}", text)
    return buf.getvalue()


def _challenge_toml(ch) -> str:
    lines = [f"id = {_toml_value(ch.key)}", f"title = {_toml_value(ch.title)}",
             f"statement = {_toml_value(ch.statement)}"]
    starter = json.loads(ch.starter_code or "{}")
    if starter:
        lines.append(f"starter = {_toml_value(starter)}")
    limits = {k: v for k, v in (("cpu_time", ch.cpu_time_limit), ("memory_kb", ch.memory_limit_kb)) if v is not None}
    if limits:
        lines.append(f"limits = {_toml_value(limits)}")
    for t in ch.tests:
        lines += ["", "[[tests]]", f"stdin = {_toml_value(t.stdin)}", f"expected = {_toml_value(t.expected_output)}",
                  f"hidden = {_toml_value(t.hidden)}"]
    return "\n".join(lines) + "\n"


def _safe_member(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return bool(name) and not name.startswith(("/", "\\")) and ":" not in parts[0] and ".." not in parts \
        and "\x00" not in name


def unpack_zip(data: bytes, dest: Path) -> None:
    """Unpacks an uploaded course zip into ``dest``: refuses path traversal, links, special files
    and more than MAX_UNPACKED_BYTES once unpacked (counted while unpacking, not from the headers)."""
    if len(data) > MAX_ZIP_BYTES:
        raise PayloadTooLarge(f"a course zip is at most {MAX_ZIP_BYTES >> 20} MB")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvalidInput("this file is not a zip archive") from None
    if len(members) > MAX_FILES:
        raise InvalidInput(f"a course zip holds at most {MAX_FILES} files")
    total = 0
    for info in members:
        if not _safe_member(info.filename):
            raise InvalidInput(f"the zip holds a file outside its folder ({info.filename[:100]!r})")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            raise InvalidInput(f"the zip holds a link or special file ({info.filename[:100]!r}): only plain files")
        if info.flag_bits & 0x1:
            raise InvalidInput("the zip is encrypted")
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise PayloadTooLarge(f"the zip unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB")
    written = 0
    for info in members:
        target = dest / info.filename.replace("\\", "/")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 16):
                    written += len(chunk)
                    if written > MAX_UNPACKED_BYTES:  # the headers' sizes can lie
                        raise PayloadTooLarge(f"the zip unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB")
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError):
            raise InvalidInput(f"the zip is damaged ({info.filename[:100]!r} cannot be read)") from None


def _course_folder(root: Path) -> Path:
    if (root / "course.toml").is_file():
        return root
    subfolders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subfolders) == 1 and (subfolders[0] / "course.toml").is_file():
        return subfolders[0]
    raise InvalidInput("no course.toml found: the zip or repository needs course.toml at its top "
                       "(or in its one folder)")


def import_folder(session: Session, user: User, course: Course, folder: Path, *, store, source: str) -> dict:
    """A course folder replaces the course's lessons through ``lms course import``'s own code: every
    changed notebook becomes a new version. It must be this course and keep every published lesson."""
    root = str(folder)
    try:
        spec = course_import.load_course_folder(folder)
    except CourseFormatError as exc:  # messages name paths in our temporary folder: say them relative
        raise InvalidInput(exc.message.replace(root + os.sep, "").replace(root, "the course folder")) from None
    if spec.slug != course.slug:
        raise InvalidInput(f"this course.toml is for the course {spec.slug!r}, not {course.slug!r}: "
                           f"set slug = \"{course.slug}\" to import it here")
    missing = sorted({lesson.key for lesson in course.lessons} - {ls.key for ls in spec.lessons})
    if missing:
        raise InvalidInput("the import leaves out published lesson(s) " + ", ".join(missing) +
                           ": students may have work in them, so keep them in course.toml")
    spec.published = course.published  # publishing is its own step
    before = {ls.key: (ls.versions[-1].number if ls.versions else 0) for ls in course.lessons}
    fields_before = _course_view(course)
    try:
        course_import.import_course(session, spec, store=store, instructor=course.instructor)
    except CourseFormatError as exc:
        raise InvalidInput(exc.message.replace(root + os.sep, "")) from None
    session.flush()
    session.refresh(course)
    changed = [ls.key for ls in course.lessons if ls.versions and ls.versions[-1].number != before.get(ls.key, 0)]
    _reset_drafts(session, course)
    old, new = audit.changes(fields_before, _course_view(course))
    audit.record(session, user, "course.import", "course", course.slug, before=old,
                 after={**new, "source": source, "lessons": [ls.key for ls in course.lessons], "new_versions": changed},
                 summary=f"imported {course.title!r} from {source} ({len(changed)} new lesson version(s))")
    return {"lessons": len(course.lessons), "new_versions": changed}


def import_zip(session: Session, user: User, slug: str, data: bytes, *, store) -> dict:
    course = course_for_teacher(session, user, slug)
    with tempfile.TemporaryDirectory(prefix="lms-zip-") as tmp:
        unpack_zip(data, Path(tmp))
        return import_folder(session, user, course, _course_folder(Path(tmp)), store=store, source="a zip file")


# -- git -----------------------------------------------------------------------------------------
def check_git_url(url, *, allow_local: bool = False) -> tuple[str, str, int, list[str]]:
    """(url, host, port, addresses) of a repository the LMS may clone: https:// only (http:// too
    with ``allow_local``), no credentials, a host that resolves to public addresses only (any
    with ``allow_local``)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("enter the https:// address of a git repository")
    url = url.strip()
    if len(url) > 500 or any(ord(c) <= 32 for c in url):
        raise InvalidInput("the repository address is too long or contains spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("the repository address is not a valid URL") from None
    schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in schemes:
        raise InvalidInput("only https:// repository addresses can be pulled (not file://, ssh or local paths)")
    if parts.username or parts.password:
        raise InvalidInput("leave credentials out of the address: only public repositories can be pulled")
    host = parts.hostname
    if not host:
        raise InvalidInput("the repository address has no host")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidInput(f"the host {host[:100]!r} cannot be found") from None
    addresses = sorted({info[4][0] for info in infos})
    if not allow_local:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise InvalidInput(f"the host {host[:100]!r} is on a private or local network: pulls come "
                                   "only from public hosts")
    return url, host, port, addresses


def clone(url: str, dest: Path, *, allow_local: bool = False, timeout: float = GIT_TIMEOUT_SECONDS,
          max_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """``git clone --depth 1`` of a checked URL into ``dest``, pinned to the addresses checked (no
    second DNS answer), without redirects, hooks, symlinks or submodules, within a time and size limit."""
    url, host, port, addresses = check_git_url(url, allow_local=allow_local)
    home = dest.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "GIT_TERMINAL_PROMPT": "0",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_ASKPASS": "/bin/false", "LC_ALL": "C"}
    pin = ["-c", f"http.curloptResolve={host}:{port}:{','.join(a if ':' not in a else f'[{a}]' for a in addresses)}"]
    protocols = ["-c", "protocol.allow=never", "-c", "protocol.https.allow=always"]
    if allow_local:
        protocols += ["-c", "protocol.http.allow=always"]
    base = ["git", *protocols, *pin, "-c", "http.followRedirects=false", "-c", "core.symlinks=false",
            "-c", "core.hooksPath=/dev/null", "-c", "filter.lfs.process=", "-c", "filter.lfs.smudge=",
            "-c", "filter.lfs.required=false", "clone", "--quiet", "--single-branch", "--no-tags"]
    for shallow in (True, False):
        shutil.rmtree(dest, ignore_errors=True)
        cmd = base + (["--depth", "1"] if shallow else []) + ["--", url, str(dest)]
        error = _run_limited(cmd, env, dest, timeout, max_bytes)
        if error is None:
            shutil.rmtree(dest / ".git", ignore_errors=True)
            return
        if shallow and "shallow" in error:  # a dumb-http server: a full clone, within the same limits
            continue
        raise InvalidInput(f"the repository could not be cloned: {error}")


def _run_limited(cmd: list[str], env: dict, dest: Path, timeout: float, max_bytes: int) -> str | None:
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    raise InvalidInput(f"cloning took longer than {int(timeout)} s: is the repository that large?")
                if _size(dest) > max_bytes:
                    raise PayloadTooLarge(f"the repository is larger than {max_bytes >> 20} MB")
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
        if _size(dest) > max_bytes:
            raise PayloadTooLarge(f"the repository is larger than {max_bytes >> 20} MB")
        if proc.returncode == 0:
            return None
        err.seek(0)
        text = err.read(4000).decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    fatal = next((ln for ln in lines if ln.startswith("fatal:")), lines[-1] if lines else "git failed")
    return fatal.removeprefix("fatal:").strip()[:300]


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def pull_git(session: Session, user: User, slug: str, url, *, store, allow_local: bool = False) -> dict:
    """Imports the course folder at the top of a public git repository (see ``import_folder``)."""
    course = course_for_teacher(session, user, slug)
    checked = check_git_url(url, allow_local=allow_local)[0]
    with tempfile.TemporaryDirectory(prefix="lms-git-") as tmp:
        dest = Path(tmp) / "repo"
        clone(checked, dest, allow_local=allow_local)
        return import_folder(session, user, course, _course_folder(dest), store=store, source=checked)
