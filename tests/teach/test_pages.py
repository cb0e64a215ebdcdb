"""The studio's pages on the real app (SQLite and PostgreSQL): new course, the course editor with
its Markdown preview, lessons with sources, order, preview flags and policies, publish/unpublish.
Every form refuses bad input with its message, keeps what was typed and loses nothing stored."""
from __future__ import annotations

import copy
import json
import re

import requests
from sqlalchemy import select

from lms_extension.models import Course, Lesson, LessonVersion
from lms_extension.models.audit import AuditEntry
from lms_extension.models.grading import LessonPolicy
from lms_extension.services import catalog, enrollments, users

from .conftest import NB

FORM = {"title": "Pandas in practice", "subtitle": "Real data", "description": "Clean **data**",
        "category": "Data Science", "level": "intermediate", "language": "en", "price": "29.90",
        "currency": "usd", "pass_threshold": "80"}


def course_row(factory, slug):
    with factory() as db:
        course = db.scalars(select(Course).where(Course.slug == slug)).one_or_none()
        if course is not None:
            db.expunge(course)
        return course


def nb_file(nb=NB, name="lesson.ipynb"):
    return {"notebook": (name, json.dumps(nb).encode(), "application/x-ipynb+json")}


def assert_inert(html: str) -> None:
    """No script element, javascript: link, event-handler attribute or raw <img> from the text."""
    assert "<script>alert" not in html
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", html, re.I)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.I)
    assert "<img src=x" not in html


def make(teacher, base, slug, **extra):
    r = teacher.post(base + "teach/courses/new", data={**FORM, "slug": slug, **extra}, allow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    return r


def test_new_course_and_editor(studio):
    base, hub, factory, _ = studio
    teacher = hub.user("page-teacher", instructor=True)
    dash = teacher.get(base + "teach")
    assert dash.status_code == 200 and 'id="new-course"' in dash.text
    assert teacher.get(base + "teach/courses/new").status_code == 200
    # refused: the form comes back with the message and what was typed
    for extra, word in (({"slug": "Bad Slug"}, "Address"), ({"slug": "new"}, "Address"),
                        ({"price": "12,345.6.7"}, "Price"), ({"price": "-3"}, "Price"), ({"level": "guru"}, "Level"),
                        ({"title": ""}, "Title"), ({"pass_threshold": "250"}, "Completion threshold"),
                        ({"language": "x y"}, "Language")):
        r = teacher.post(base + "teach/courses/new", data={**FORM, "slug": "pandas-practice", **extra})
        assert r.status_code == 400 and word in r.text and 'id="course-error"' in r.text, (extra, r.status_code)
        assert "Pandas in practice" in r.text or extra.get("title") == ""
        assert course_row(factory, "pandas-practice") is None
    r = make(teacher, base, "pandas-practice")
    assert r.headers["Location"].endswith("teach/courses/pandas-practice/lessons")
    course = course_row(factory, "pandas-practice")
    assert (course.price_cents, course.currency, course.published) == (2990, "usd", False)
    taken = teacher.post(base + "teach/courses/new", data={**FORM, "slug": "pandas-practice"})
    assert taken.status_code == 409 and "already exists" in taken.text

    editor = teacher.get(base + "teach/courses/pandas-practice")
    assert editor.status_code == 200 and 'value="80"' in editor.text and 'value="29.90"' in editor.text
    assert "teach.js" in editor.text and "<strong>data</strong>" in editor.text
    r = teacher.post(base + "teach/courses/pandas-practice", data={**FORM, "price": "abc", "title": "Kept title"})
    assert r.status_code == 400 and "Price" in r.text and 'value="Kept title"' in r.text
    assert course_row(factory, "pandas-practice").title == "Pandas in practice"  # nothing stored
    r = teacher.post(base + "teach/courses/pandas-practice", data={**FORM, "title": "Pandas, for real", "price": "0",
                                                                   "pass_threshold": ""}, allow_redirects=False)
    assert r.status_code == 303
    course = course_row(factory, "pandas-practice")
    assert (course.title, course.price_cents) == ("Pandas, for real", 0)
    with factory() as db:
        acts = list(db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "pandas-practice")))
    assert acts == ["course.create", "course.update", "course.update", "course.update"]


def test_hostile_markdown_comes_out_inert(studio):
    base, hub, factory, _ = studio
    teacher = hub.user("page-md", instructor=True)
    make(teacher, base, "md-course")
    hostile = ('<script>alert(1)</script> [click](javascript:alert(2)) <img src=x onerror="alert(3)"> '
               '<a href="https://ok.example" onclick="alert(4)">x</a> **bold**')
    preview = teacher.post(base + "teach/markdown-preview", data={"text": hostile})
    assert preview.status_code == 200 and "<strong>bold</strong>" in preview.text
    assert_inert(preview.text)
    assert teacher.post(base + "teach/markdown-preview", data={"text": "x" * 20_001}).status_code == 413
    assert hub.user("page-md-student").post(base + "teach/markdown-preview", data={"text": "x"}).status_code == 403
    r = teacher.post(base + "teach/courses/md-course", data={**FORM, "description": hostile}, allow_redirects=False)
    assert r.status_code == 303
    editor = teacher.get(base + "teach/courses/md-course").text
    page = teacher.get(base + "courses/md-course").text
    for html in (editor, page):
        assert_inert(html)
        assert "&lt;script&gt;alert(1)" in html  # shown as text, not run

