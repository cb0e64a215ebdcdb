"""The Teach panel's endpoints (``/lms/api/teach/*`` in a user's own server, ``api/v1/teach/*`` at the
LMS), attacked from inside real kernels.

A kernel runs with its server's own token, so student code can call everything the Teach panel
calls. A student's kernel gets a plain "not an instructor" from status and a 403 with a sentence
from every other endpoint, whatever path tricks it sends ('..', absolute paths, symlinks it placed
in ~/teach pointing at another home or /etc): no course or lesson version appears on the LMS and
no file is written outside its home (nor in ~/teach). An instructor's kernel reaches only its own
courses: another instructor's course is refused (403/404) through its lab server and the LMS."""
from __future__ import annotations

import json
import os

import pytest

from .conftest import kernel_json

OWNED = "python-for-beginners"  # the demo instructor's course
STUDENT, OTHER_STUDENT, TEACHER = "tina", "otto", "teacher2"
OWN_COURSE = "teacher2-own-course"

PRELUDE = r'''
import json, os, urllib.request, urllib.error
base = os.environ["JUPYTERHUB_SERVICE_URL"].rstrip("/") + "/"
lms = os.environ["LMS_SERVICE_URL"]
token = os.environ["JUPYTERHUB_API_TOKEN"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, url, body=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": "token " + token, "Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=120) as r:
            return r.status, r.read().decode(errors="replace")[:40000]
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:40000]
home = os.path.expanduser("~")
def tree(root):
    found = []
    for d, dirs, files in os.walk(root, followlinks=False):
        found += [os.path.relpath(os.path.join(d, n), root) for n in dirs + files]
    return sorted(found)
'''

STUDENT_ATTACK = PRELUDE + r'''
teach = f"{home}/teach"
os.makedirs(f"{teach}/mine/lessons", exist_ok=True)
for name, target in {"etc": "/etc", "other": "/home/%(other)s", "otherteach": "/home/%(other)s/teach",
                     "root": "/"}.items():
    if not os.path.lexists(f"{teach}/{name}"):
        os.symlink(target, f"{teach}/{name}")
# a course folder of the student's own whose files point out of it, and whose slug is a course
# the student does not teach
open(f"{teach}/mine/course.toml", "w").write(
    'slug = "%(owned)s"\ntitle = "Mine"\n[[lessons]]\nid = "01-x"\ntitle = "X"\n'
    'notebook = "../../../../etc/passwd"\nchallenges = ["/etc/hostname"]\n')
if not os.path.lexists(f"{teach}/mine/lessons/01-x.ipynb"):
    os.symlink("/etc/passwd", f"{teach}/mine/lessons/01-x.ipynb")
before = tree(home)
out = {"lab": {}, "lms": {}}
out["lab"]["status"] = call("GET", base + "lms/api/teach/status")
bodies = {
    "validate": [{"course": "mine"}, {"course": "etc"}, {"course": "../../etc"}, {"course": "/etc"}],
    "preview": [{"course": "mine", "lesson": "01-x"}, {"course": "other", "lesson": "../../x"}],
    "publish": [{"course": "mine"}, {"course": "otherteach"}, {"course": "%(owned)s"}],
    "new-lesson": [{"course": "etc", "lesson": "passwd", "title": "T"}, {"course": "other", "lesson": "x", "title": "T"},
                   {"course": "../../etc", "lesson": "x", "title": "T"}, {"course": "mine", "lesson": "../../x", "title": "T"},
                   {"course": "/etc", "lesson": "x", "title": "T"}],
    "new-course": [{"course": "../../etc", "title": "T"}, {"course": "/tmp/x", "title": "T"},
                   {"course": "stolen-course", "title": "T"}, {"course": "etc", "title": "T"}],
    "get-source": [{"course": "%(owned)s"}, {"course": "../../etc"}, {"course": "/etc"}, {"course": "etc"},
                   {"course": "other"}],
}
for path, items in bodies.items():
    out["lab"][path] = [call("POST", base + "lms/api/teach/" + path, body) for body in items]
    out["lab"][path].append(call("POST", base + "lms/api/teach/" + path, raw=b"not json"))
# the LMS's own teach API with the student's token
nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
chal = 'id = "x"\ntitle = "X"\n[starter]\npython = ""\n[[tests]]\nexpected = ""\n'
for name, (method, path, body) in {
    "author": ("GET", "api/v1/teach/author", None),
    "validate": ("POST", "api/v1/teach/validate", {"notebooks": {"a.ipynb": json.dumps(nb)}}),
    "preview": ("POST", "api/v1/teach/preview", {"name": "a.ipynb", "notebook": json.dumps(nb)}),
    "create": ("POST", "api/v1/teach/courses", {"slug": "stolen-course", "title": "T", "category": "C",
                                                "level": "beginner"}),
    "course": ("GET", "api/v1/teach/courses/%(owned)s", None),
    "edit": ("PATCH", "api/v1/teach/courses/%(owned)s", {"title": "Hacked"}),
    "source": ("PUT", "api/v1/teach/courses/%(owned)s/lessons/01-hello-python/source", nb),
    "new_lesson": ("PUT", "api/v1/teach/courses/%(owned)s/lessons/99-evil/source", nb),
    "publish": ("POST", "api/v1/teach/courses/%(owned)s/publish", {"challenges": {"02-strings": {"x.toml": chal}}}),
    "export": ("GET", "teach/courses/%(owned)s/export.zip", None),
}.items():
    out["lms"][name] = call(method, lms + path, body)
out["added"] = sorted(set(tree(home)) - set(before))
out["teach"] = tree(teach)
print(json.dumps(out))
'''

