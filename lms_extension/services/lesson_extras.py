"""Per-lesson extras: notes and bookmarks of a student, downloadable resources, video + chapters,
and what course.toml declares for them (read at import).

course.toml::

    pass_threshold = 0.8                 # share of a graded part's points that passes (default 0.7)

    [[lessons]]
    id = "01-intro"
    ...
    resources = ["data/prices.csv"]      # files offered for download on the lesson page
    video = "media/intro.mp4"            # an HTML5 video (mp4/webm/ogg) ...
    chapters = [{start = "0:00", title = "Welcome"}, {start = "1:30", title = "Variables"}]
"""
from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import CourseFormatError, InvalidInput, NotFound, PayloadTooLarge
from ..models import Course, Lesson, User
from ..models.base import utcnow
from ..models.learning import CourseLearningSettings, LessonBookmark, LessonNote, LessonResource, LessonVideo
from . import enrollments, quizzes

COURSE_KEYS = {"pass_threshold"}
LESSON_KEYS = {"resources", "video", "chapters"}
MAX_NOTE_CHARS = 20_000
MAX_LABEL_CHARS = 200
MAX_RESOURCE_BYTES = 50 * 1024 * 1024
VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg", ".ogg": "video/ogg"}
RESOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
TIMESTAMP = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})(?:\.(\d{1,3}))?$")


# course.toml --------------------------------------------------------------------------------
def load_course_extras(data: dict, where: str) -> dict:
    threshold = data.get("pass_threshold", None)
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not 0 < threshold <= 1):
        raise CourseFormatError(f"{where}: pass_threshold must be a number in (0, 1]")
    return {"pass_threshold": None if threshold is None else float(threshold)}


def _inside(folder: Path, rel, where: str, what: str) -> Path:
    if not isinstance(rel, str) or not rel:
        raise CourseFormatError(f"{where}: {what} must be a file path")
    path = (folder / rel).resolve()
    if folder.resolve() not in path.parents:
        raise CourseFormatError(f"{where}: {what} {rel!r} leaves the course folder")
    if not path.is_file():
        raise CourseFormatError(f"{where}: {what} {rel!r} not found")
    return path


def parse_timestamp(text: str) -> float:
    match = TIMESTAMP.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a time like 1:30 or 0:01:30")
    hours, minutes, seconds, millis = match.groups()
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise ValueError(f"{text!r} is not a valid time")
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int((millis or "0").ljust(3, "0")) / 1000


def load_lesson_extras(folder: Path, raw: dict, where: str, source_nb) -> dict:
    extras: dict = {"quizzes": quizzes.parse_quizzes(source_nb, where), "resources": [], "video": None}
    resources = raw.get("resources", [])
    if not isinstance(resources, list):
        raise CourseFormatError(f"{where}: resources must be a list of file paths")
    for rel in resources:
        path = _inside(folder, rel, where, "resource")
        if not RESOURCE_NAME.match(path.name):
            raise CourseFormatError(f"{where}: resource file name {path.name!r} must match {RESOURCE_NAME.pattern}")
        if path.stat().st_size > MAX_RESOURCE_BYTES:
            raise CourseFormatError(f"{where}: resource {rel!r} is larger than {MAX_RESOURCE_BYTES >> 20} MB")
        extras["resources"].append({"name": path.name, "data": path.read_bytes(),
                                    "content_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream"})
    if len({r["name"] for r in extras["resources"]}) != len(extras["resources"]):
        raise CourseFormatError(f"{where}: two resources share a file name")
    if "chapters" in raw and "video" not in raw:
        raise CourseFormatError(f"{where}: chapters need a video")
    if "video" in raw:
        path = _inside(folder, raw["video"], where, "video")
        content_type = VIDEO_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise CourseFormatError(f"{where}: video must be one of {', '.join(sorted(VIDEO_TYPES))}")
        chapters = raw.get("chapters", [])
        if not isinstance(chapters, list):
            raise CourseFormatError(f"{where}: chapters must be a list of {{start, title}} tables")
        parsed = []
        for ch in chapters:
            if not isinstance(ch, dict) or set(ch) != {"start", "title"} or not isinstance(ch["title"], str):
                raise CourseFormatError(f"{where}: each chapter is {{start = \"m:ss\", title = \"...\"}}")
            try:
                start = parse_timestamp(ch["start"])
            except ValueError as exc:
                raise CourseFormatError(f"{where}: chapter {ch['title']!r}: {exc}") from None
            parsed.append({"start": start, "title": ch["title"]})
        if [c["start"] for c in parsed] != sorted(c["start"] for c in parsed):
            raise CourseFormatError(f"{where}: chapters must be in order of their start times")
        extras["video"] = {"name": f"video{path.suffix.lower()}", "data": path.read_bytes(),
                           "content_type": content_type, "chapters": parsed}
    return extras


