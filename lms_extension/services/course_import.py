"""Courses as files: ``courses/<slug>/course.toml`` plus nbgrader source notebooks.

``load_course_folder`` validates everything before ``import_course`` touches the database,
and the import runs in the caller's transaction, so a bad course never half-imports.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, CourseFormatError, InvalidInput
from ..models import Course, Instructor, Lesson, LessonVersion
from ..models.course import LEVELS, SLUG
from . import discovery, lesson_extras, notebooks, policies, quizzes
from .challenges import load_challenge_file, sync_lesson_challenges
from .users import ensure_user

CURRENCIES = {"usd", "eur", "gbp", "chf", "cad", "aud", "inr", "jpy"}
COURSE_KEYS = {
    "slug", "title", "subtitle", "description", "category", "level", "language",
    "price_cents", "currency", "instructor", "tags", "published", "lessons",
} | lesson_extras.COURSE_KEYS
LESSON_KEYS = {"id", "title", "notebook", "free_preview", "challenges", "minutes"} | policies.POLICY_KEYS | lesson_extras.LESSON_KEYS


@dataclass
class LessonSpec:
    key: str
    title: str
    notebook_path: Path
    free_preview: bool
    source_text: str
    student_text: str
    challenges: list = field(default_factory=list)  # challenges.ChallengeSpec
    extras: dict = field(default_factory=dict)  # lesson_extras: quizzes, resources, video
    policy: policies.PolicySpec | None = None  # deadline, late policy, attempts, cooldown
    minutes: int = 0  # course.toml's ``minutes``, else estimate_minutes(notebook)


@dataclass
class CourseSpec:
    slug: str
    title: str
    subtitle: str
    description: str
    category: str
    level: str
    language: str
    price_cents: int
    currency: str
    instructor: str
    published: bool
    tags: list[str] = field(default_factory=list)
    lessons: list[LessonSpec] = field(default_factory=list)
    extras: dict = field(default_factory=dict)  # lesson_extras: pass_threshold


def _require(data: dict, key: str, kind: type, where: str):
    if key not in data:
        raise CourseFormatError(f"{where}: missing required key {key!r}")
    value = data[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise CourseFormatError(f"{where}: {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def load_course_folder(folder: Path | str) -> CourseSpec:
    folder = Path(folder)
    toml_path = folder / "course.toml"
    if not toml_path.is_file():
        raise CourseFormatError(f"{folder}: no course.toml")
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CourseFormatError(f"{toml_path}: invalid TOML ({exc})") from exc
    where = str(toml_path)
    unknown = set(data) - COURSE_KEYS
    if unknown:
        raise CourseFormatError(f"{where}: unknown keys {sorted(unknown)}")
    slug = _require(data, "slug", str, where)
    if not SLUG.match(slug):
        raise CourseFormatError(f"{where}: slug {slug!r} must match {SLUG.pattern}")
    level = _require(data, "level", str, where)
    if level not in LEVELS:
        raise CourseFormatError(f"{where}: level must be one of {', '.join(LEVELS)}")
    price = data.get("price_cents", 0)
    if isinstance(price, bool) or not isinstance(price, int) or price < 0:
        raise CourseFormatError(f"{where}: price_cents must be a whole number >= 0")
    currency = str(data.get("currency", "usd")).lower()
    if currency not in CURRENCIES:
        raise CourseFormatError(f"{where}: unsupported currency {currency!r}")
    spec = CourseSpec(
        slug=slug,
        title=_require(data, "title", str, where),
        subtitle=str(data.get("subtitle", "")),
        description=str(data.get("description", "")),
        category=_require(data, "category", str, where),
        level=level,
        language=str(data.get("language", "en")),
        price_cents=price,
        currency=currency,
        instructor=_require(data, "instructor", str, where),
        published=bool(data.get("published", True)),
        tags=[str(t) for t in data.get("tags", [])],
        extras=lesson_extras.load_course_extras(data, where),
    )
    lessons = data.get("lessons")
    if not isinstance(lessons, list) or not lessons:
        raise CourseFormatError(f"{where}: a course needs at least one [[lessons]] entry")
    seen: set[str] = set()
    for index, raw in enumerate(lessons, 1):
        lwhere = f"{where}: lesson {index}"
        if not isinstance(raw, dict):
            raise CourseFormatError(f"{lwhere}: must be a table")
        unknown = set(raw) - LESSON_KEYS
        if unknown:
            raise CourseFormatError(f"{lwhere}: unknown keys {sorted(unknown)}")
        key = _require(raw, "id", str, lwhere)
        if not SLUG.match(key):
            raise CourseFormatError(f"{lwhere}: id {key!r} must match {SLUG.pattern}")
        if key in seen:
            raise CourseFormatError(f"{lwhere}: duplicate lesson id {key!r}")
        seen.add(key)
        rel = _require(raw, "notebook", str, lwhere)
        path = (folder / rel).resolve()
        if folder.resolve() not in path.parents:
            raise CourseFormatError(f"{lwhere}: notebook path {rel!r} leaves the course folder")
        if not path.is_file():
            raise CourseFormatError(f"{lwhere}: notebook {rel!r} not found")
        source_text = path.read_text(encoding="utf-8")
        source_nb = notebooks.read_notebook(source_text, rel)
        student_nb = notebooks.student_version(source_nb, rel)
        spec.lessons.append(
            LessonSpec(
                key=key,
                title=_require(raw, "title", str, lwhere),
                notebook_path=path,
                free_preview=bool(raw.get("free_preview", False)),
                source_text=notebooks.dumps(source_nb),
                student_text=notebooks.dumps(student_nb),
                challenges=_load_challenges(folder, raw.get("challenges", []), lwhere),
                policy=policies.parse_policy(raw, lwhere),
                extras=lesson_extras.load_lesson_extras(folder, raw, lwhere, source_nb),
                minutes=_minutes(raw, lwhere, source_nb),
            )
        )
    return spec


# reading speed and time per cell behind a lesson's estimated duration
WORDS_PER_MINUTE = 180
MINUTES_PER_CODE_CELL = 1.5
MINUTES_PER_EXERCISE = 6  # an nbgrader answer cell: write, run, fix
MAX_LESSON_MINUTES = 600


def estimate_minutes(nb) -> int:
    """A lesson's study time from its notebook: reading the markdown, running the examples and
    solving the exercises, rounded to 5 minutes (at least 5)."""
    words = code = exercises = 0
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown":
            words += len(source.split())
        elif cell.get("cell_type") == "code":
            meta = (cell.get("metadata") or {}).get("nbgrader") or {}
            if meta.get("solution"):
                exercises += 1
            elif not meta.get("grade"):  # test cells run with the answer; examples are read and run
                code += 1
    total = words / WORDS_PER_MINUTE + code * MINUTES_PER_CODE_CELL + exercises * MINUTES_PER_EXERCISE
    return min(MAX_LESSON_MINUTES, max(5, 5 * round(total / 5)))


def _minutes(raw: dict, where: str, source_nb) -> int:
    if "minutes" not in raw:
        return estimate_minutes(source_nb)
    value = raw["minutes"]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LESSON_MINUTES:
        raise CourseFormatError(f"{where}: minutes must be a whole number from 1 to {MAX_LESSON_MINUTES}")
    return value


def _load_challenges(folder: Path, paths, where: str) -> list:
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise CourseFormatError(f"{where}: challenges must be a list of file paths")
    specs = []
    for rel in paths:
        path = (folder / rel).resolve()
        if folder.resolve() not in path.parents:
            raise CourseFormatError(f"{where}: challenge path {rel!r} leaves the course folder")
        specs.append(load_challenge_file(path))
    keys = [c.key for c in specs]
    if len(set(keys)) != len(keys):
        raise CourseFormatError(f"{where}: duplicate challenge ids")
    return specs


def import_course(session: Session, spec: CourseSpec, *, replace: bool = True, store=None,
                  instructor: Instructor | None = None) -> Course:
    """Create or update a course from a validated spec; a changed notebook becomes a new version.

    With ``replace=False`` an existing slug is refused. ``instructor`` (the web's uploads) is the
    course's teacher instead of the account named by ``spec.instructor``.
    """
    course = session.scalars(select(Course).where(Course.slug == spec.slug)).one_or_none()
    if course is not None and not replace:
        raise Conflict(f"a course with slug {spec.slug!r} already exists")
    if instructor is None:
        instructor = ensure_user(session, spec.instructor, instructor=True).instructor
    old_price = course.price_cents if course is not None else None
    if course is None:
        course = Course(slug=spec.slug)
        session.add(course)
    for attr in ("title", "subtitle", "description", "category", "level", "language",
                 "price_cents", "currency", "published"):
        setattr(course, attr, getattr(spec, attr))
    course.instructor = instructor
    existing = {lesson.key: lesson for lesson in course.lessons}
    keep = []
    for position, ls in enumerate(spec.lessons):
        lesson = existing.get(ls.key) or Lesson(key=ls.key)
        lesson.title, lesson.position, lesson.free_preview = ls.title, position, ls.free_preview
        lesson.minutes = ls.minutes
        lesson.filename = f"{ls.key}.ipynb"
        keep.append(lesson)
        lesson.challenges = sync_lesson_challenges(lesson, ls.challenges, list(lesson.challenges))
        add_version(lesson, ls.source_text, ls.student_text)
    course.lessons = keep
    session.flush()
    for lesson, ls in zip(keep, spec.lessons):
        policies.apply(session, lesson, ls.policy)
    session.flush()
    lesson_extras.apply_import(session, course, spec, store)  # quizzes, pass threshold, resources, video
    discovery.course_published(session, course, old_price)  # search index, wishlist price events
    return course


def add_version(lesson: Lesson, source_text: str, student_text: str) -> bool:
    """A new immutable version when the source changed since the newest one; True if one was made."""
    digest = notebooks.sha256(source_text)
    latest = lesson.versions[-1] if lesson.versions else None
    if latest is not None and latest.source_sha256 == digest:
        return False
    lesson.versions.append(
        LessonVersion(number=(latest.number if latest else 0) + 1, source_sha256=digest,
                      source_notebook=source_text, student_notebook=student_text)
    )
    return True


# courses edited on the web (services/course_authoring.py decides what; these write the rows) --
COURSE_FIELDS = ("title", "subtitle", "description", "category", "level", "language", "price_cents", "currency")


def create_course(session: Session, slug: str, instructor: Instructor, fields: dict) -> Course:
    """A new, unpublished course without lessons; ``fields`` are validated course attributes."""
    if session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
        raise Conflict(f"a course with the address {slug!r} already exists: choose another")
    course = Course(slug=slug, instructor=instructor, published=False,
                    **{k: fields[k] for k in COURSE_FIELDS if k in fields})
    session.add(course)
    session.flush()
    return course


def update_course(session: Session, course: Course, fields: dict) -> None:
    """Changes validated course attributes; a published course's search entry and wishlist prices follow."""
    old_price = course.price_cents
    for key in COURSE_FIELDS:
        if key in fields:
            setattr(course, key, fields[key])
    session.flush()
    if course.published:
        discovery.course_published(session, course, old_price)


def set_published(session: Session, course: Course, published: bool) -> None:
    """Shows the course in the catalog or hides it; enrolled students keep their access either way."""
    course.published = published
    session.flush()
    discovery.course_published(session, course, course.price_cents)  # into the search index or out of it


def set_completion_threshold(session: Session, course: Course, threshold: float | None) -> None:
    """The share of a graded part's points that passes (None: the default), as course.toml's pass_threshold."""
    lesson_extras.apply_import(session, course, CourseSpec(
        slug=course.slug, title=course.title, subtitle="", description="", category=course.category,
        level=course.level, language=course.language, price_cents=course.price_cents, currency=course.currency,
        instructor="", published=course.published, extras={"pass_threshold": threshold}))


@dataclass
class DraftLesson:
    """One lesson as the web editor publishes it: no challenges, resources or video of its own
    (a published lesson keeps those it has)."""
    key: str
    title: str
    free_preview: bool
    source_text: str
    policy: policies.PolicySpec | None


def publish_lessons(session: Session, course: Course, drafts: list[DraftLesson]) -> list[tuple[str, int]]:
    """Make ``drafts`` the course's lessons, in this order, and publish the course. A changed source
    becomes a new version (the student notebook generated as ``lms course import`` does); lessons
    the drafts do not name are kept, after them. Returns (lesson key, version number) of new versions."""
    if not drafts:
        raise InvalidInput("add at least one lesson before publishing")
    old_price = course.price_cents
    existing = {lesson.key: lesson for lesson in course.lessons}
    generated, specs = [], []
    for d in drafts:
        name = f"{d.key}.ipynb"
        source_nb = notebooks.read_notebook(d.source_text, name)
        student_nb = notebooks.student_version(source_nb, name)
        specs.append((d, notebooks.dumps(source_nb), notebooks.dumps(student_nb), source_nb))
    lesson_extras.check_course_quiz_ids(
        [{"quizzes": quizzes.parse_quizzes(nb, f"{d.key}.ipynb")} for d, _, _, nb in specs], course.slug)
    ordered, made = [], []
    for position, (d, source_text, student_text, source_nb) in enumerate(specs):
        lesson = existing.pop(d.key, None) or Lesson(key=d.key)
        lesson.title, lesson.position, lesson.free_preview = d.title, position, d.free_preview
        lesson.minutes, lesson.filename = estimate_minutes(source_nb), f"{d.key}.ipynb"
        if add_version(lesson, source_text, student_text):
            generated.append(lesson)
        ordered.append(lesson)
    for position, lesson in enumerate(sorted(existing.values(), key=lambda ls: ls.position), len(ordered)):
        lesson.position = position
        ordered.append(lesson)
    course.lessons = ordered
    course.published = True
    session.flush()
    for d, _, _, source_nb in specs:
        lesson = next(ls for ls in ordered if ls.key == d.key)
        policies.apply(session, lesson, d.policy)
        quizzes.sync_lesson_quizzes(session, lesson, quizzes.parse_quizzes(source_nb, f"{d.key}.ipynb"))
    session.flush()
    discovery.course_published(session, course, old_price)
    return [(lesson.key, lesson.versions[-1].number) for lesson in generated]


def import_folders(session: Session, folders: list[Path], *, publish: bool = False, store=None) -> list[Course]:
    """Validate every folder first, then import them all in the caller's transaction.

    ``publish`` makes every course visible whatever its ``published`` key says; ``store`` (the
    configured storage) keeps lesson resources and videos.
    """
    specs = [load_course_folder(f) for f in folders]
    if publish:
        for spec in specs:
            spec.published = True
    slugs = [s.slug for s in specs]
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise CourseFormatError(f"duplicate course slug(s) in this import: {', '.join(duplicates)}")
    return [import_course(session, spec, store=store) for spec in specs]


def course_folders(root: Path | str) -> list[Path]:
    """A course folder itself, or every ``*/course.toml`` folder below ``root``."""
    root = Path(root)
    if (root / "course.toml").is_file():
        return [root]
    folders = sorted(p.parent for p in root.glob("*/course.toml"))
    if not folders:
        raise CourseFormatError(f"{root}: no course.toml here or in its subfolders")
    return folders
