"""The teaching API (/api/v1/teach) on the real app and both databases: create, edit, lesson
sources, publish; bad input is a 4xx with a message and changes nothing stored."""
from __future__ import annotations

import copy
import json
import re

from openapi_spec_validator import validate
from sqlalchemy import select

from lms_extension.models import Course, LessonVersion
from lms_extension.models.audit import AuditEntry
from lms_extension.web.api import openapi, teach as teach_api
from lms_extension.web.app import HANDLER_MODULES

from .conftest import NB

NEW = {"slug": "api-course", "title": "Numerical Python", "subtitle": "Arrays first", "description": "Learn **NumPy**",
       "category": "Data Science", "level": "beginner", "language": "en", "price_cents": 1900, "currency": "eur"}


def actions(factory, target: str) -> list[str]:
    with factory() as db:
        return list(db.scalars(select(AuditEntry.action).where(AuditEntry.target_id.startswith(target))
                               .order_by(AuditEntry.id)))


def test_create_edit_upload_publish(studio):
    base, hub, factory, _ = studio
    teacher = hub.user("api-teacher", instructor=True)
    api = base + "api/v1/teach/courses"
    r = teacher.post(api, json=NEW)
    assert r.status_code == 201, r.text
    assert r.json()["published"] is False and r.json()["lessons"] == [] and r.json()["currency"] == "eur"
    assert teacher.post(api, json=NEW).status_code == 409  # the slug is taken
    r = teacher.patch(f"{api}/api-course", json={"title": "Numerical Python, 2nd ed.", "price_cents": 0})
    assert r.status_code == 200 and r.json()["title"] == "Numerical Python, 2nd ed." and r.json()["price_cents"] == 0
    # nothing to publish yet
    r = teacher.post(f"{api}/api-course/publish")
    assert r.status_code == 400 and "lesson" in r.json()["message"]

    r = teacher.put(f"{api}/api-course/lessons/01-squares/source", data=json.dumps(NB))
    assert r.status_code == 201, r.text
    assert r.json()["created"] is True and r.json()["title"] == "Squares"
    with factory() as db:  # a draft: no lesson for students yet
        course = db.scalars(select(Course).where(Course.slug == "api-course")).one()
        assert course.lessons == [] and course.published is False
    r = teacher.post(f"{api}/api-course/publish")
    assert r.status_code == 200, r.text
    assert r.json()["new_versions"] == [{"lesson": "01-squares", "version": 1}] and r.json()["published"] is True
    with factory() as db:
        (version,) = db.scalars(select(LessonVersion)).all()
        assert "SECRET-HIDDEN" in version.source_notebook and "SECRET-HIDDEN" not in version.student_notebook
        assert "return x * x" not in version.student_notebook  # nbgrader cleared the solution
    # publishing again without changes makes no version; a changed source makes version 2
    assert teacher.post(f"{api}/api-course/publish").json()["new_versions"] == []
    changed = copy.deepcopy(NB)
    changed["cells"][0]["source"] = "# Squares, revised"
    r = teacher.put(f"{api}/api-course/lessons/01-squares/source",
                    json={"notebook": changed, "title": "Squares and roots"})
    assert r.status_code == 200 and r.json()["created"] is False and r.json()["title"] == "Squares and roots"
    assert teacher.get(f"{api}/api-course").json()["lessons"][0]["state"] == "changed"
    assert teacher.post(f"{api}/api-course/publish").json()["new_versions"] == [{"lesson": "01-squares", "version": 2}]
    assert actions(factory, "api-course") == ["course.create", "course.update", "lesson.source_upload",
                                              "course.publish", "course.publish", "lesson.source_upload",
                                              "course.publish"]


def test_bad_fields_are_400_with_a_message(studio):
    base, hub, factory, _ = studio
    teacher = hub.user("api-picky", instructor=True)
    api = base + "api/v1/teach/courses"
    good = {**NEW, "slug": "never-made"}
    bad = [({**good, "slug": "Bad Slug"}, "Address"), ({**good, "title": ""}, "Title"), ({**good, "title": 5}, "Title"),
           ({**good, "title": "x" * 201}, "Title"), ({**good, "level": "expert"}, "Level"),
           ({**good, "price_cents": -1}, "Price"), ({**good, "price_cents": "19"}, "Price"),
           ({**good, "price_cents": True}, "Price"), ({**good, "price_cents": 1.5}, "Price"),
           ({**good, "currency": "xyz"}, "Currency"), ({**good, "language": "<script>"}, "Language"),
           ({**good, "owner": "mallory"}, "unknown"), ({"slug": "x"}, "missing"),
           ({**good, "description": "x" * 20_001}, "Description"), ({**good, "category": "a\nb"}, "Category")]
    for body, word in bad:
        r = teacher.post(api, json=body)
        assert r.status_code == 400 and word in r.json()["message"], (body, r.text)
    for raw in (b"[1, 2]", b"not json", b'"text"'):
        r = teacher.post(api, data=raw)
        assert r.status_code == 400 and r.json()["message"], raw
    with factory() as db:
        assert db.scalars(select(Course).where(Course.slug == "never-made")).first() is None
    assert teacher.post(api, json={**NEW, "slug": "picky"}).status_code == 201
    for body in ({"slug": "other"}, {}, {"title": None}, {"level": 3}, {"price_cents": 10**12}):
        r = teacher.patch(f"{api}/picky", json=body)
        assert r.status_code == 400 and r.json()["message"], body
    assert teacher.get(f"{api}/picky").json()["title"] == NEW["title"]  # nothing lost
    assert teacher.patch(f"{api}/nope", json={"title": "x"}).status_code == 404


