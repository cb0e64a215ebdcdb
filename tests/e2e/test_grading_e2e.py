"""Submit a lesson notebook from the student's server; the hub-managed worker grades it in the
sandbox; the score and feedback come back through the API and the lesson page."""
import json
import time

import pytest
import requests

from tests.conftest import COURSES

FREE, LESSON = "python-for-beginners", "01-hello-python"


def wait_graded(session, url, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = session.get(url).json()
        if body["status"] in ("graded", "failed"):
            return body
        time.sleep(0.3)
    raise TimeoutError(f"not graded after {timeout}s: {body}")


@pytest.fixture(scope="module")
def grader_student(sqlite_platform):
    p = sqlite_platform
    token = p.token("gradee")
    assert p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").status_code == 201
    p.start_server("gradee")
    yield token
    p.stop_server("gradee")


def test_submit_from_jupyterlab_and_get_feedback(sqlite_platform, grader_student):
    p, token = sqlite_platform, grader_student
    headers = {"Authorization": f"token {token}"}
    r = requests.get(f"{p.url}/user/gradee/lms/open", params={"course": FREE, "lesson": LESSON},
                     headers=headers, allow_redirects=False)
    assert r.status_code == 302
    # the student "solves" the lesson: the instructor's solutions land in their notebook
    solved = json.loads((COURSES / FREE / "lessons" / f"{LESSON}.ipynb").read_text())
    put = requests.put(f"{p.url}/user/gradee/api/contents/courses/{FREE}/{LESSON}.ipynb", headers=headers,
                       json={"type": "notebook", "format": "json", "content": solved})
    assert put.status_code == 200
    confirm = requests.get(f"{p.url}/user/gradee/lms/submit", params={"course": FREE, "lesson": LESSON},
                           headers=headers)
    assert confirm.status_code == 200 and "Submit now" in confirm.text
    started = time.monotonic()
    sent = requests.post(f"{p.url}/user/gradee/lms/submit", data={"course": FREE, "lesson": LESSON},
                         headers=headers, allow_redirects=False)
    assert sent.status_code == 302 and f"/services/lms/courses/{FREE}/lessons/{LESSON}" in sent.headers["Location"]
    api = p.as_user(token)
    page = api.get(p.lms + f"courses/{FREE}/lessons/{LESSON}")
    submission_id = int(page.text.split('data-id="')[1].split('"')[0])
    graded = wait_graded(api, p.lms + f"api/v1/submissions/{submission_id}")
    elapsed = time.monotonic() - started
    assert graded["status"] == "graded", graded
    assert graded["score"] == graded["max_score"] > 0
    assert "BEGIN HIDDEN TESTS" not in json.dumps(graded)
    print(f"submit -> score visible: {elapsed:.2f}s")
    page = api.get(p.lms + f"courses/{FREE}/lessons/{LESSON}").text
    assert f"{graded['score']:g} / {graded['max_score']:g} points" in page


def test_unsolved_notebook_scores_zero_and_others_cannot_see_it(sqlite_platform, grader_student):
    p, token = sqlite_platform, grader_student
    api = p.as_user(token)
    release = api.get(p.lms + f"api/v1/courses/{FREE}/lessons/{LESSON}/notebook").json()["notebook"]
    r = api.post(p.lms + f"api/v1/courses/{FREE}/lessons/{LESSON}/submissions",
                 json={"notebooks": {f"{LESSON}.ipynb": release}})
    assert r.status_code == 202 and r.headers["Location"].endswith(f"/api/v1/submissions/{r.json()['id']}")
    graded = wait_graded(api, p.lms + f"api/v1/submissions/{r.json()['id']}")
    assert graded["status"] == "graded" and graded["score"] == 0 and graded["max_score"] > 0
    other = p.as_user(p.token("nosy"))
    assert other.get(p.lms + f"api/v1/submissions/{r.json()['id']}").status_code == 404


@pytest.mark.parametrize("body, status", [
    ({"notebooks": {"wrong-name.ipynb": "{}"}}, 400),
    ({"notebooks": {f"{LESSON}.ipynb": "{not json"}}, 400),
    ({"nothing": 1}, 400),
    ([1, 2], 400),
])
def test_bad_submissions(sqlite_platform, grader_student, body, status):
    api = sqlite_platform.as_user(grader_student)
    r = api.post(sqlite_platform.lms + f"api/v1/courses/{FREE}/lessons/{LESSON}/submissions", json=body)
    assert r.status_code == status and r.json()["message"]
