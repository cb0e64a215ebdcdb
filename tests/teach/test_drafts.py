"""Lesson drafts beside ``lms course import`` (both databases): a course imported from files gets
drafts from its published lessons; a later import moves untouched drafts forward, never an edited one."""
from __future__ import annotations

import copy
import json

from lms_extension.services import course_authoring as authoring
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import MINIMAL_NOTEBOOK, make_user, write_course


def reimport(tmp_path, name, nb, lessons=2):
    return load_course_folder(write_course(tmp_path / name, "drafty", instructor="draft-teacher", notebook=nb,
                                           lessons=lessons))


def heading(draft) -> str:
    source = json.loads(draft.source_notebook)["cells"][0]["source"]
    return "".join(source) if isinstance(source, list) else source


def test_drafts_follow_cli_imports_but_keep_edits(session, tmp_path):
    teacher = make_user(session, "draft-teacher", instructor=True)
    course = import_course(session, reimport(tmp_path, "v1", MINIMAL_NOTEBOOK))
    drafts = authoring.drafts_of(session, course)
    assert [(d.key, d.title, d.free_preview) for d in drafts] == [("l1", "Lesson 1", True), ("l2", "Lesson 2", False)]
    assert [r.state for r in authoring.lesson_rows(session, course)] == ["published", "published"]

    v2 = copy.deepcopy(MINIMAL_NOTEBOOK)
    v2["cells"][0]["source"] = "# Squares v2"
    edited = copy.deepcopy(MINIMAL_NOTEBOOK)
    edited["cells"][0]["source"] = "# Squares, my web edit"
    authoring.put_lesson_source(session, teacher, "drafty", "l2", json.dumps(edited))
    import_course(session, reimport(tmp_path, "v2", v2, lessons=3))  # the CLI: new sources and a third lesson
    session.expire_all()
    drafts = {d.key: d for d in authoring.drafts_of(session, course)}
    assert heading(drafts["l1"]) == "# Squares v2"  # untouched: moved forward
    assert heading(drafts["l2"]) == "# Squares, my web edit"  # edited on the web: kept
    assert "l3" in drafts and drafts["l3"].position == 2
    # publishing then keeps the CLI's l1 and makes the web edit of l2 a new version
    result = authoring.publish(session, teacher, "drafty")
    assert result["new_versions"] == [{"lesson": "l2", "version": 3}]
    assert [ls.key for ls in course.lessons] == ["l1", "l2", "l3"]


def test_a_slug_taken_at_the_same_moment_is_a_conflict(engine):
    """Two replicas create the same course at once: the second commit's unique slug is a 409, not a 500."""
    import pytest
    from sqlalchemy.orm import Session

    from lms_extension.errors import Conflict
    from lms_extension.services.users import ensure_user

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL")
    body = {"slug": "raced-course", "title": "Raced", "category": "Programming", "level": "beginner"}
    with Session(engine) as first, Session(engine) as second:
        a, b = ensure_user(first, "race-a", instructor=True), ensure_user(second, "race-b", instructor=True)
        first.commit()
        second.commit()
        authoring.create_course(first, a, body)  # checked and flushed, not committed yet
        import threading
        committer = threading.Timer(0.5, first.commit)
        committer.start()
        try:
            with pytest.raises(Conflict, match="already exists"):
                # its check cannot see the first's row; PostgreSQL makes its insert wait, then refuse
                authoring.create_course(second, b, body)
        finally:
            committer.join()
        second.rollback()
