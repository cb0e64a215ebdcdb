"""The Course sidebar's endpoints in the student's own server (``/lms/*``), attacked from inside a
real student kernel.

A kernel runs with the student's server token, so it can call everything the sidebar calls. It
must still reach nothing but the student's own lessons and submissions: no file outside the
workspace is read or sent for grading (``..``, absolute paths, symlinks into another home), no
other student's submission is shown, a paid lesson the student did not buy is not graded, and
forged activity reports add no more time than the wall clock."""
from __future__ import annotations

import json

import pytest

from .conftest import kernel_json

FREE, PAID = "python-for-beginners", "data-analysis-with-pandas"

ATTACK = r'''
import json, os, time, urllib.request, urllib.error
base = os.environ["JUPYTERHUB_SERVICE_URL"].rstrip("/") + "/"
token = os.environ["JUPYTERHUB_API_TOKEN"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": "token " + token, "Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=60) as r:
            return r.status, r.read().decode(errors="replace")[:2000]
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:2000]
home = os.path.expanduser("~")
os.makedirs(f"{home}/courses/%(paid)s", exist_ok=True)
# a paid lesson the student never bought, written by hand where the LMS would put it
forged = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
open(f"{home}/courses/%(paid)s/%(paid_lesson)s.ipynb", "w").write(json.dumps(forged))
# a symlink that would send another home's notebook (or any file) for grading
os.makedirs(f"{home}/courses/%(free)s", exist_ok=True)
link = f"{home}/courses/%(free)s/99-stolen.ipynb"
if not os.path.lexists(link):
    os.symlink("/home/noah/courses/%(free)s/%(lesson)s.ipynb", link)
out = {"submit": {}, "context": {}, "activity": {}, "submission": None, "reads": {}}
for name, path in {
    "dotdot": "courses/../../noah/courses/%(free)s/%(lesson)s.ipynb",
    "absolute": "/etc/passwd",
    "absolute_lesson": "/home/noah/courses/%(free)s/%(lesson)s.ipynb",
    "symlink": "courses/%(free)s/99-stolen.ipynb",
    "unbought": "courses/%(paid)s/%(paid_lesson)s.ipynb",
    "not_a_string": 7,
}.items():
    out["submit"][name] = call("POST", "lms/api/submit", {"path": path})
for name, path in {"dotdot": "courses/../../noah/courses/%(free)s/%(lesson)s.ipynb",
                   "unbought": "courses/%(paid)s/%(paid_lesson)s.ipynb"}.items():
    out["context"][name] = call("GET", "lms/api/context?path=" + urllib.request.quote(path))
out["submission"] = call("GET", "lms/api/submissions/%(other_submission)s")
# the LMS itself, with the student's token: the other student's submission is not there either
lms = os.environ["LMS_SERVICE_URL"]
req = urllib.request.Request(lms + "api/v1/submissions/%(other_submission)s", headers={"Authorization": "token " + token})
try:
    out["lms_submission"] = opener.open(req, timeout=30).status
except urllib.error.HTTPError as e:
    out["lms_submission"] = e.code
# forged activity: a burst of pings naming every lesson, and nonsense paths
for i in range(30):
    for lesson in ("01-hello-python", "02-strings", "03-lists-and-loops"):
        call("POST", "lms/activity", {"path": f"courses/%(free)s/{lesson}.ipynb", "active": True})
for name, path in {"dotdot": "../noah/x.ipynb", "absolute": "/etc/passwd", "huge": "a" * 100000}.items():
    out["activity"][name] = call("POST", "lms/activity", {"path": path, "active": True})
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def other_submission(sandbox_platform, two_students):
    """noah opens a lesson and submits it through his own server: the submission maria goes after."""
    p, token = sandbox_platform, two_students["noah"]
    noah = p.as_user(token)
    noah.post(p.lms + f"api/v1/courses/{FREE}/enroll").raise_for_status()
    lesson = p.as_user(token).get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"][0]["id"]
    opened = noah.get(f"{p.url}/user/noah/lms/open", params={"course": FREE, "lesson": lesson}, allow_redirects=False)
    assert opened.status_code == 302, opened.text
    r = noah.post(f"{p.url}/user/noah/lms/api/submit", json={"path": f"courses/{FREE}/{lesson}.ipynb"})
    assert r.status_code == 202, r.text
    return lesson, r.json()["id"]


def test_the_sidebar_endpoints_reach_only_the_students_own_lessons(sandbox_platform, two_students, other_submission):
    p = sandbox_platform
    lesson, submission_id = other_submission
    maria = p.as_user(two_students["maria"])
    maria.post(p.lms + f"api/v1/courses/{FREE}/enroll").raise_for_status()
    paid_lesson = maria.get(p.lms + f"api/v1/courses/{PAID}").json()["lessons"][-1]["id"]

    code = ATTACK % {"free": FREE, "paid": PAID, "lesson": lesson, "paid_lesson": paid_lesson,
                     "other_submission": submission_id}
    out = kernel_json(p, "maria", two_students["maria"], code, timeout=300)

    submit = {name: status for name, (status, _) in out["submit"].items()}
    assert submit["dotdot"] == 400 and submit["not_a_string"] == 400, out["submit"]
    assert submit["absolute"] in (400, 404) and submit["absolute_lesson"] in (400, 404), out["submit"]
    assert submit["symlink"] == 404, out["submit"]  # never followed out of the workspace
    assert submit["unbought"] in (402, 403), out["submit"]  # the LMS refuses a lesson not bought
    for name, (status, body) in out["submit"].items():
        assert "root:" not in body and "Traceback" not in body, (name, body)
        if status >= 400:
            assert json.loads(body).get("message"), (name, body)  # a sentence, not a bare status
    assert out["context"]["dotdot"][0] == 400
    assert out["context"]["unbought"][0] in (402, 403), out["context"]
    status, body = out["submission"]
    assert status == 404 and '"score"' not in body, out["submission"]
    assert out["lms_submission"] == 404
    # a path outside the workspace is no lesson: nothing is counted for it (or it is refused)
    for name, (status, body) in out["activity"].items():
        assert status == 400 or (status == 200 and not json.loads(body)["lesson"]), (name, status, body)
    assert out["activity"]["huge"][0] == 400

    # nothing was graded for maria from any of it
    mine = maria.get(p.lms + f"api/v1/courses/{FREE}/lessons/{lesson}/submissions").json()
    assert mine["submissions"] == [] and mine["attempts_used"] == 0, mine
    # the burst of forged pings took a few seconds of wall clock; the LMS counts no more than that
    progress = maria.get(p.lms + f"api/v1/courses/{FREE}/progress").json()
    assert sum(ls.get("seconds_spent", 0) for ls in progress["lessons"]) <= 120, progress
