"""Lessons as HTML: the student version, rendered and sanitized, for free previews (visitors) and
on the lesson page of enrolled students.

Signed-in users open lessons in JupyterLab through ``/lms/open`` (``enrollments.lesson_access``
allows free previews without enrollment); the page shows the same notebook to read. The
student version never holds solutions or hidden tests. Rendered HTML is cached per lesson
version (versions are immutable, so the cache never goes stale).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import nbformat
import nh3
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Forbidden, NotFound
from ..models import Course, Lesson, LessonVersion
from . import catalog

_cache: OrderedDict[tuple[str, int], str] = OrderedDict()
_lock = threading.Lock()
MAX_CACHED = 256
_exporter = None

# what a rendered notebook needs, nothing that runs: no script, iframe, form, style or event attributes
_TAGS = {"div", "span", "p", "pre", "code", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol",
         "li", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "blockquote", "br", "hr", "sub", "sup", "del"}
_ATTRS = {"*": {"class"}, "a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "td": {"colspan"},
          "th": {"colspan"}}


def _html_exporter():
    global _exporter
    if _exporter is None:
        from nbconvert import HTMLExporter

        _exporter = HTMLExporter(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
    return _exporter


def render_notebook(notebook_json: str) -> str:
    nb = nbformat.reads(notebook_json, as_version=4)
    body, _ = _html_exporter().from_notebook_node(nb)
    return nh3.clean(body, tags=_TAGS, attributes=_ATTRS, url_schemes={"http", "https", "data"},
                     link_rel="nofollow noopener noreferrer")


def lesson_html(session: Session, lesson: Lesson) -> str | None:
    """Sanitized HTML of the lesson's newest student version, or None before its first version.

    The caller has checked access (``enrollments.lesson_access`` for the lesson page, the free
    preview flag for visitors); the student version never holds solutions or hidden tests.
    """
    version = session.execute(
        select(LessonVersion.id, LessonVersion.student_notebook).where(LessonVersion.lesson_id == lesson.id)
        .order_by(LessonVersion.number.desc()).limit(1)).one_or_none()
    if version is None:
        return None
    key = (str(session.get_bind().engine.url), version.id)  # versions are immutable
    html = _cache.get(key)
    if html is None:
        html = render_notebook(version.student_notebook)
        with _lock:
            _cache[key] = html
            while len(_cache) > MAX_CACHED:
                _cache.popitem(last=False)
    return html


def warm(session: Session) -> int:
    """Load nbconvert and render the newest version of published lessons (up to the cache's
    size) ahead of the first lesson page; how many were rendered."""
    _html_exporter()
    lessons = session.scalars(select(Lesson).join(Course, Course.id == Lesson.course_id)
                              .where(Course.published.is_(True)).order_by(Lesson.id).limit(MAX_CACHED))
    return sum(lesson_html(session, lesson) is not None for lesson in lessons)


def preview(session: Session, slug: str, lesson_key: str, viewer=None) -> tuple[Course, Lesson, str]:
    """(course, lesson, sanitized HTML) of a free preview lesson; 403 for other lessons."""
    course = catalog.get_course(session, slug, viewer=viewer)
    lesson = next((ls for ls in course.lessons if ls.key == lesson_key), None)
    if lesson is None:
        raise NotFound(f"course {slug!r} has no lesson {lesson_key!r}")
    if not lesson.free_preview:
        raise Forbidden(f"{lesson.title!r} is not a free preview: enroll in {course.title!r} to open it")
    html = lesson_html(session, lesson)
    if html is None:
        raise NotFound(f"lesson {lesson_key!r} has no published version")
    return course, lesson, html
