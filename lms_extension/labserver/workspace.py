"""Putting lesson notebooks into a student's workspace without ever losing their edits.

A manifest (``~/courses/<slug>/.lms-manifest.json``) remembers, per file, the lesson
version written and the SHA-256 of what was written. A file whose content still has that
hash is untouched and may be replaced by a newer version; a file the student changed is
never overwritten: the newer version lands beside it (``<lesson>.v<N>.ipynb``).

``courses/<slug>/<lesson>.ipynb`` is the one place of a lesson: ``/lms/open`` and the nbgrader
Assignments panel's fetch both call ``place_lesson``, so whichever comes first writes it and
the other finds it. When the LMS says the student no longer has access (a refunded purchase),
``lock_lesson`` replaces the lesson's notebooks with a read-only notice; opening the lesson
again after a new purchase replaces the notice with the lesson.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

SAFE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
MANIFEST = ".lms-manifest.json"


@dataclass(frozen=True)
class Placement:
    path: Path  # the notebook the student should open
    newer_beside: Path | None  # set when a newer version was written next to their edited copy
    version: int


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load_manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / MANIFEST).read_text())
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def lesson_path(root: Path, course: str, lesson: str) -> Path:
    """Where a lesson's notebook lives in the student's home (the same for every way in)."""
    if not SAFE.match(course) or not SAFE.match(lesson):
        raise ValueError("course and lesson ids may hold only a-z, 0-9 and -")
    return root / "courses" / course / f"{lesson}.ipynb"


def place_lesson(root: Path, course: str, lesson: str, version: int, notebook: str) -> Placement:
    target = lesson_path(root, course, lesson)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(folder)
    data = notebook.encode()
    entry = manifest.get(target.name)
    if target.is_symlink():
        raise ValueError(f"{target} is a symlink; refusing to write through it")
    if entry is None and not target.exists() and not target.is_symlink():
        _adopt_legacy_copy(root, course, lesson, target)
    if entry and entry.get("locked"):  # access came back (bought again): the notice gives way to the lesson
        for name in _lesson_files(manifest, lesson):
            manifest.pop(name, None)
            if name != target.name and (folder / name).is_file() and not (folder / name).is_symlink():
                (folder / name).unlink()
        if target.is_file():
            target.chmod(0o644)
            target.unlink()
        entry = None
    if not target.exists():
        _write_atomic(target, data)
        manifest[target.name] = {"version": version, "sha256": _sha(data)}
        _save(folder, manifest)
        return Placement(target, None, version)
    if entry and entry.get("version", 0) >= version:
        return Placement(target, None, entry["version"])
    untouched = entry is not None and entry.get("sha256") == _sha(target.read_bytes())
    if untouched:
        _write_atomic(target, data)
        manifest[target.name] = {"version": version, "sha256": _sha(data)}
        _save(folder, manifest)
        return Placement(target, None, version)
    # the student changed their copy (or it predates the manifest): keep it, add the new one beside
    beside = folder / f"{lesson}.v{version}.ipynb"
    if not beside.exists():
        _write_atomic(beside, data)
    manifest[beside.name] = {"version": version, "sha256": _sha(data)}
    manifest[target.name] = {**(entry or {"sha256": None}), "version": version, "kept_edits": True}
    _save(folder, manifest)
    return Placement(target, beside, version)


def _adopt_legacy_copy(root: Path, course: str, lesson: str, target: Path) -> None:
    """nbgrader's fetch used to write ``<course>/<lesson>/<lesson>.ipynb``: such a copy moves to
    the lesson's one place (then counts as the student's: a newer version lands beside it)."""
    legacy = root / course / lesson / f"{lesson}.ipynb"
    parents_safe = not (root / course).is_symlink() and not (root / course / lesson).is_symlink()
    if parents_safe and legacy.is_file() and not legacy.is_symlink():
        os.replace(legacy, target)


def _save(folder: Path, manifest: dict) -> None:
    _write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())


def _lesson_files(manifest: dict, lesson: str) -> list[str]:
    """The manifest's files of one lesson: ``<lesson>.ipynb`` and the ``<lesson>.v<N>.ipynb`` beside it."""
    pattern = re.compile(rf"^{re.escape(lesson)}(?:\.v\d+)?\.ipynb$")
    return sorted(name for name in manifest if pattern.match(name))


def placed_lessons(root: Path) -> list[tuple[str, str]]:
    """(course, lesson) of every lesson placed in the home and not locked, from the manifests."""
    found = []
    courses = root / "courses"
    if not courses.is_dir():
        return found
    for folder in sorted(courses.iterdir()):
        if not SAFE.match(folder.name) or not folder.is_dir() or folder.is_symlink():
            continue
        manifest = _load_manifest(folder)
        for name, entry in sorted(manifest.items()):
            lesson = name[:-len(".ipynb")] if name.endswith(".ipynb") else ""
            if SAFE.match(lesson) and isinstance(entry, dict) and not entry.get("locked"):
                found.append((folder.name, lesson))
    return found


def notice_notebook(title: str, message: str) -> str:
    return json.dumps({"cells": [{"cell_type": "markdown", "id": "lms-locked", "metadata": {"editable": False,
                                                                                          "deletable": False},
                                  "source": f"# {title}\n\n{message}"}],
                       "metadata": {"lms": {"locked": True}}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def lock_lesson(root: Path, course: str, lesson: str, message: str) -> list[Path]:
    """The student lost access to the lesson: its notebooks (the student's copy included, since
    it holds the paid lesson) become a read-only notice saying why. Returns the files locked."""
    target = lesson_path(root, course, lesson)
    folder = target.parent
    manifest = _load_manifest(folder)
    locked = []
    notice = notice_notebook("This lesson is locked", message).encode()
    for name in _lesson_files(manifest, lesson):
        path = folder / name
        if path.is_symlink():
            path.unlink()  # never write through a link; the link itself goes
        elif path.exists():
            path.chmod(0o644)
            if name == target.name:
                _write_atomic(path, notice)
                path.chmod(0o444)
            else:
                path.unlink()  # one notice is enough: the newer versions beside it go
            locked.append(path)
        manifest.pop(name, None)
    manifest[target.name] = {"locked": True, "sha256": _sha(notice), "message": message}
    _save(folder, manifest)
    return locked