TEACHER_ATTACK = PRELUDE + r'''
out = {"lab": {}, "lms": {}}
out["lab"]["status"] = call("GET", base + "lms/api/teach/status")
out["lab"]["get_own"] = call("POST", base + "lms/api/teach/get-source", {"course": "%(own)s"})
out["lab"]["get_other"] = call("POST", base + "lms/api/teach/get-source", {"course": "%(owned)s"})
# a folder of its own whose course.toml names the other instructor's course
folder = f"{home}/teach/theirs"
os.makedirs(f"{folder}/lessons", exist_ok=True)
nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": "# Replaced"}]}
open(f"{folder}/lessons/01-hello-python.ipynb", "w").write(json.dumps(nb))
open(f"{folder}/course.toml", "w").write('slug = "%(owned)s"\ntitle = "Theirs"\n[[lessons]]\nid = "01-hello-python"\n'
                                         'title = "Replaced"\nnotebook = "lessons/01-hello-python.ipynb"\n')
out["lab"]["publish_other"] = call("POST", base + "lms/api/teach/publish", {"course": "theirs"})
# path tricks on its own server: symlinked course folders, '..' and absolute names
for name, target in {"etc": "/etc", "otherhome": "/home/%(other)s"}.items():
    if not os.path.lexists(f"{home}/teach/{name}"):
        os.symlink(target, f"{home}/teach/{name}")
out["tricks"] = {
    "new_lesson_symlink_etc": call("POST", base + "lms/api/teach/new-lesson", {"course": "etc", "lesson": "x", "title": "T"}),
    "new_lesson_symlink_home": call("POST", base + "lms/api/teach/new-lesson", {"course": "otherhome", "lesson": "x", "title": "T"}),
    "new_lesson_dotdot_course": call("POST", base + "lms/api/teach/new-lesson", {"course": "../../etc", "lesson": "x", "title": "T"}),
    "new_lesson_dotdot_lesson": call("POST", base + "lms/api/teach/new-lesson", {"course": "theirs", "lesson": "../../../x", "title": "T"}),
    "new_lesson_absolute": call("POST", base + "lms/api/teach/new-lesson", {"course": "/etc", "lesson": "x", "title": "T"}),
    "get_source_dotdot": call("POST", base + "lms/api/teach/get-source", {"course": "../../etc"}),
    "get_source_absolute": call("POST", base + "lms/api/teach/get-source", {"course": "/etc"}),
    "get_source_symlink": call("POST", base + "lms/api/teach/get-source", {"course": "etc"}),
    "new_course_symlink": call("POST", base + "lms/api/teach/new-course", {"course": "etc", "title": "T"}),
    "validate_symlink": call("POST", base + "lms/api/teach/validate", {"course": "etc"}),
}
out["teach"] = sorted(os.listdir(f"{home}/teach"))
for name, (method, path, body) in {
    "own": ("GET", "api/v1/teach/courses/%(own)s", None),
    "course": ("GET", "api/v1/teach/courses/%(owned)s", None),
    "edit": ("PATCH", "api/v1/teach/courses/%(owned)s", {"title": "Hacked"}),
    "source": ("PUT", "api/v1/teach/courses/%(owned)s/lessons/01-hello-python/source", nb),
    "publish": ("POST", "api/v1/teach/courses/%(owned)s/publish", {}),
    "export": ("GET", "teach/courses/%(owned)s/export.zip", None),
}.items():
    out["lms"][name] = call(method, lms + path, body)
print(json.dumps(out))
'''


