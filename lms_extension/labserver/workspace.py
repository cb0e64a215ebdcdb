"""Putting lesson notebooks into a student's workspace without ever losing their edits.

A manifest (``~/courses/<slug>/.lms-manifest.json``) remembers, per file, the lesson
version written and the SHA-256 of what was written. A file whose content still has that
hash is untouched and may be replaced by a newer version; a file the student changed is
never overwritten: the newer version lands beside it (``<lesson>.v<N>.ipynb``).
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


def place_lesson(root: Path, course: str, lesson: str, version: int, notebook: str) -> Placement:
    if not SAFE.match(course) or not SAFE.match(lesson):
        raise ValueError("course and lesson ids may hold only a-z, 0-9 and -")
    folder = root / "courses" / course
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(folder)
    target = folder / f"{lesson}.ipynb"
    data = notebook.encode()
    entry = manifest.get(target.name)
    if target.is_symlink():
        raise ValueError(f"{target} is a symlink; refusing to write through it")
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


def _save(folder: Path, manifest: dict) -> None:
    _write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