def test_only_instructors_and_only_their_own_courses(studio):
    base, hub, factory, _ = studio
    owner, other = hub.user("api-owner", instructor=True), hub.user("api-other", instructor=True)
    student, admin = hub.user("api-student"), hub.user("api-admin", admin=True)
    api = base + "api/v1/teach/courses"
    assert owner.post(api, json={**NEW, "slug": "owned"}).status_code == 201
    import requests
    assert requests.post(api, json={**NEW, "slug": "anon"}).status_code == 401
    r = student.post(api, json={**NEW, "slug": "students"})
    assert r.status_code == 403 and r.json()["message"]
    for client in (other, student):
        assert client.patch(f"{api}/owned", json={"title": "Mine now"}).status_code == 403
        assert client.put(f"{api}/owned/lessons/l1/source", data=json.dumps(NB)).status_code == 403
        assert client.post(f"{api}/owned/publish").status_code == 403
    assert owner.get(f"{api}/owned").json()["title"] == NEW["title"]
    # an admin may edit anyone's course
    r = admin.patch(f"{api}/owned", json={"subtitle": "Edited by an admin"})
    assert r.status_code == 200 and r.json()["subtitle"] == "Edited by an admin"


def test_broken_notebooks_name_the_cell(studio):
    base, hub, factory, _ = studio
    teacher = hub.user("api-nb", instructor=True)
    api = base + "api/v1/teach/courses"
    assert teacher.post(api, json={**NEW, "slug": "nbcourse"}).status_code == 201
    url = f"{api}/nbcourse/lessons/l1/source"

    def broken(change):
        nb = copy.deepcopy(NB)
        change(nb)
        return json.dumps(nb)

    def dup(nb):
        nb["cells"][2]["metadata"]["nbgrader"]["grade_id"] = "square"

    def no_points(nb):
        del nb["cells"][2]["metadata"]["nbgrader"]["points"]

    def no_grade_id(nb):
        del nb["cells"][1]["metadata"]["nbgrader"]["grade_id"]

    def meta_not_object(nb):
        nb["cells"][1]["metadata"]["nbgrader"] = "solution"

    def bad_cell_type(nb):
        nb["cells"][2]["cell_type"] = "python"

    def bad_source(nb):
        nb["cells"][0]["source"] = 42

    for change, cell in ((dup, 3), (no_points, 3), (no_grade_id, 2), (meta_not_object, 2), (bad_cell_type, 3),
                         (bad_source, 1)):
        r = teacher.put(url, data=broken(change))
        assert r.status_code == 400, (change.__name__, r.text)
        assert f"cell {cell}" in r.json()["message"] and r.json().get("cell") == cell, (change.__name__, r.json())
    for raw, word in ((b"{not json", "JSON"), (b'{"cells": 3}', "notebook"), (b"\xff\xfe", "JSON"),
                      (json.dumps({**NB, "nbformat": 3}).encode(), "version 4"), (b"[]", "notebook")):
        r = teacher.put(url, data=raw)
        assert r.status_code == 400 and word in r.json()["message"], (raw, r.text)
    for key in ("Bad_Key", "-x", "a" * 101):
        assert teacher.put(f"{api}/nbcourse/lessons/{key}/source", data=json.dumps(NB)).status_code in (400, 404)
    huge = copy.deepcopy(NB)
    huge["cells"][0]["source"] = "x" * (2 * 1024 * 1024)
    assert teacher.put(url, data=json.dumps(huge)).status_code == 413
    assert teacher.get(f"{api}/nbcourse").json()["lessons"] == []  # nothing stored


def test_openapi_documents_the_teach_routes():
    doc = openapi.document("/services/lms/", HANDLER_MODULES)
    validate(doc)
    documented = {re.sub(r"\{[^}]+\}", "{}", "/api/v1" + path) + method
                  for path, ops in doc["paths"].items() for method in ops}
    for pattern, handler in teach_api.default_handlers:
        for method in ("get", "post", "put", "patch"):
            if method in vars(handler):
                assert "/" + pattern.replace("([^/]+)", "{}") + method in documented, (pattern, method)
    assert doc["paths"]["/teach/courses"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] \
        == ["slug", "title", "category", "level"]