def test_other_instructors_and_students_are_refused(studio):
    base, hub, factory, _ = studio
    owner = hub.user("page-owner", instructor=True)
    make(owner, base, "owned-course")
    other, student = hub.user("page-other", instructor=True), hub.user("page-student")
    for client, status in ((other, 403), (student, 403)):
        assert client.get(base + "teach/courses/owned-course").status_code == status
        assert client.get(base + "teach/courses/owned-course/lessons").status_code == status
        assert client.post(base + "teach/courses/owned-course", data={**FORM, "title": "Stolen"}).status_code == status
        assert client.post(base + "teach/courses/owned-course/lessons", data={"key": "x"},
                           files=nb_file()).status_code == status
        assert client.post(base + "teach/courses/owned-course/publish").status_code == status
        assert client.get(base + "teach/courses/owned-course/export.zip").status_code == status
    assert student.get(base + "teach/courses/new").status_code == 403
    assert course_row(factory, "owned-course").title == FORM["title"]
    assert owner.get(base + "teach/courses/no-such-course").status_code == 404
    admin = hub.user("page-admin", admin=True)
    assert admin.get(base + "teach/courses/owned-course").status_code == 200


def test_lessons_sources_order_policies_publish(studio):
    base, hub, factory, _ = studio
    teacher = hub.user("page-lessons", instructor=True)
    make(teacher, base, "lesson-course")
    lessons = base + "teach/courses/lesson-course/lessons"
    page = teacher.get(lessons)
    assert page.status_code == 200 and 'id="no-lessons"' in page.text
    # publishing nothing is refused on the page
    r = teacher.post(base + "teach/courses/lesson-course/publish", data={"from": "lessons"})
    assert r.status_code == 400 and "at least one lesson" in r.text
    # bad uploads: not a notebook, broken nbgrader metadata (the cell is named), no file, a bad id
    broken = copy.deepcopy(NB)
    broken["cells"][2]["metadata"]["nbgrader"]["grade_id"] = "square"
    for data, files, word in (({"key": "l1"}, nb_file(name="notes.txt"), ".ipynb"),
                              ({"key": "l1"}, {"notebook": ("l.ipynb", b"\x89PNG\r\n", "image/png")}, "not"),
                              ({"key": "l1"}, nb_file(broken), "cell 3"),
                              ({"key": "l1"}, None, "choose one notebook"),
                              ({"key": "L 1"}, nb_file(), "lesson id")):
        r = teacher.post(lessons, data={**data, "title": "Typed title"}, files=files)
        assert r.status_code == 400 and word in r.text and 'value="Typed title"' in r.text, (word, r.text[-3000:])
    assert 'id="no-lessons"' in teacher.get(lessons).text
    for key, title in (("l1", "First"), ("l2", "")):
        r = teacher.post(lessons, data={"key": key, "title": title}, files=nb_file(), allow_redirects=False)
        assert r.status_code == 303, r.text[-2000:]
    assert teacher.post(lessons, data={"key": "l1"}, files=nb_file()).status_code == 400  # already there
    page = teacher.get(lessons).text
    assert page.index('id="lesson-l1"') < page.index('id="lesson-l2"') and ">Squares<" in page  # title from heading
    act = lambda key, action, **data: teacher.post(f"{lessons}/{key}/{action}", data=data, allow_redirects=False)  # noqa: E731
    assert act("l2", "up").status_code == 303
    assert act("l2", "save", title="Second, first", free_preview="on").status_code == 303
    assert act("l2", "save", title="").status_code == 400
    # policy: refused combinations keep the old one; a good one applies (once published, at once)
    assert act("l1", "policy", late_policy="zero").status_code == 400  # a late policy needs a deadline
    assert act("l1", "policy", max_attempts="-2").status_code == 400
    assert act("l1", "policy", deadline="not a date").status_code == 400
    assert act("l1", "policy", deadline="2030-01-31T23:59", late_policy="percent_per_day",
               late_percent_per_day="10", max_attempts="3", cooldown_seconds="60").status_code == 303
    r = teacher.post(base + "teach/courses/lesson-course/publish", data={"from": "lessons"}, allow_redirects=False)
    assert r.status_code == 303
    with factory() as db:
        course = db.scalars(select(Course).where(Course.slug == "lesson-course")).one()
        assert course.published
        assert [(ls.key, ls.title, ls.free_preview) for ls in course.lessons] == [
            ("l2", "Second, first", True), ("l1", "First", False)]
        l1 = course.lessons[1]
        policy = db.get(LessonPolicy, l1.id)
        assert (policy.max_attempts, policy.cooldown_seconds, policy.late_percent_per_day) == (3, 60, 10.0)
        assert [v.number for v in l1.versions] == [1]
    assert act("l1", "policy", max_attempts="5", deadline="2030-01-31T23:59").status_code == 303
    with factory() as db:
        lesson = db.scalars(select(Lesson).join(Course).where(Course.slug == "lesson-course", Lesson.key == "l1")).one()
        assert db.get(LessonPolicy, lesson.id).max_attempts == 5  # applied without publishing
    # a published lesson cannot be removed; a new one can
    assert act("l1", "remove").status_code == 409
    assert teacher.post(lessons, data={"key": "l3"}, files=nb_file(), allow_redirects=False).status_code == 303
    assert act("l3", "up").status_code == 303 and act("l3", "up").status_code == 303  # first, before the published
    assert act("l3", "remove").status_code == 303
    page = teacher.get(lessons).text
    assert 'id="lesson-l3"' not in page and "Draft changes" not in page  # nothing left to publish
    # replacing a source is a draft until published, then version 2
    changed = copy.deepcopy(NB)
    changed["cells"][0]["source"] = "# Squares again"
    assert teacher.post(f"{lessons}/l1/source", files=nb_file(changed), allow_redirects=False).status_code == 303
    assert "Draft changes" in teacher.get(lessons).text
    with factory() as db:
        assert db.scalar(select(LessonVersion.number).join(Lesson).join(Course).where(
            Course.slug == "lesson-course", Lesson.key == "l1").order_by(LessonVersion.number.desc())) == 1
    teacher.post(base + "teach/courses/lesson-course/publish", allow_redirects=False)
    with factory() as db:
        numbers = db.scalars(select(LessonVersion.number).join(Lesson).join(Course).where(
            Course.slug == "lesson-course", Lesson.key == "l1").order_by(LessonVersion.number))
        assert list(numbers) == [1, 2]
        acts = set(db.scalars(select(AuditEntry.action).where(AuditEntry.target_id.startswith("lesson-course"))))
    assert {"lesson.source_upload", "lesson.update", "lesson.reorder", "lesson.policy", "lesson.remove",
            "course.publish"} <= acts


