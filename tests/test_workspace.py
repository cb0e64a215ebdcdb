"""Lesson notebooks land in the workspace without ever overwriting the student's edits."""
import json

import pytest

from lms_extension.labserver.workspace import MANIFEST, lock_lesson, place_lesson, placed_lessons


def nb(text):
    return json.dumps({"cells": [{"cell_type": "markdown", "source": text, "metadata": {}}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_first_open_writes_and_reopen_keeps(tmp_path):
    placed = place_lesson(tmp_path, "py", "l1", 1, nb("v1"))
    assert placed.path == tmp_path / "courses/py/l1.ipynb" and placed.newer_beside is None
    assert json.loads(placed.path.read_text())["cells"][0]["source"] == "v1"
    again = place_lesson(tmp_path, "py", "l1", 1, nb("v1"))
    assert again.newer_beside is None and again.version == 1


def test_untouched_file_is_upgraded_in_place(tmp_path):
    place_lesson(tmp_path, "py", "l1", 1, nb("v1"))
    placed = place_lesson(tmp_path, "py", "l1", 2, nb("v2"))
    assert placed.newer_beside is None and "v2" in placed.path.read_text()
    assert json.loads((tmp_path / "courses/py" / MANIFEST).read_text())["l1.ipynb"]["version"] == 2


def test_edited_file_is_never_overwritten(tmp_path):
    first = place_lesson(tmp_path, "py", "l1", 1, nb("v1"))
    first.path.write_text(nb("MY WORK"))
    placed = place_lesson(tmp_path, "py", "l1", 2, nb("v2"))
    assert "MY WORK" in placed.path.read_text()
    assert placed.newer_beside == tmp_path / "courses/py/l1.v2.ipynb"
    assert "v2" in placed.newer_beside.read_text()
    # opening again later does not nag or overwrite
    later = place_lesson(tmp_path, "py", "l1", 2, nb("v2"))
    assert later.newer_beside is None and "MY WORK" in later.path.read_text()


def test_file_without_manifest_is_treated_as_the_students(tmp_path):
    folder = tmp_path / "courses/py"
    folder.mkdir(parents=True)
    (folder / "l1.ipynb").write_text("mine")
    placed = place_lesson(tmp_path, "py", "l1", 1, nb("v1"))
    assert (folder / "l1.ipynb").read_text() == "mine" and placed.newer_beside is not None


def test_corrupt_manifest_does_not_lose_work(tmp_path):
    first = place_lesson(tmp_path, "py", "l1", 1, nb("v1"))
    first.path.write_text("edited")
    (tmp_path / "courses/py" / MANIFEST).write_text("{garbage")
    place_lesson(tmp_path, "py", "l1", 2, nb("v2"))
    assert first.path.read_text() == "edited"


def test_symlink_target_refused(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = tmp_path / "home/courses/py"
    folder.mkdir(parents=True)
    (folder / "l1.ipynb").symlink_to(outside)
    with pytest.raises(ValueError, match="symlink"):
        place_lesson(tmp_path / "home", "py", "l1", 1, nb("v1"))
    assert outside.read_text() == "precious"


@pytest.mark.parametrize("course, lesson", [("../etc", "l1"), ("py", "../../x"), ("Py", "l1"), ("py", "")])
def test_unsafe_ids_refused(tmp_path, course, lesson):
    with pytest.raises(ValueError):
        place_lesson(tmp_path, course, lesson, 1, nb("x"))


def test_lock_replaces_every_copy_with_a_read_only_notice(tmp_path):
    first = place_lesson(tmp_path, "py", "l1", 1, nb("PAID LESSON v1"))
    first.path.write_text(nb("MY WORK on PAID LESSON"))
    beside = place_lesson(tmp_path, "py", "l1", 2, nb("PAID LESSON v2")).newer_beside
    place_lesson(tmp_path, "py", "l2", 1, nb("OTHER LESSON"))
    assert placed_lessons(tmp_path) == [("py", "l1"), ("py", "l2")]
    locked = lock_lesson(tmp_path, "py", "l1", "Your purchase was refunded.")
    assert set(locked) == {first.path, beside}
    notice = json.loads(first.path.read_text())
    assert "PAID LESSON" not in first.path.read_text() and "refunded" in notice["cells"][0]["source"]
    assert not beside.exists() and first.path.stat().st_mode & 0o222 == 0
    assert "OTHER LESSON" in (tmp_path / "courses/py/l2.ipynb").read_text()
    assert placed_lessons(tmp_path) == [("py", "l2")]  # a locked lesson is not asked about again
    # bought again: opening brings the lesson back in place of the notice
    back = place_lesson(tmp_path, "py", "l1", 2, nb("PAID LESSON v2"))
    assert back.newer_beside is None and "PAID LESSON v2" in back.path.read_text()
    assert back.path.stat().st_mode & 0o200 and placed_lessons(tmp_path) == [("py", "l1"), ("py", "l2")]


def test_lock_never_writes_through_a_symlink(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    place_lesson(tmp_path / "home", "py", "l1", 1, nb("v1"))
    target = tmp_path / "home/courses/py/l1.ipynb"
    target.unlink()
    target.symlink_to(outside)
    lock_lesson(tmp_path / "home", "py", "l1", "gone")
    assert outside.read_text() == "precious" and not target.exists()


def test_a_copy_in_the_old_exchange_layout_moves_to_the_one_place(tmp_path):
    legacy = tmp_path / "py/l1/l1.ipynb"  # where nbgrader's fetch used to put it
    legacy.parent.mkdir(parents=True)
    legacy.write_text(nb("MY OLD WORK"))
    placed = place_lesson(tmp_path, "py", "l1", 2, nb("v2"))
    assert not legacy.exists() and "MY OLD WORK" in placed.path.read_text()
    assert placed.newer_beside == tmp_path / "courses/py/l1.v2.ipynb"  # kept as the student's
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ipynb")) == [
        "courses/py/l1.ipynb", "courses/py/l1.v2.ipynb"]


def test_an_old_layout_symlink_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "l1.ipynb").write_text("not the student's lesson")
    (tmp_path / "home/py").mkdir(parents=True)
    (tmp_path / "home/py/l1").symlink_to(outside)
    placed = place_lesson(tmp_path / "home", "py", "l1", 1, nb("v1"))
    assert (outside / "l1.ipynb").exists() and "v1" in placed.path.read_text()
