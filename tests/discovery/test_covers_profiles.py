"""Cover images (uploaded: checked by content, re-encoded; generated SVG), lesson durations from
course.toml or the importer's estimate, display names and instructor profiles."""
import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from lms_extension.errors import CourseFormatError, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from lms_extension.models import Lesson
from lms_extension.models.course import CourseCover
from lms_extension.services import catalog, certificates, course_import, covers, users
from lms_extension.services.storage import LocalStorage
from tests.factories import make_course, make_user, write_course


def image_bytes(fmt: str, size=(1200, 800), color=(200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` pixels, with a tiny (bogus) body."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt, kind", [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp")])
def test_each_accepted_format_becomes_16_9_webp_in_several_widths(fmt, kind):
    data = image_bytes(fmt)
    assert covers.sniff(data) == kind
    out = covers.renditions(data, covers.COVER_WIDTHS, covers.COVER_RATIO)
    assert [(r.width, r.height) for r in out] == [(320, 180), (640, 360), (960, 540)]
    for r in out:
        assert r.data[:4] == b"RIFF" and r.data[8:12] == b"WEBP"
        assert Image.open(io.BytesIO(r.data)).size == (r.width, r.height)


def test_a_small_image_is_not_blown_up():
    out = covers.renditions(image_bytes("PNG", (400, 400)), covers.COVER_WIDTHS, covers.COVER_RATIO)
    assert [r.width for r in out] == [320]


@pytest.mark.parametrize("data, error, reason", [
    (b"GIF89a" + b"\0" * 100, InvalidInput, "not a PNG, JPEG or WebP"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', InvalidInput, "not a PNG"),
    (b"<?php echo 1; ?>", InvalidInput, "not a PNG"),
    (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, InvalidInput, "could not be read"),
    (b"\xff\xd8\xff" + b"\0" * 50, InvalidInput, "could not be read"),
    (b"", InvalidInput, "choose an image"),
    (png_header_claiming(30000, 30000), InvalidInput, "megapixels"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (covers.MAX_IMAGE_BYTES + 1), PayloadTooLarge, "at most 1000 kB"),
])
def test_hostile_uploads_are_refused_with_a_reason(data, error, reason):
    with pytest.raises(error) as exc:
        covers.renditions(data, covers.COVER_WIDTHS, covers.COVER_RATIO)
    assert reason in exc.value.message


def test_a_png_named_jpeg_is_judged_by_its_bytes():
    # the type comes from the magic bytes; a PNG body declared as JPEG still decodes as PNG
    png = image_bytes("PNG")
    assert covers.sniff(png) == "png" and covers.renditions(png, (320,), covers.COVER_RATIO)


def test_svg_cover_is_deterministic_and_escapes_the_title():
    a = covers.svg_cover('<script>alert("x")</script> & more', "Data & AI", "slug-a")
    assert a == covers.svg_cover('<script>alert("x")</script> & more', "Data & AI", "slug-a")
    assert "<script>" not in a and "&lt;script&gt;" in a and "DATA &amp; AI" in a
    assert a != covers.svg_cover("Same", "Same", "slug-b") and 'viewBox="0 0 640 360"' in a
    long = covers.svg_cover("word " * 60, "x", "s")
    assert long.count('class="t"') == 3 and "…" in long


def test_upload_cover_only_by_its_instructor_and_replaces_the_old_files(session, tmp_path):
    course = make_course(session, tmp_path, "covered", instructor="teacher")
    store = LocalStorage(tmp_path / "store")
    teacher, other = users.by_name(session, "teacher"), make_user(session, "other", instructor=True)
    with pytest.raises(Forbidden):
        covers.upload_cover(session, store, other, "covered", image_bytes("PNG"))
    with pytest.raises(Forbidden):
        covers.upload_cover(session, store, teacher, "no-such-course", image_bytes("PNG"))
    first = covers.upload_cover(session, store, teacher, "covered", image_bytes("JPEG"))
    v1 = first.version
    assert covers.cover_file(session, store, course.id, v1, 640)[8:12] == b"WEBP"
    second = covers.upload_cover(session, store, teacher, "covered", image_bytes("PNG", color=(0, 0, 255)))
    assert second.version != v1 and (second.width, second.height) == (960, 540)
    assert not store.exists(covers.cover_key(course.id, v1, 640))
    with pytest.raises(NotFound):  # an old version's URL
        covers.cover_file(session, store, course.id, v1, 640)
    with pytest.raises(NotFound):  # a width that was not made
        covers.cover_file(session, store, course.id, second.version, 123)
    [card] = catalog.cards_by_ids(session, [course.id])
    assert card.cover_version == second.version and card.cover_widths == "320,640,960"
    assert session.scalars(select(CourseCover)).one().course_id == course.id


def test_lesson_minutes_from_course_toml_or_estimated(session, tmp_path):
    folder = write_course(tmp_path, "timed", lessons=2)
    spec = course_import.load_course_folder(folder)
    assert all(5 <= ls.minutes <= course_import.MAX_LESSON_MINUTES and ls.minutes % 5 == 0 for ls in spec.lessons)
    text = (folder / "course.toml").read_text()
    (folder / "course.toml").write_text(text.replace('[[lessons]]\n', '[[lessons]]\nminutes = 42\n', 1))
    course = course_import.import_course(session, course_import.load_course_folder(folder))
    assert course.lessons[0].minutes == 42 and course.minutes == 42 + course.lessons[1].minutes
    [card] = catalog.cards_by_ids(session, [course.id])
    assert card.minutes == course.minutes
    for bad in ("0", "-5", '"ten"', "true", "601"):
        (folder / "course.toml").write_text(text.replace('[[lessons]]\n', f'[[lessons]]\nminutes = {bad}\n', 1))
        with pytest.raises(CourseFormatError, match="minutes must be a whole number"):
            course_import.load_course_folder(folder)


def test_estimate_grows_with_the_notebook():
    def nb(words, code, answers):
        cells = [{"cell_type": "markdown", "source": "word " * words}]
        cells += [{"cell_type": "code", "source": "x", "metadata": {}}] * code
        cells += [{"cell_type": "code", "source": "x", "metadata": {"nbgrader": {"solution": True}}}] * answers
        return {"cells": cells}
    assert course_import.estimate_minutes(nb(0, 0, 0)) == 5
    assert course_import.estimate_minutes(nb(1800, 10, 4)) == 5 * round((10 + 15 + 24) / 5)
    assert course_import.estimate_minutes(nb(10 ** 7, 0, 0)) == course_import.MAX_LESSON_MINUTES


@pytest.mark.parametrize("raw, reason", [
    ("", "enter a display name"),
    ("   ", "enter a display name"),
    ("x" * 81, "at most 80"),
    ("Ada\nLovelace", "control characters"),
    ("Ada\x00", "control characters"),
    ("Ada\u202eecalevol", "invisible formatting"),
    ("Ada\u200b", "invisible formatting"),
    (None, "must be text"),
])
def test_hostile_display_names_are_refused(session, raw, reason):
    user = make_user(session, "namer")
    with pytest.raises(InvalidInput) as exc:
        users.update_profile(session, user, display_name=raw)
    assert reason in exc.value.message and exc.value.details["field"] == "display_name"


def test_display_name_reaches_certificates_and_instructor_profile(session, tmp_path):
    course = make_course(session, tmp_path, "named", instructor="teacher")
    student = make_user(session, "stud")
    cert = certificates.issue(session, student, course)
    users.update_profile(session, student, display_name="  Ada   Lovelace ")
    assert student.display_name == "Ada Lovelace"
    assert certificates.rename_holder(session, student.id, student.display_name) == 1
    assert cert.student_name == "Ada Lovelace"
    with pytest.raises(Forbidden):  # students have no public profile
        users.update_profile(session, student, display_name="Ada", headline="Hacker")
    teacher = users.by_name(session, "teacher")
    users.update_profile(session, teacher, display_name="Grace Hopper", headline="Compilers",
                         bio="**Rear admiral**\r\n\n<script>x</script>")
    person, instructor, ids = users.public_instructor(session, "teacher")
    assert (person.display_name, instructor.headline, ids) == ("Grace Hopper", "Compilers", [course.id])
    assert instructor.bio.startswith("**Rear admiral**\n")
    for bad in ({"headline": "a\nb"}, {"headline": "h" * 121}, {"bio": "b" * 5001}, {"bio": "a\x07"}):
        with pytest.raises(InvalidInput):
            users.update_profile(session, teacher, display_name="Grace", **bad)
    for name in ("stud", "nobody", "", "x" * 300):
        with pytest.raises(NotFound):
            users.public_instructor(session, name)


def test_instructor_photo_is_square_and_only_the_current_one_is_served(session, tmp_path):
    make_course(session, tmp_path, "photo-course", instructor="teacher")
    store = LocalStorage(tmp_path / "store")
    teacher = users.by_name(session, "teacher")
    with pytest.raises(InvalidInput):
        users.set_photo(session, store, teacher, b"not an image")
    first = users.set_photo(session, store, teacher, image_bytes("JPEG", (500, 300))).photo_version
    assert users.photo_widths(first) == [96, 256]
    img = Image.open(io.BytesIO(users.photo_file(session, store, teacher.instructor.id, first, 256)))
    assert img.size == (256, 256)
    second = users.set_photo(session, store, teacher, image_bytes("PNG", (300, 300))).photo_version
    with pytest.raises(NotFound):
        users.photo_file(session, store, teacher.instructor.id, first, 256)
    assert not store.exists(users.photo_key(teacher.instructor.id, first, 256))
    assert users.photo_file(session, store, teacher.instructor.id, second, 96)
    with pytest.raises(Forbidden):
        users.set_photo(session, store, make_user(session, "plain"), image_bytes("PNG"))


def test_every_sample_course_gets_durations():
    from pathlib import Path
    for folder in course_import.course_folders(Path(__file__).resolve().parents[2] / "courses"):
        spec = course_import.load_course_folder(folder)
        assert all(ls.minutes >= 5 for ls in spec.lessons), folder.name