def check_course_quiz_ids(lesson_extras: list[dict], where: str) -> None:
    keys = [q["key"] for ex in lesson_extras for q in ex.get("quizzes", [])]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise CourseFormatError(f"{where}: quiz ids must be unique in a course: {', '.join(duplicates)}")


def apply_import(session: Session, course: Course, spec, store=None) -> None:
    """Store what course.toml and the notebooks declare beyond lessons (after ``import_course``);
    ``store``, the configured storage, keeps resources and videos."""
    course_extras = getattr(spec, "extras", None) or {}
    lesson_extras = [getattr(ls, "extras", None) or {} for ls in spec.lessons]
    check_course_quiz_ids(lesson_extras, spec.slug)
    settings = session.get(CourseLearningSettings, course.id)
    threshold = course_extras.get("pass_threshold")
    if threshold is not None:
        if settings is None:
            session.add(CourseLearningSettings(course_id=course.id, pass_threshold=threshold))
        else:
            settings.pass_threshold = threshold
    elif settings is not None:
        session.delete(settings)
    by_key = {ls.key: ls for ls in course.lessons}
    for ls, extras in zip(spec.lessons, lesson_extras):
        lesson = by_key[ls.key]
        quizzes.sync_lesson_quizzes(session, lesson, extras.get("quizzes", []))
        if (extras.get("resources") or extras.get("video")) and store is None:
            # the caller's configured storage (`lms course import` passes it): one read from the
            # environment here could be another one than the service serves files from
            raise ValueError(f"{spec.slug}: importing lesson resources or a video needs the configured storage")
        for res in extras.get("resources", []):
            put_resource(session, store, lesson, res["name"], res["data"], res["content_type"])
        video = extras.get("video")
        existing = session.get(LessonVideo, lesson.id)
        if video is None:
            if existing is not None:
                session.delete(existing)
            continue
        key = f"lessons/{lesson.id}/{video['name']}"
        store.put(key, video["data"], video["content_type"])
        row = existing or LessonVideo(lesson_id=lesson.id)
        row.storage_key, row.content_type, row.chapters = key, video["content_type"], json.dumps(video["chapters"])
        session.add(row)
    session.flush()


# access -------------------------------------------------------------------------------------
def _lesson_for_student(session: Session, user: User, slug: str, lesson_key: str) -> tuple[Course, Lesson]:
    course, lesson, enrollment = enrollments.lesson_access(session, user, slug, lesson_key)
    return course, lesson


# notes and bookmarks ------------------------------------------------------------------------
def get_note(session: Session, user: User, slug: str, lesson_key: str) -> dict:
    _, lesson = _lesson_for_student(session, user, slug, lesson_key)
    note = session.scalars(select(LessonNote).where(LessonNote.user_id == user.id,
                                                    LessonNote.lesson_id == lesson.id)).one_or_none()
    return {"lesson": lesson.key, "body": note.body if note else "",
            "updated_at": note.updated_at.isoformat() if note else None}


def save_note(session: Session, user: User, slug: str, lesson_key: str, body) -> dict:
    if not isinstance(body, str):
        raise InvalidInput("a note is text: send {\"body\": \"...\"}")
    if len(body) > MAX_NOTE_CHARS:
        raise PayloadTooLarge(f"a note holds at most {MAX_NOTE_CHARS} characters")
    _, lesson = _lesson_for_student(session, user, slug, lesson_key)
    note = session.scalars(select(LessonNote).where(LessonNote.user_id == user.id,
                                                    LessonNote.lesson_id == lesson.id)).one_or_none()
    if note is None:
        note = LessonNote(user_id=user.id, lesson_id=lesson.id)
        session.add(note)
    note.body, note.updated_at = body, utcnow()
    session.flush()
    return {"lesson": lesson.key, "body": note.body, "updated_at": note.updated_at.isoformat()}


def set_bookmark(session: Session, user: User, slug: str, lesson_key: str, on: bool, label: str = "") -> dict:
    if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
        raise InvalidInput(f"label is text of at most {MAX_LABEL_CHARS} characters")
    _, lesson = _lesson_for_student(session, user, slug, lesson_key)
    row = session.scalars(select(LessonBookmark).where(LessonBookmark.user_id == user.id,
                                                       LessonBookmark.lesson_id == lesson.id)).one_or_none()
    if on:
        if row is None:
            row = LessonBookmark(user_id=user.id, lesson_id=lesson.id)
            session.add(row)
        row.label = label
    elif row is not None:
        session.delete(row)
    session.flush()
    return {"lesson": lesson.key, "bookmarked": on, "label": label if on else ""}


