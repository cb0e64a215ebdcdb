"""nbgrader's own code paths against the running platform: the ``nbgrader`` CLI (list,
fetch_assignment, validate, submit, fetch_feedback) with the LMS exchange, and the
Assignments panel's server API on a real student server; then what instructors do with the
result (views, manual grades, re-grade) and the hostile cases, over HTTP."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import COURSES, REPO
from tests.factories import MINIMAL_NOTEBOOK, write_course

FREE, LESSON = "python-for-beginners", "01-hello-python"
EXTRA = "exchange-extra"  # a second free course, so that the student has several
NBGRADER = str(Path(sys.executable).with_name("nbgrader"))
STUDENT = "nbgstudent"


def wait_graded(api, lms, submission_id, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(lms + f"api/v1/submissions/{submission_id}").json()
        if body["status"] in ("graded", "failed"):
            return body
        time.sleep(0.3)
    raise TimeoutError(body)


def solve(student_nb: dict, source_path: Path) -> dict:
    """Put the instructor's solutions into the student version's solution cells (by grade_id)."""
    source = {c["metadata"]["nbgrader"]["grade_id"]: c for c in json.loads(source_path.read_text())["cells"]
              if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for cell in student_nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in source:
            cell["source"] = source[gid]["source"]
    return student_nb


@pytest.fixture(scope="module")
def setup(sqlite_platform, tmp_path_factory):
    p = sqlite_platform
    folder = write_course(tmp_path_factory.mktemp("extra"), EXTRA, instructor="instructor")
    done = subprocess.run([sys.executable, "-m", "lms_extension.cli", "course", "import", str(folder)],
                          env={**p.env}, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    token = p.token(STUDENT)
    api = p.as_user(token)
    for slug in (FREE, EXTRA):
        assert api.post(p.lms + f"api/v1/courses/{slug}/enroll").status_code in (200, 201)
    return p, token, api


def nbgrader(setup, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    p, token, _ = setup
    env = {**os.environ, "LMS_SERVICE_URL": p.lms, "JUPYTERHUB_API_TOKEN": token, "JUPYTERHUB_USER": STUDENT,
           "JUPYTER_CONFIG_DIR": str(cwd / ".jupyter"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("JUPYTER_CONFIG_PATH", None)
    return subprocess.run([NBGRADER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_nbgrader_cli_round_trip(setup, tmp_path):
    p, token, api = setup
    listed = nbgrader(setup, tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    for course, lesson in ((FREE, LESSON), (FREE, "05-functions"), (EXTRA, "l1"), (EXTRA, "l2")):
        assert f"{course} {lesson}" in listed.stderr
    assert "algorithms-cpp-java" not in listed.stderr  # not enrolled

    fetched = nbgrader(setup, tmp_path, "fetch_assignment", LESSON, "--course", FREE)
    assert fetched.returncode == 0, fetched.stderr
    path = tmp_path / "courses" / FREE / f"{LESSON}.ipynb"  # where /lms/open puts it too
    text = path.read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    again = nbgrader(setup, tmp_path, "fetch_assignment", LESSON, "--course", FREE)
    assert again.returncode == 0, again.stderr
    assert sorted(tmp_path.rglob("*.ipynb")) == [path]  # fetching twice is still one copy

    # Validate runs the student version (public tests only) in a local kernel, as nbgrader's does
    failing = nbgrader(setup, tmp_path, "validate", str(path))
    assert "VALIDATION FAILED ON" in failing.stdout, failing.stdout + failing.stderr
    assert "HIDDEN" not in failing.stdout
    path.write_text(json.dumps(solve(json.loads(text), COURSES / FREE / "lessons" / f"{LESSON}.ipynb")))
    passing = nbgrader(setup, tmp_path, "validate", str(path))
    assert "Success! Your notebook passes all the tests." in passing.stdout, passing.stdout + passing.stderr

    submitted = nbgrader(setup, tmp_path, "submit", LESSON, "--course", FREE)
    assert submitted.returncode == 0, submitted.stderr
    assert "Submitted as" in submitted.stderr
    sub = api.get(p.lms + "api/v1/exchange/submissions", params={"course_id": FREE, "assignment_id": LESSON}).json()
    graded = wait_graded(api, p.lms, sub["submissions"][-1]["id"])
    assert graded["status"] == "graded" and graded["score"] == graded["max_score"] > 0, graded

    cached = nbgrader(setup, tmp_path, "list", "--cached")
    assert "feedback ready to be fetched" in cached.stderr, cached.stderr
    fb = nbgrader(setup, tmp_path, "fetch_feedback", LESSON, "--course", FREE)
    assert fb.returncode == 0, fb.stderr
    (html,) = (tmp_path / "courses" / FREE / "feedback" / LESSON).glob("*/*.html")
    assert "HIDDEN" not in html.read_text() and "lms-feedback" in html.read_text()
    assert "feedback already fetched" in nbgrader(setup, tmp_path, "list", "--cached").stderr

    # hostile: another course's assignment, ids that are paths, instructor-side steps
    denied = nbgrader(setup, tmp_path, "fetch_assignment", "03-binary-search", "--course", "algorithms-cpp-java")
    assert denied.returncode != 0 and "LMS refused (403)" in denied.stderr
    traversal = nbgrader(setup, tmp_path, "fetch_assignment", "../../etc", "--course", FREE)
    assert traversal.returncode != 0 and "assignment id" in traversal.stderr
    release = nbgrader(setup, tmp_path, "release_assignment", LESSON, "--course", FREE)
    assert release.returncode != 0 and "done by the LMS" in release.stderr


def test_assignments_panel_api_on_the_student_server(setup):
    p, token, api = setup
    p.start_server(STUDENT)
    try:
        user = requests.Session()
        user.headers["Authorization"] = f"token {token}"
        base = f"{p.url}/user/{STUDENT}/"
        lab = user.get(base + "lab").text
        config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                      lab, re.S).group(1))
        disabled = config["disabledExtensions"]
        assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(disabled)
        assert "@jupyter/nbgrader:assignment-list" not in disabled
        assert "@jupyter/nbgrader:validate-assignment" not in disabled
        courses = user.get(base + "courses").json()
        assert courses["success"] and {FREE, EXTRA} <= set(courses["value"]), courses
        listed = user.get(base + "assignments", params={"course_id": EXTRA}).json()
        assert listed["success"], listed
        assert {(a["assignment_id"], a["status"]) for a in listed["value"]} == {("l1", "released"), ("l2", "released")}
        # l2 opened from the LMS first: the panel shows it fetched, fetching it again adds no copy
        opened = user.get(base + "lms/open", params={"course": EXTRA, "lesson": "l2"}, allow_redirects=False)
        assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/tree/courses/{EXTRA}/l2.ipynb")
        listed = user.get(base + "assignments", params={"course_id": EXTRA}).json()
        l2 = next(a for a in listed["value"] if a["assignment_id"] == "l2" and a["status"] != "submitted")
        assert l2["status"] == "fetched" and [n["path"] for n in l2["notebooks"]] == [f"courses/{EXTRA}/l2.ipynb"]
        again = user.post(base + "assignments/fetch", json={"course_id": EXTRA, "assignment_id": "l2"}).json()
        assert again["success"], again
        # l1 fetched from the panel first: opening it from the LMS lands on the same file
        fetched = user.post(base + "assignments/fetch", json={"course_id": EXTRA, "assignment_id": "l1"}).json()
        l1 = next(a for a in fetched["value"] if a["assignment_id"] == "l1" and a["status"] != "submitted")
        assert l1["status"] == "fetched" and [n["path"] for n in l1["notebooks"]] == [f"courses/{EXTRA}/l1.ipynb"]
        opened = user.get(base + "lms/open", params={"course": EXTRA, "lesson": "l1"}, allow_redirects=False)
        assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/tree/courses/{EXTRA}/l1.ipynb")
        tree = user.get(f"{base}api/contents/courses/{EXTRA}").json()["content"]
        assert sorted(f["name"] for f in tree if f["type"] == "notebook") == ["l1.ipynb", "l2.ipynb"]
        contents = f"{base}api/contents/courses/{EXTRA}/l1.ipynb"
        nb = user.get(contents).json()["content"]
        assert "SECRET-HIDDEN" not in json.dumps(nb)
        solved = json.loads(json.dumps(nb))
        solved["cells"][1]["source"] = "def square(x):\n    return x * x"
        assert user.put(contents, json={"type": "notebook", "format": "json", "content": solved}).status_code == 200
        after = user.post(base + "assignments/submit", json={"course_id": EXTRA, "assignment_id": "l1"}).json()
        assert after["success"], after
        (entry,) = [a for a in after["value"] if a["status"] == "submitted" and a["assignment_id"] == "l1"]
        graded = wait_graded(api, p.lms, entry["submissions"][-1]["submission_id"])
        assert graded["score"] == graded["max_score"] == 2.0
        fb = user.post(base + "assignments/fetch_feedback", json={"course_id": EXTRA, "assignment_id": "l1"}).json()
        (entry,) = [a for a in fb["value"] if a["status"] == "submitted" and a["assignment_id"] == "l1"]
        last = entry["submissions"][-1]
        assert last["has_local_feedback"] and not last["feedback_updated"]
        feedback_file = user.get(f"{base}api/contents/{last['local_feedback_path']}/l1.html").json()
        assert "SECRET-HIDDEN" not in feedback_file["content"]
    finally:
        p.stop_server(STUDENT)


def test_instructor_views_grades_and_regrade(setup):
    p, token, api = setup
    teacher = p.as_user(p.token("instructor"))
    rows = teacher.get(p.lms + f"api/v1/teach/courses/{EXTRA}/lessons/l1/submissions").json()["submissions"]
    if not rows:  # this test may run alone: make a graded submission first
        r = api.post(p.lms + f"api/v1/exchange/courses/{EXTRA}/assignments/l1/submissions",
                     json={"notebooks": {"l1.ipynb": MINIMAL_NOTEBOOK}})
        wait_graded(api, p.lms, r.json()["id"])
        rows = teacher.get(p.lms + f"api/v1/teach/courses/{EXTRA}/lessons/l1/submissions").json()["submissions"]
    sid = rows[0]["id"]
    assert rows[0]["student"] == STUDENT
    detail = teacher.get(p.lms + f"api/v1/teach/submissions/{sid}").json()
    assert "SECRET-HIDDEN" in json.dumps(detail["autograded"])
    page = teacher.get(p.lms + f"teach/submissions/{sid}")
    assert page.status_code == 200 and "SECRET-HIDDEN" in page.text
    assert teacher.get(p.lms + f"teach/courses/{EXTRA}/lessons/l1/submissions").status_code == 200
    assert f"teach/courses/{EXTRA}/grading" in teacher.get(p.lms + "teach").text

    r = teacher.put(p.lms + f"api/v1/teach/submissions/{sid}/grades", json={"grades": [
        {"notebook": "l1.ipynb", "grade_id": "test_square", "points": 1.5, "comment": "Mind negative numbers."}]})
    assert r.status_code == 200 and r.json()["score"] == 1.5, r.text
    mine = api.get(p.lms + f"api/v1/submissions/{sid}").json()
    assert mine["score"] == 1.5 and "SECRET-HIDDEN" not in json.dumps(mine)
    assert "Mind negative numbers." in api.get(p.lms + f"courses/{EXTRA}/lessons/l1").text

    r = teacher.post(p.lms + f"api/v1/teach/submissions/{sid}/regrade")
    assert r.status_code == 202 and r.json()["regrades"] >= 1
    again = wait_graded(api, p.lms, sid)
    assert again["status"] == "graded" and again["score"] == 1.5  # the manual grade survives the re-grade
    r = teacher.post(p.lms + f"api/v1/teach/courses/{EXTRA}/lessons/l1/regrade")
    assert r.status_code == 202 and r.json()["requeued"] >= 1

    # the student's feedback page: the platform's page framing their notebook as graded, which is
    # sandboxed and holds no hidden tests
    wait_graded(api, p.lms, sid)
    fb = api.get(p.lms + f"submissions/{sid}/feedback")
    assert fb.status_code == 200 and 'class="topbar"' in fb.text
    assert f'src="/services/lms/submissions/{sid}/feedback/file" sandbox' in fb.text
    raw = api.get(p.lms + f"submissions/{sid}/feedback/file")
    assert raw.status_code == 200 and raw.headers["Content-Security-Policy"].startswith("sandbox;")
    assert "frame-ancestors 'self'" in raw.headers["Content-Security-Policy"]
    assert "SECRET-HIDDEN" not in raw.text and "Mind negative numbers." in raw.text
    for page in ("feedback", "feedback/file"):  # students' own only
        assert teacher.get(p.lms + f"submissions/{sid}/{page}").status_code == 404

    # the instructor's forms, in a browser-like session (cookies + xsrf)
    browser = p.login("instructor", p.demo_password)
    page = browser.get(p.lms + f"teach/submissions/{sid}")
    assert page.status_code == 200 and 'id="manual-grades"' in page.text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    saved = browser.post(p.lms + f"teach/submissions/{sid}", data={
        "_xsrf": xsrf, "points:l1.ipynb:test_square": "2", "comment:l1.ipynb:test_square": "Fixed: full marks."})
    assert saved.status_code == 200 and 'id="saved"' in saved.text, saved.text[:500]
    assert api.get(p.lms + f"api/v1/submissions/{sid}").json()["score"] == 2.0
    bad = browser.post(p.lms + f"teach/submissions/{sid}", data={"_xsrf": xsrf, "points:l1.ipynb:test_square": "lots"})
    assert bad.status_code == 400
    regraded = browser.post(p.lms + f"teach/courses/{EXTRA}/lessons/l1/regrade", data={"_xsrf": xsrf})
    assert regraded.status_code == 200 and 'id="regraded"' in regraded.text

    # students and forged ids
    assert api.get(p.lms + f"api/v1/teach/submissions/{sid}").status_code == 403
    assert api.post(p.lms + f"api/v1/teach/submissions/{sid}/regrade").status_code == 403
    assert api.put(p.lms + f"api/v1/teach/submissions/{sid}/grades", json={"grades": []}).status_code == 403
    assert api.get(p.lms + f"api/v1/teach/courses/{EXTRA}/lessons/l1/submissions").status_code == 403
    assert api.get(p.lms + f"teach/submissions/{sid}").status_code == 403
    assert teacher.get(p.lms + "api/v1/teach/submissions/999999").status_code == 404
    assert teacher.put(p.lms + f"api/v1/teach/submissions/{sid}/grades", data="{nope").status_code == 400
    other = p.as_user(p.token("nbg-nosy"))
    assert other.get(p.lms + f"api/v1/exchange/submissions/{sid}/feedback").status_code == 404


def test_policy_and_bad_input_over_http(setup):
    p, token, api = setup
    url = p.lms + f"api/v1/exchange/courses/{FREE}/assignments/05-functions/submissions"
    release = api.get(p.lms + f"api/v1/exchange/courses/{FREE}/assignments/05-functions").json()
    first = api.post(url, json={"notebooks": release["notebooks"]})
    assert first.status_code == 202 and first.json()["attempt"] >= 1
    second = api.post(url, json={"notebooks": release["notebooks"]})
    assert second.status_code == 429 and 0 < int(second.headers["Retry-After"]) <= 30
    assert "wait" in second.json()["message"]
    bad = p.lms + f"api/v1/exchange/courses/{EXTRA}/assignments/l2/submissions"
    assert api.post(bad, json={"notebooks": {"l2.ipynb": "{not json"}}).status_code == 400
    assert api.post(bad, json={"notebooks": {"../../l2.ipynb": "{}"}}).status_code == 400
    assert api.post(bad, data=b"x" * (2 * 1024 * 1024)).status_code == 413
    assert api.get(p.lms + "api/v1/exchange/courses/algorithms-cpp-java/assignments/03-binary-search").status_code in (403, 404)
    assert api.get(p.lms + "api/v1/exchange/assignments", params={"course_id": "../x"}).status_code == 400
    assert api.get(p.lms + "api/v1/exchange/submissions/abc/feedback").status_code == 404
    assert requests.get(p.lms + "api/v1/exchange/assignments").status_code == 401
    # which lessons in the home may I still open? (the student's server locks the others)
    access = p.lms + "api/v1/exchange/access"
    r = api.post(access, json={"lessons": [{"course": FREE, "lesson": LESSON}, {"course": FREE, "lesson": "nope"},
                                           {"course": "algorithms-cpp-java", "lesson": "03-binary-search"}]})
    assert r.status_code == 200, r.text
    mine, gone, paid = r.json()["lessons"]
    assert (mine["access"], gone["access"], paid["access"]) == (True, None, False)
    assert "not enrolled" in paid["message"] and mine["message"] is None
    for bad in ({"lessons": "x"}, {"lessons": [{"course": "../x", "lesson": "l1"}]}, {}, [1]):
        assert api.post(access, json=bad).status_code == 400, bad
    assert requests.post(access, json={"lessons": []}).status_code == 401
