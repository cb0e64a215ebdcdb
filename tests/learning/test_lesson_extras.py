"""Notes, bookmarks, resources (through storage) and video chapters declared in course.toml."""
from __future__ import annotations

import pytest

from lms_extension.errors import CourseFormatError, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from lms_extension.services import lesson_extras
from lms_extension.services.storage import LocalStorage

from .conftest import build_course, enroll

VIDEO_TOML = ('video = "media/intro.webm"\n'
              'chapters = [{start = "0:00", title = "Welcome"}, {start = "1:30", title = "Variables"}, '
              '{start = "1:02:03.5", title = "Types --> more"}]\nresources = ["data/prices.csv"]')


@pytest.fixture
def media_course(session, tmp_path):
    store = LocalStorage(tmp_path / "storage")
    folder = tmp_path / "learn"
    (folder / "media").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "media" / "intro.webm").write_bytes(b"\x1aE\xdf\xa3 fake webm")
    (folder / "data" / "prices.csv").write_text("item,price\ntea,2\n")
    return build_course(session, tmp_path, lesson_toml={"l1": VIDEO_TOML}, store=store), store


def test_video_and_resources_are_imported_into_storage(session, media_course, alice):
    course, store = media_course
    enroll(session, alice, course.slug)
    video, data = lesson_extras.lesson_video(session, store, alice, course.slug, "l1")
    assert video.content_type == "video/webm" and data.startswith(b"\x1aE\xdf\xa3")
    vtt = lesson_extras.lesson_chapters(session, alice, course.slug, "l1")
    assert vtt.splitlines()[:8] == ["WEBVTT", "", "chapter-1", "00:00:00.000 --> 00:01:30.000", "Welcome", "",
                                    "chapter-2", "00:01:30.000 --> 01:02:03.500"]
    assert "Types -> more" in vtt and "-->  more" not in vtt
    assert lesson_extras.list_resources(session, alice, course.slug, "l1") == [
        {"name": "prices.csv", "size": 17, "content_type": "text/csv"}]
    row, body = lesson_extras.download_resource(session, store, alice, course.slug, "l1", "prices.csv")
    assert body == b"item,price\ntea,2\n"
    with pytest.raises(NotFound):
        lesson_extras.download_resource(session, store, alice, course.slug, "l1", "../../secret")
    with pytest.raises(NotFound):
        lesson_extras.lesson_video(session, store, alice, course.slug, "l2")


def test_resources_of_paid_lessons_need_enrollment(session, media_course, bob, tmp_path):
    course, store = media_course
    lesson = course.lessons[1]
    lesson_extras.put_resource(session, store, lesson, "notes.pdf", b"%PDF-1.4")
    with pytest.raises(Forbidden):
        lesson_extras.download_resource(session, store, bob, course.slug, "l2", "notes.pdf")
    with pytest.raises(Forbidden):
        lesson_extras.upload_resource(session, store, bob, course.slug, "l1", "x.txt", b"x")


@pytest.mark.parametrize("toml, message", [
    ('video = "media/missing.mp4"', "not found"),
    ('video = "../outside.mp4"', "leaves the course folder"),
    ('video = "data/prices.csv"', "video must be one of"),
    ('chapters = [{start = "0:00", title = "x"}]', "chapters need a video"),
    ('video = "media/intro.webm"\nchapters = [{start = "0:99", title = "x"}]', "not a"),
    ('video = "media/intro.webm"\nchapters = [{start = "2:00", title = "b"}, {start = "1:00", title = "a"}]', "in order"),
    ('resources = ["data/../../x"]', "leaves the course folder"),
])
def test_bad_extras_fail_the_import(session, tmp_path, toml, message):
    folder = tmp_path / "learn"
    (folder / "media").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "media" / "intro.webm").write_bytes(b"x")
    (folder / "data" / "prices.csv").write_text("x")
    (tmp_path / "outside.mp4").write_bytes(b"x")
    with pytest.raises(CourseFormatError, match=message):
        build_course(session, tmp_path, lesson_toml={"l1": toml})


def test_notes_and_bookmarks(session, tmp_path, alice, bob):
    course = build_course(session, tmp_path, price_cents=100)
    with pytest.raises(Forbidden):  # a paid lesson of a course alice did not buy
        lesson_extras.save_note(session, alice, course.slug, "l2", "hi")
    note = lesson_extras.save_note(session, alice, course.slug, "l1", "remember: // is floor division")
    assert lesson_extras.get_note(session, alice, course.slug, "l1")["body"] == note["body"]
    assert lesson_extras.get_note(session, bob, course.slug, "l1")["body"] == ""  # notes are private
    with pytest.raises(PayloadTooLarge):
        lesson_extras.save_note(session, alice, course.slug, "l1", "x" * 20_001)
    with pytest.raises(InvalidInput):
        lesson_extras.save_note(session, alice, course.slug, "l1", {"body": "x"})
    lesson_extras.set_bookmark(session, alice, course.slug, "l1", True, "come back")
    assert [b["lesson"] for b in lesson_extras.bookmarks_of(session, alice)] == ["l1"]
    assert lesson_extras.bookmarks_of(session, bob) == []
    with pytest.raises(InvalidInput):
        lesson_extras.set_bookmark(session, alice, course.slug, "l1", True, "x" * 201)
    lesson_extras.set_bookmark(session, alice, course.slug, "l1", False)
    assert lesson_extras.bookmarks_of(session, alice) == []


@pytest.mark.parametrize("text, seconds", [("0:00", 0), ("1:30", 90), ("01:02:03", 3723), ("0:05.25", 5.25)])
def test_timestamps(text, seconds):
    assert lesson_extras.parse_timestamp(text) == seconds