def snapshot(root) -> dict:
    """Every file and folder under ``root`` with its size and modification time (links not followed)."""
    found = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(d, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            found[path] = (st.st_size, st.st_mtime_ns)
    return found


def message_of(body: str) -> str:
    return json.loads(body).get("message") or ""


@pytest.fixture(scope="module")
def owner(sandbox_platform):
    """The demo instructor's token and its course's lessons as the LMS has them."""
    p = sandbox_platform
    token = p.token("instructor")
    course = p.as_user(token).get(p.lms + f"api/v1/teach/courses/{OWNED}")
    assert course.status_code == 200, course.text
    return token, course.json()


def test_a_students_kernel_cannot_author(sandbox_platform, owner):
    p = sandbox_platform
    instructor_token, course_before = owner
    tokens = {name: p.token(name) for name in (STUDENT, OTHER_STUDENT)}
    for name in tokens:
        p.start_server(name)
    try:
        homes = p.data_dir / "homes"
        # the other homes' files (the disk images under .images change with any write of the student's own)
        mine = (str(homes / STUDENT), str(homes / ".images"))
        others_before = {k: v for k, v in snapshot(homes).items() if not k.startswith(mine)}
        assert any(k.startswith(str(homes / OTHER_STUDENT)) for k in others_before), others_before
        lms_before = p.as_user(instructor_token).get(p.lms + f"api/v1/teach/courses/{OWNED}").json()

        code = STUDENT_ATTACK % {"owned": OWNED, "other": OTHER_STUDENT}
        out = kernel_json(p, STUDENT, tokens[STUDENT], code, timeout=300)

        status, body = out["lab"]["status"]
        assert status == 200 and json.loads(body)["instructor"] is False, body
        assert "folders" not in json.loads(body) and "instructors" in message_of(body)
        for path, answers in out["lab"].items():
            if path == "status":
                continue
            for status, body in answers:
                assert status == 403, (path, status, body)
                assert "instructors" in message_of(body) and message_of(body).count(" ") >= 3, (path, body)
                assert "root:" not in body and "Traceback" not in body, (path, body)
        for name, (status, body) in out["lms"].items():
            assert status == 403, (name, status, body)
            if name == "export":  # a page of the LMS's site: its error page, not a zip
                assert body.lstrip().startswith("<!doctype html>") and "instructor" in body, body
                continue
            assert message_of(body).count(" ") >= 3, (name, body)  # a sentence, not a bare status
            assert "root:" not in body and "BEGIN SOLUTION" not in body, (name, body)

        # nothing written in the student's home by the servers (only what the attack made itself),
        # nothing anywhere else
        assert out["added"] == [], out["added"]
        assert "_preview" not in out["teach"] and "stolen-course" not in out["teach"], out["teach"]
        others_after = {k: v for k, v in snapshot(homes).items() if not k.startswith(mine)}
        assert others_after == others_before
        assert not os.path.exists("/etc/passwd.ipynb") and not os.path.exists("/etc/lessons")
        # and nothing on the LMS: no course, no lesson, no version, the title unchanged
        teacher = p.as_user(instructor_token)
        assert teacher.get(p.lms + "api/v1/teach/courses/stolen-course").status_code == 404
        assert teacher.get(p.lms + f"api/v1/teach/courses/{OWNED}").json() == lms_before == course_before
    finally:
        for name in tokens:
            p.stop_server(name)


def test_an_instructors_kernel_reaches_only_its_own_courses(sandbox_platform, owner):
    p = sandbox_platform
    instructor_token, course_before = owner
    p.create_user(TEACHER)
    r = p.hub("POST", "groups/instructors/users", json={"users": [TEACHER]})
    assert r.status_code == 200, r.text
    token = p.token(TEACHER)  # a token made after joining the group carries the teaching scope
    created = p.as_user(token).post(p.lms + "api/v1/teach/courses", json={
        "slug": OWN_COURSE, "title": "Mine", "category": "Programming", "level": "beginner"})
    assert created.status_code == 201, created.text
    p.start_server(TEACHER)
    try:
        code = TEACHER_ATTACK % {"owned": OWNED, "own": OWN_COURSE, "other": STUDENT}
        out = kernel_json(p, TEACHER, token, code, timeout=300)
        status, body = out["lab"]["status"]
        assert status == 200 and json.loads(body)["instructor"] is True, body
        assert [c["slug"] for c in json.loads(body)["courses"]] == [OWN_COURSE], body
        assert out["lab"]["get_own"][0] == 201, out["lab"]["get_own"]
        for name in ("get_other", "publish_other"):
            status, body = out["lab"][name]
            assert status in (403, 404) and message_of(body), (name, status, body)
        assert out["lms"]["own"][0] == 200, out["lms"]["own"]
        for name, (status, body) in out["lms"].items():
            if name != "own":
                assert status in (403, 404), (name, status, body)
                assert "BEGIN SOLUTION" not in body, name
        tricks = {name: status for name, (status, _) in out["tricks"].items()}
        assert tricks == {"new_lesson_symlink_etc": 404, "new_lesson_symlink_home": 404, "new_lesson_dotdot_course": 400,
                          "new_lesson_dotdot_lesson": 400, "new_lesson_absolute": 400, "get_source_dotdot": 400,
                          "get_source_absolute": 400, "get_source_symlink": 403, "new_course_symlink": 409,
                          "validate_symlink": 404}, out["tricks"]
        for name, (status, body) in out["tricks"].items():
            assert message_of(body) and "root:" not in body, (name, body)
        assert out["teach"] == sorted(["etc", "otherhome", "theirs", OWN_COURSE]), out["teach"]
        after = p.as_user(instructor_token).get(p.lms + f"api/v1/teach/courses/{OWNED}").json()
        assert after == course_before  # no draft, no title, no version changed
    finally:
        p.stop_server(TEACHER)