def bookmarks_of(session: Session, user: User) -> list[dict]:
    rows = session.execute(select(LessonBookmark, Lesson, Course).join(Lesson, Lesson.id == LessonBookmark.lesson_id)
                           .join(Course, Course.id == Lesson.course_id).where(LessonBookmark.user_id == user.id)
                           .order_by(LessonBookmark.created_at.desc())).all()
    return [{"course": c.slug, "lesson": ls.key, "title": ls.title, "label": b.label,
             "created_at": b.created_at.isoformat()} for b, ls, c in rows]


def is_bookmarked(session: Session, user: User, lesson: Lesson) -> bool:
    return session.scalars(select(LessonBookmark.id).where(LessonBookmark.user_id == user.id,
                                                           LessonBookmark.lesson_id == lesson.id)).first() is not None


# resources ----------------------------------------------------------------------------------
def put_resource(session: Session, store, lesson: Lesson, name: str, data: bytes, content_type: str | None = None) -> LessonResource:
    if not isinstance(name, str) or not RESOURCE_NAME.match(name) or name in (".", ".."):
        raise InvalidInput("resource names use letters, digits, '.', '_' and '-' (max 200)")
    if len(data) > MAX_RESOURCE_BYTES:
        raise PayloadTooLarge(f"a resource is at most {MAX_RESOURCE_BYTES >> 20} MB")
    key = f"lessons/{lesson.id}/resources/{name}"
    store.put(key, data, content_type or "application/octet-stream")
    row = session.scalars(select(LessonResource).where(LessonResource.lesson_id == lesson.id,
                                                       LessonResource.name == name)).one_or_none()
    if row is None:
        row = LessonResource(lesson_id=lesson.id, name=name)
        session.add(row)
    row.storage_key, row.size = key, len(data)
    row.content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    session.flush()
    return row


def upload_resource(session: Session, store, user: User, slug: str, lesson_key: str, name: str, data: bytes) -> dict:
    course, lesson = _lesson_for_student(session, user, slug, lesson_key)
    permissions.require_teacher(user, course, "only the course's instructor adds resources")
    return resource_view(put_resource(session, store, lesson, name, data))


def resources_of(session: Session, lesson: Lesson) -> list[LessonResource]:
    return list(session.scalars(select(LessonResource).where(LessonResource.lesson_id == lesson.id)
                                .order_by(LessonResource.name)))


def resource_view(r: LessonResource) -> dict:
    return {"name": r.name, "size": r.size, "content_type": r.content_type}


def list_resources(session: Session, user: User, slug: str, lesson_key: str) -> list[dict]:
    _, lesson = _lesson_for_student(session, user, slug, lesson_key)
    return [resource_view(r) for r in resources_of(session, lesson)]


def download_resource(session: Session, store, user: User, slug: str, lesson_key: str, name: str) -> tuple[LessonResource, bytes]:
    _, lesson = _lesson_for_student(session, user, slug, lesson_key)
    row = session.scalars(select(LessonResource).where(LessonResource.lesson_id == lesson.id,
                                                       LessonResource.name == name)).one_or_none()
    if row is None:
        raise NotFound(f"lesson {lesson_key!r} has no resource {name!r}")
    return row, store.get(row.storage_key)


# video --------------------------------------------------------------------------------------
def video_of(session: Session, lesson: Lesson) -> LessonVideo | None:
    return session.get(LessonVideo, lesson.id)


def lesson_video(session: Session, store, user: User, slug: str, lesson_key: str) -> tuple[LessonVideo, bytes]:
    _, lesson = _lesson_for_student(session, user, slug, lesson_key)
    video = video_of(session, lesson)
    if video is None:
        raise NotFound(f"lesson {lesson_key!r} has no video")
    return video, store.get(video.storage_key)


def _vtt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def chapters_vtt(chapters: list[dict], end: float | None = None) -> str:
    """A WebVTT chapters track: each chapter ends where the next begins (the last one at ``end``)."""
    lines = ["WEBVTT", ""]
    for index, ch in enumerate(chapters):
        stop = chapters[index + 1]["start"] if index + 1 < len(chapters) else (end or ch["start"] + 24 * 3600)
        title = ch["title"].replace("-->", "->").replace("\n", " ")
        lines += [f"chapter-{index + 1}", f"{_vtt_time(ch['start'])} --> {_vtt_time(stop)}", title, ""]
    return "\n".join(lines)


def lesson_chapters(session: Session, user: User, slug: str, lesson_key: str) -> str:
    _, lesson = _lesson_for_student(session, user, slug, lesson_key)
    video = video_of(session, lesson)
    if video is None:
        raise NotFound(f"lesson {lesson_key!r} has no video")
    return chapters_vtt(json.loads(video.chapters))
