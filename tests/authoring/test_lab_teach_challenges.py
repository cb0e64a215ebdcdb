"""A code challenge authored in the instructor's JupyterLab reaches students through the Teach
panel's Publish, on the real platform: the challenge file in ~/teach/<course>/challenges/ goes to
the LMS with the publish, its reference solution runs against its tests first, and a student then
opens and submits it through the challenge API students use. A challenge whose solution fails
its tests, or that offers an unknown language, is refused with a message naming its file, and
nothing is published."""
import pytest
import requests

INSTRUCTOR, STUDENT = "instructor", "chalstudent"
SLUG, LESSON = "authoring-challenges", "01-introduction"
FILE = "challenges/double-it.toml"

CHALLENGE = '''id = "double-it"
title = "Double it"
statement = "Read a whole number and print twice its value."

[starter]
python = "n = int(input())\\n"

[solution]
python = "print(2 * int(input()))\\n"

[[tests]]
stdin = "2\\n"
expected = "4\\n"

[[tests]]
stdin = "-21\\n"
expected = "-42\\n"
hidden = true
'''
WRONG_SOLUTION = CHALLENGE.replace('python = "print(2 * int(input()))\\n"', 'python = "print(int(input()) + 2)\\n"')
UNKNOWN_LANGUAGE = CHALLENGE.replace('[starter]\npython', '[starter]\nrust')
MORE_TESTS = CHALLENGE + '\n[[tests]]\nstdin = "0\\n"\nexpected = "0\\n"\n'


@pytest.fixture(scope="module")
def lab(sqlite_platform):
    p = sqlite_platform
    token = p.token(INSTRUCTOR)
    p.start_server(INSTRUCTOR)
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    base = f"{p.url}/user/{INSTRUCTOR}/"
    created = p.as_user(token).post(p.lms + "api/v1/teach/courses", json={
        "slug": SLUG, "title": "Challenges, end to end", "category": "Programming", "level": "beginner"})
    assert created.status_code == 201, created.text
    r = s.post(base + "lms/api/teach/new-course", json={"course": SLUG, "title": "Challenges, end to end"})
    assert r.status_code == 201, r.text
    toml = s.get(base + f"api/contents/teach/{SLUG}/course.toml").json()["content"]
    put_file(s, base, "course.toml", toml + f'challenges = ["{FILE}"]\n')  # the last [[lessons]]: 01-introduction
    yield p, s, base, token
    p.stop_server(INSTRUCTOR)


def put_file(s, base, rel, text):
    r = s.put(base + f"api/contents/teach/{SLUG}/{rel}", json={"type": "file", "format": "text", "content": text})
    assert r.status_code in (200, 201), r.text


def teach_course(p, token):
    r = p.as_user(token).get(p.lms + f"api/v1/teach/courses/{SLUG}")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("text, words", [
    (WRONG_SOLUTION, ["reference solution in Python", "fails 1 test(s)", "hidden test 2", "expected '-42\\n'",
                      "got '-19\\n'"]),
    (UNKNOWN_LANGUAGE, ["starter keys must be among"]),
    ('id = "double-it"\ntitle = "Double it"\n', ["at least one [[tests]]"]),
])
def test_a_broken_challenge_is_refused_naming_it(lab, text, words):
    p, s, base, token = lab
    put_file(s, base, FILE, text)
    r = s.post(base + "lms/api/teach/publish", json={"course": SLUG})
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert message.startswith(FILE + ":"), message
    for word in words:
        assert word in message, message
    # nothing was sent or published: the challenges are checked before the lessons' sources go
    course = teach_course(p, token)
    assert course["published"] is False and course["lessons"] == [], course
    assert p.as_user(p.token(STUDENT)).get(p.lms + f"api/v1/courses/{SLUG}").status_code in (403, 404)


def challenge_id(student, p, key="double-it"):
    page = student.get(p.lms + f"courses/{SLUG}/lessons/{LESSON}/challenges/{key}")
    assert page.status_code == 200, page.text[:300]
    return int(page.text.split("/api/v1/challenges/")[1].split("/")[0].split('"')[0]), page.text