def test_unpublish_keeps_enrolled_students(studio):
    base, hub, factory, _ = studio
    teacher = hub.user("page-unpub", instructor=True)
    make(teacher, base, "unpub-course", price="0")
    teacher.post(base + "teach/courses/unpub-course/lessons", data={"key": "l1"}, files=nb_file())
    teacher.post(base + "teach/courses/unpub-course/publish")
    with factory() as db:
        student = users.ensure_user(db, "unpub-student")
        enrollments.enroll(db, student, "unpub-course")
        db.commit()
    def listed():
        return [c["slug"] for c in requests.get(base + "api/v1/courses", params={"q": "pandas practice"}).json()["courses"]]
    assert "unpub-course" in listed()
    r = teacher.post(base + "teach/courses/unpub-course/unpublish", allow_redirects=False)
    assert r.status_code == 303
    assert "unpub-course" not in listed()  # out of the catalog and the search index
    with factory() as db:
        student, newcomer = users.by_name(db, "unpub-student"), users.ensure_user(db, "unpub-newcomer")
        assert catalog.get_course(db, "unpub-course", viewer=student).slug == "unpub-course"
        course, lesson, _ = enrollments.lesson_access(db, student, "unpub-course", "l1")
        assert lesson.key == "l1"
        import pytest
        from lms_extension.errors import NotFound
        with pytest.raises(NotFound):
            catalog.get_course(db, "unpub-course", viewer=newcomer)
        with pytest.raises(NotFound):
            enrollments.enroll(db, newcomer, "unpub-course")
        assert db.scalar(select(AuditEntry.action).where(AuditEntry.target_id == "unpub-course")
                         .order_by(AuditEntry.id.desc())) == "course.unpublish"
    assert requests.get(base + "courses/unpub-course").status_code == 404  # visitors


def test_cover_upload_from_the_editor(studio):
    import io

    from PIL import Image

    base, hub, factory, app = studio
    teacher = hub.user("page-cover", instructor=True)
    make(teacher, base, "cover-course")
    url = base + "teach/courses/cover-course/cover"
    r = teacher.post(url, data={"from": "editor"}, files={"cover": ("c.png", b"<svg onload=alert(1)>", "image/png")})
    assert r.status_code == 400 and 'id="cover-error"' in r.text and 'id="course-form"' in r.text
    assert course_row(factory, "cover-course").cover is None
    buf = io.BytesIO()
    Image.new("RGB", (1280, 720), (10, 90, 160)).save(buf, "PNG")
    r = teacher.post(url, data={"from": "editor"}, files={"cover": ("c.png", buf.getvalue(), "image/png")},
                     allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith("teach/courses/cover-course")
    with factory() as db:
        from lms_extension.models.course import CourseCover
        assert db.get(CourseCover, course_row(factory, "cover-course").id) is not None
        assert db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == "cover-course")
                          .order_by(AuditEntry.id.desc())).first() == "course.cover"
    assert hub.user("page-cover-other", instructor=True).post(
        url, data={"from": "editor"}, files={"cover": ("c.png", buf.getvalue(), "image/png")}).status_code == 403
