"""The lab server's /lms/api/* (what JupyterLab's Course sidebar reads), on the real platform: the
student's own server asks the LMS as the student; bad paths and non-lessons get clear 4xx
answers, a cooldown a 429 with the wait, no attempts left a 409."""
import json
import time

import pytest
import requests

from lms_extension.kernel.client import LMSError
from lms_extension.labserver.api import NotALesson, lesson_of, refusal
from tests.conftest import COURSES

FREE, LESSON = "python-for-beginners", "05-functions"  # 30 s cooldown, 5 attempts, a deadline
USER = "labapi"


@pytest.fixture(scope="module")
def lab(sqlite_platform):
    p = sqlite_platform
    token = p.token(USER)
    assert p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").status_code == 201
    p.start_server(USER)
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    base = f"{p.url}/user/{USER}/"
    yield s, base
    p.stop_server(USER)


def open_lesson(s, base, lesson):
    r = s.get(base + "lms/open", params={"course": FREE, "lesson": lesson}, allow_redirects=False)
    assert r.status_code == 302, r.text
    return f"courses/{FREE}/{lesson}.ipynb"


def test_context_of_a_lesson_notebook(lab):
    s, base = lab
    path = open_lesson(s, base, LESSON)
    r = s.get(base + "lms/api/context", params={"path": path})
    assert r.status_code == 200, r.text
    ctx = r.json()
    assert ctx["course"]["title"] == "Python for Beginners" and ctx["course"]["url"].endswith(f"courses/{FREE}")
    assert ctx["lesson"] == {"id": LESSON, "title": "Functions", "number": 5,
                             "url": ctx["course"]["url"] + f"/lessons/{LESSON}"}
    assert [row["lesson"] for row in ctx["syllabus"]][3:6] == ["04-conditionals", LESSON, "06-dictionaries"]
    assert ctx["previous"]["lesson"] == "04-conditionals" and ctx["next"]["lesson"] == "06-dictionaries"
    assert ctx["next"]["open_url"] == f"/user/{USER}/lms/open?course={FREE}&lesson=06-dictionaries"
    assert ctx["syllabus"][4]["current"] and ctx["syllabus"][4]["started"]  # opening it started it
    assert ctx["policy"]["max_attempts"] == 5 and ctx["policy"]["cooldown_seconds"] == 30
    assert ctx["policy"]["deadline"].startswith("2027-06-30T23:59")
    assert (ctx["attempts_used"], ctx["attempts_left"], ctx["cooldown_remaining_seconds"]) == (0, 5, 0)
    assert ctx["progress"]["total_lessons"] == 7 and ctx["submissions"] == []
    # a newer version placed beside an edited copy belongs to the same lesson
    assert s.get(base + "lms/api/context", params={"path": f"courses/{FREE}/{LESSON}.v2.ipynb"}).json()["lesson"]["id"] == LESSON


@pytest.mark.parametrize("path, status, words", [
    ("", 400, "path must be"),
    ("../../etc/passwd.ipynb", 400, "no '..'"),
    (f"courses/{FREE}/../x.ipynb", 400, "no '..'"),
    ("courses/x/notes.txt", 400, "notebook"),
    ("scratch/Untitled.ipynb", 404, "not a lesson notebook"),
    ("courses/Bad_Course/l.ipynb", 404, "not a lesson notebook"),
    (f"courses/{FREE}/no-such-lesson.ipynb", 404, "no-such-lesson"),
    ("courses/no-such-course/01-x.ipynb", 404, ""),
])
def test_context_refuses_clearly(lab, path, status, words):
    s, base = lab
    r = s.get(base + "lms/api/context", params={"path": path})
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json") and words in r.json()["message"]


def test_submit_grades_and_a_second_submit_hits_the_cooldown(lab, sqlite_platform):
    s, base = lab
    path = open_lesson(s, base, LESSON)
    solved = json.loads((COURSES / FREE / "lessons" / f"{LESSON}.ipynb").read_text())
    assert s.put(base + f"api/contents/{path}", json={"type": "notebook", "format": "json",
                                                      "content": solved}).status_code == 200
    r = s.post(base + "lms/api/submit", json={"path": path})
    assert r.status_code == 202, r.text
    submission = r.json()
    assert submission["status"] in ("queued", "grading") and submission["attempt"] == 1
    deadline = time.monotonic() + 180
    while submission["status"] in ("queued", "grading") and time.monotonic() < deadline:
        time.sleep(0.5)
        submission = s.get(base + f"lms/api/submissions/{submission['id']}").json()
    assert submission["status"] == "graded", submission
    # every autograded point; the written answer (2 points) waits for the instructor
    assert (submission["score"], submission["max_score"]) == (7, 9)
    assert [p["title"] for p in submission["parts"] if p["needs_manual_grade"]] == [
        "Exercise 4 - Explain it in your own words"]
    titles = [part["title"] for part in submission["parts"]]
    assert "Exercise 1 - Temperature conversion" in titles and not any("-tests" in t for t in titles)
    # right away again: the lesson's 30 s cooldown, as JSON with the wait
    again = s.post(base + "lms/api/submit", json={"path": path})
    assert again.status_code == 429, again.text
    assert 0 < again.json()["retry_after_seconds"] <= 30 and again.headers["Retry-After"]
    ctx = s.get(base + "lms/api/context", params={"path": path}).json()
    assert ctx["attempts_used"] == 1 and ctx["attempts_left"] == 4 and ctx["cooldown_remaining_seconds"] > 0
    assert ctx["submissions"][0]["id"] == submission["id"]


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "path"),
    (b'{"path": 3}', 400, "path"),
    (b'{"path": "scratch/Untitled.ipynb"}', 404, "not a lesson"),
    (json.dumps({"path": f"courses/{FREE}/07-files-and-errors.ipynb"}).encode(), 404, "open the lesson first"),
])
def test_submit_refuses_clearly(lab, body, status, words):
    s, base = lab
    r = s.post(base + "lms/api/submit", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert words in r.json()["message"]


def test_lesson_of():
    assert lesson_of("courses/algo/04-sort.ipynb") == ("algo", "04-sort")
    assert lesson_of("/courses/algo/04-sort.v12.ipynb") == ("algo", "04-sort")
    for path in ("courses/algo/sub/x.ipynb", "courses/algo/X.ipynb", "notes/algo/x.ipynb"):
        with pytest.raises(NotALesson):
            lesson_of(path)
    for path in ("", "courses/../x.ipynb", "courses/a/b.py", "a\\b.ipynb", "x\x00.ipynb"):
        with pytest.raises(ValueError):
            lesson_of(path)


def test_refusals_keep_what_the_student_needs():
    assert refusal(LMSError("wait 12 s", 429, retry_after="12")) == (
        429, {"message": "wait 12 s", "status": 429, "retry_after_seconds": 12})
    status, body = refusal(LMSError("you have used all 5 attempt(s)", 409,
                                    body={"status": 409, "attempts": 5, "max_attempts": 5}))
    assert status == 409 and body["max_attempts"] == 5 and body["attempts"] == 5
    assert refusal(LMSError("boom", 500))[0] == 502
    status, body = refusal(LMSError("down", reason="connection refused"))
    assert status == 502 and "cannot be reached" in body["message"]
