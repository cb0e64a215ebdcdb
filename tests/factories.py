"""Test data made through the same code paths the product uses."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from lms_extension.services.course_import import import_course, load_course_folder
from lms_extension.services.users import ensure_user

MINIMAL_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "language_info": {"name": "python"}},
    "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# Squares"},
        {"cell_type": "code", "id": "sol", "execution_count": None, "outputs": [],
         "metadata": {"nbgrader": {"schema_version": 3, "grade": False, "solution": True, "locked": False,
                                   "task": False, "grade_id": "square"}},
         "source": "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"},
        {"cell_type": "code", "id": "test", "execution_count": None, "outputs": [],
         "metadata": {"nbgrader": {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                                   "task": False, "grade_id": "test_square", "points": 2}},
         "source": "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-4) == 16  # SECRET-HIDDEN\n### END HIDDEN TESTS"},
    ],
}


def write_course(root: Path, slug: str = "squares", *, price_cents: int = 0, lessons: int = 2,
                 instructor: str = "teacher", extra_toml: str = "", notebook: dict | None = None,
                 free_preview_first: bool = True) -> Path:
    folder = root / slug
    (folder / "lessons").mkdir(parents=True, exist_ok=True)
    parts = [f'slug = "{slug}"\ntitle = "Course {slug}"\nsubtitle = "Sub {slug}"\n'
             f'description = "About **{slug}**"\ncategory = "Programming"\nlevel = "beginner"\n'
             f'price_cents = {price_cents}\ncurrency = "usd"\ninstructor = "{instructor}"\n{extra_toml}\n']
    for i in range(1, lessons + 1):
        (folder / "lessons" / f"l{i}.ipynb").write_text(json.dumps(notebook or MINIMAL_NOTEBOOK))
        preview = "true" if (i == 1 and free_preview_first) else "false"
        parts.append(f'[[lessons]]\nid = "l{i}"\ntitle = "Lesson {i}"\nnotebook = "lessons/l{i}.ipynb"\nfree_preview = {preview}\n')
    (folder / "course.toml").write_text("\n".join(parts))
    return folder


def make_course(session, tmp_path: Path, slug: str = "squares", **kwargs):
    return import_course(session, load_course_folder(write_course(tmp_path, slug, **kwargs)))


def make_user(session, name: str = "alice", **kwargs):
    return ensure_user(session, name, **kwargs)


def copy_course(src: Path, dst_root: Path) -> Path:
    dst = dst_root / src.name
    shutil.copytree(src, dst)
    return dst