def test_a_challenge_published_from_jupyterlab_reaches_students(lab):
    p, s, base, token = lab
    put_file(s, base, FILE, CHALLENGE)
    report = s.post(base + "lms/api/teach/validate", json={"course": SLUG})
    assert report.status_code == 200 and report.json()["ok"] is True, report.text
    r = s.post(base + "lms/api/teach/publish", json={"course": SLUG})
    assert r.status_code == 200, r.text
    published = r.json()["published"]
    assert published["new_versions"] == [{"lesson": LESSON, "version": 1}]
    assert published["challenges"] == [{"lesson": LESSON, "challenge": "double-it", "file": FILE, "state": "new"}]

    student = p.as_user(p.token(STUDENT))
    assert student.post(p.lms + f"api/v1/courses/{SLUG}/enroll").status_code == 201
    cid, page = challenge_id(student, p)
    assert "Double it" in page and "2 * int" not in page and "-42" not in page  # no solution, no hidden test
    url = p.lms + f"api/v1/challenges/{cid}/submissions"
    ok = student.post(url, json={"language_id": 71, "source": "print(int(input()) * 2)"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "passed" and ok.json()["passed"] == ok.json()["total"] == 2, ok.text
    wrong = student.post(url, json={"language_id": 71, "source": "print(int(input()) + 2)"})
    assert wrong.json()["status"] == "failed" and wrong.json()["passed"] == 1, wrong.text

    # publishing again changes nothing; a changed challenge is updated in place (the student's
    # submissions stay), with its solution checked against the new test
    again = s.post(base + "lms/api/teach/publish", json={"course": SLUG}).json()["published"]
    assert again["new_versions"] == [] and again["challenges"][0]["state"] == "unchanged"
    put_file(s, base, FILE, MORE_TESTS)
    changed = s.post(base + "lms/api/teach/publish", json={"course": SLUG})
    assert changed.status_code == 200 and changed.json()["published"]["challenges"][0]["state"] == "changed"
    assert challenge_id(student, p)[0] == cid
    history = student.get(url).json()["submissions"]
    assert [h["status"] for h in history] == ["failed", "passed"]
    assert student.post(url, json={"language_id": 71, "source": "print(int(input()) * 2)"}).json()["total"] == 3


def test_challenges_of_another_course_or_lesson_are_refused(lab):
    """The LMS's publish API itself: challenges for a lesson the course does not have, a body that is
    not the expected shape, another instructor's course."""
    p, s, base, token = lab
    api = p.as_user(token)
    r = api.post(p.lms + f"api/v1/teach/courses/{SLUG}/publish", json={"challenges": {"99-none": {FILE: CHALLENGE}}})
    assert r.status_code == 400 and "99-none" in r.json()["message"], r.text
    r = api.post(p.lms + f"api/v1/teach/courses/{SLUG}/publish", json={"challenges": {LESSON: ["x"]}})
    assert r.status_code == 400 and "file name to file text" in r.json()["message"], r.text
    r = api.post(p.lms + f"api/v1/teach/courses/{SLUG}/publish", json={"other": 1})
    assert r.status_code == 400, r.text
    # a dry run checks and stores nothing (the Teach panel's first step)
    before = teach_course(p, token)
    r = api.post(p.lms + f"api/v1/teach/courses/{SLUG}/publish", json={
        "dry_run": True, "challenges": {LESSON: {FILE: CHALLENGE.replace("Double it", "Double it twice")},
                                        "02-new-lesson": {"challenges/x.toml": CHALLENGE.replace("double-it", "x")}}})
    assert r.status_code == 200, r.text
    assert {(c["challenge"], c["state"]) for c in r.json()["challenges"]} == {("double-it", "changed"), ("x", "new")}
    r = api.post(p.lms + f"api/v1/teach/courses/{SLUG}/publish", json={
        "dry_run": True, "challenges": {LESSON: {FILE: WRONG_SOLUTION}}})
    assert r.status_code == 400 and r.json()["challenge"] == FILE, r.text
    assert teach_course(p, token) == before


def test_a_course_got_from_the_lms_publishes_its_challenges_unchanged(lab):
    """Get course source writes the challenges without their reference solutions (the LMS never
    stores them): publishing that folder again keeps them as they are instead of refusing them."""
    p, s, base, token = lab
    r = s.post(base + "lms/api/teach/get-source", json={"course": "python-for-beginners"})
    assert r.status_code in (201, 409), r.text  # 409: test_lab_teach.py got it already
    r = s.post(base + "lms/api/teach/publish", json={"course": "python-for-beginners"})
    assert r.status_code == 200, r.text
    published = r.json()["published"]
    assert published["new_versions"] == []
    assert {(c["challenge"], c["state"]) for c in published["challenges"]} >= {("shout", "unchanged"),
                                                                               ("sum-two", "unchanged")}
    assert all(c["state"] == "unchanged" for c in published["challenges"]), published["challenges"]
