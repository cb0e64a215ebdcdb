"""The instructor's Course (Teach) panel's lab-server side, on the real platform: the demo
instructor's own JupyterLab creates a course source in ~/teach, Validate names a broken solution's
exercise, Preview writes the student version read-only, Publish makes the lesson version students
get; the students' view of it holds no solution. A student's server cannot use any of it (403)
and reads or writes nothing."""
import io
import json
import zipfile

import pytest
import requests

from lms_extension.labserver.teach import SourceError, unpack_source

INSTRUCTOR, STUDENT = "instructor", "authorstudent"
SLUG, LESSON = "authoring-e2e", "01-introduction"
GOOD = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
BROKEN = "def double(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"
NOTEBOOK = f"teach/{SLUG}/lessons/{LESSON}.ipynb"
TEACH = ("status", "validate", "preview", "publish", "new-lesson", "new-course", "get-source")


def server(p, name):
    token = p.token(name)
    p.start_server(name)
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    return s, f"{p.url}/user/{name}/", token


@pytest.fixture(scope="module")
def lab(sqlite_platform):
    p = sqlite_platform
    s, base, token = server(p, INSTRUCTOR)
    yield p, s, base, token
    p.stop_server(INSTRUCTOR)


def set_solution(s, base, source):
    nb = s.get(base + f"api/contents/{NOTEBOOK}").json()["content"]
    cell = next(c for c in nb["cells"] if (c["metadata"].get("nbgrader") or {}).get("grade_id") == "ex1-double")
    cell["source"] = source
    r = s.put(base + f"api/contents/{NOTEBOOK}", json={"type": "notebook", "format": "json", "content": nb})
    assert r.status_code == 200, r.text


def test_an_instructor_validates_previews_and_publishes(lab):
    p, s, base, token = lab
    r = s.get(base + "lms/api/teach/status")
    assert r.status_code == 200, r.text
    assert r.json()["instructor"] is True and "python-for-beginners" in {c["slug"] for c in r.json()["courses"]}
    r = s.post(base + "lms/api/teach/new-course", json={"course": SLUG, "title": "Authoring, end to end"})
    assert r.status_code == 201, r.text
    (folder,) = [f for f in s.get(base + "lms/api/teach/status").json()["folders"] if f["folder"] == SLUG]
    assert folder["slug"] == SLUG and folder["error"] is None
    assert folder["lessons"] == [{"id": LESSON, "title": "Introduction", "path": NOTEBOOK}]
    # the LMS's side of the course (part B's teach API), then a broken solution
    created = p.as_user(token).post(p.lms + "api/v1/teach/courses", json={
        "slug": SLUG, "title": "Authoring, end to end", "category": "Programming", "level": "beginner"})
    assert created.status_code == 201, created.text
    set_solution(s, base, BROKEN)

    report = s.post(base + "lms/api/teach/validate", json={"course": SLUG})
    assert report.status_code == 200, report.text
    report = report.json()
    assert report["ok"] is False and report["title"] == "Authoring, end to end"
    (book,) = report["notebooks"]
    assert book["lesson_title"] == "Introduction" and book["path"] == NOTEBOOK
    assert [(c["title"], c["status"]) for c in book["failing"]] == [("Exercise 1 - Double a number", "failed")]
    assert "assert double(2) == 4" in book["failing"][0]["message"]

    set_solution(s, base, GOOD)
    report = s.post(base + "lms/api/teach/validate", json={"course": SLUG}).json()
    assert report["ok"] is True and report["notebooks"][0]["score"] == 2

    # Preview as student: the release version, read-only, beside the source
    r = s.post(base + "lms/api/teach/preview", json={"course": SLUG, "lesson": LESSON})
    assert r.status_code == 200, r.text
    preview = s.get(base + f"api/contents/{r.json()['path']}").json()
    assert r.json()["path"] == f"teach/_preview/{SLUG}/{LESSON}.ipynb" and preview["writable"] is False
    text = json.dumps(preview["content"])
    assert "2 * x" not in text and "double(-3)" not in text and "assert double(2) == 4" in text

    # Publish: the source goes to the LMS, which makes the student version
    r = s.post(base + "lms/api/teach/publish", json={"course": SLUG})
    assert r.status_code == 200, r.text
    assert r.json()["published"]["new_versions"] == [{"lesson": LESSON, "version": 1}]
    again = s.post(base + "lms/api/teach/publish", json={"course": SLUG}).json()
    assert again["published"]["new_versions"] == []  # nothing changed
    # what a student gets from the LMS holds no solution and no hidden test
    student = p.as_user(p.token(STUDENT))
    assert student.post(p.lms + f"api/v1/courses/{SLUG}/enroll").status_code == 201
    served = student.get(p.lms + f"api/v1/courses/{SLUG}/lessons/{LESSON}/notebook")
    assert served.status_code == 200, served.text
    assert "2 * x" not in served.text and "double(-3)" not in served.text and "double(2) == 4" in served.text


def test_new_lesson_scaffold(lab):
    p, s, base, token = lab
    if s.get(base + f"api/contents/teach/{SLUG}/course.toml").status_code == 404:
        assert s.post(base + "lms/api/teach/new-course", json={"course": SLUG, "title": "A"}).status_code == 201
    r = s.post(base + "lms/api/teach/new-lesson", json={"course": SLUG, "lesson": "02-loops", "title": 'Loops "for" ünd while'})
    assert r.status_code == 201, r.text
    (folder,) = [f for f in s.get(base + "lms/api/teach/status").json()["folders"] if f["folder"] == SLUG]
    assert folder["lessons"][-1] == {"id": "02-loops", "title": 'Loops "for" ünd while',
                                     "path": f"teach/{SLUG}/lessons/02-loops.ipynb"}
    assert s.post(base + "lms/api/teach/new-lesson", json={
        "course": SLUG, "lesson": "02-loops", "title": "Again"}).status_code == 409


def test_the_first_lesson_of_a_course_made_on_the_web(lab):
    """A course created on the web has a course.toml without lessons: the folder is reported as
    incomplete, and New lesson adds the first one (it was a dead end)."""
    p, s, base, token = lab
    toml = 'slug = "web-made"\ntitle = "Made on the web"\n'
    assert s.put(base + "api/contents/teach/web-made", json={"type": "directory"}).status_code in (200, 201)
    assert s.put(base + "api/contents/teach/web-made/course.toml", json={
        "type": "file", "format": "text", "content": toml}).status_code in (200, 201)
    (folder,) = [f for f in s.get(base + "lms/api/teach/status").json()["folders"] if f["folder"] == "web-made"]
    assert "at least one [[lessons]]" in folder["error"]
    r = s.post(base + "lms/api/teach/new-lesson", json={"course": "web-made", "lesson": "01-start", "title": "Start"})
    assert r.status_code == 201, r.text
    (folder,) = [f for f in s.get(base + "lms/api/teach/status").json()["folders"] if f["folder"] == "web-made"]
    assert not folder["error"] and [ls["id"] for ls in folder["lessons"]] == ["01-start"]


@pytest.mark.parametrize("path, body, status, words", [
    ("validate", b"not json", 400, "JSON object"),
    ("validate", json.dumps({"course": "../etc"}).encode(), 400, "course must be an id"),
    ("validate", json.dumps({"course": "no-such-course"}).encode(), 404, "no course.toml"),
    ("preview", json.dumps({"course": SLUG, "lesson": "99-none"}).encode(), 404, "not a lesson"),
    ("preview", json.dumps({"course": SLUG, "lesson": "Bad Id"}).encode(), 400, "lesson must be an id"),
    ("new-lesson", json.dumps({"course": SLUG, "lesson": "03-x", "title": "a\nb"}).encode(), 400, "one line"),
    ("new-lesson", json.dumps({"course": SLUG, "lesson": "03-x", "title": "x" * 201}).encode(), 400, "200"),
    ("new-course", json.dumps({"course": SLUG, "title": "Twice"}).encode(), 409, "already exists"),
])
def test_bad_requests_get_clear_answers(lab, path, body, status, words):
    p, s, base, token = lab
    if s.get(base + f"api/contents/teach/{SLUG}/course.toml").status_code == 404:
        assert s.post(base + "lms/api/teach/new-course", json={"course": SLUG, "title": "A"}).status_code == 201
    r = s.post(base + f"lms/api/teach/{path}", data=body)
    assert r.status_code == status, r.text
    assert words in r.json()["message"]


def test_a_course_file_leaving_its_folder_is_refused(lab):
    p, s, base, token = lab
    s.put(base + "api/contents/teach", json={"type": "directory"})
    s.put(base + "api/contents/teach/escape", json={"type": "directory"})
    toml = ('slug = "escape"\ntitle = "E"\n[[lessons]]\nid = "l1"\ntitle = "L"\nnotebook = "../../.bashrc"\n')
    assert s.put(base + "api/contents/teach/escape/course.toml", json={
        "type": "file", "format": "text", "content": toml}).status_code in (200, 201)
    r = s.post(base + "lms/api/teach/validate", json={"course": "escape"})
    assert r.status_code == 400 and "leaves the course folder" in r.json()["message"]
    (folder,) = [f for f in s.get(base + "lms/api/teach/status").json()["folders"] if f["folder"] == "escape"]
    assert "leaves the course folder" in folder["error"]


def test_a_students_server_cannot_author(sqlite_platform):
    p = sqlite_platform
    s, base, token = server(p, STUDENT)
    try:
        for path in TEACH:
            r = (s.get if path == "status" else s.post)(base + f"lms/api/teach/{path}",
                                                          json={"course": SLUG, "lesson": LESSON, "title": "T"})
            if path == "status":  # asked on every start: a plain "no", and no folder listed
                assert r.status_code == 200 and r.json()["instructor"] is False, r.text
                assert "folders" not in r.json() and "instructors" in r.json()["message"]
                continue
            assert r.status_code == 403, (path, r.text)
            assert "instructors" in r.json()["message"]
        assert s.get(base + "api/contents/teach").status_code == 404  # nothing written
        # nor with the student's own token at the LMS: no source in, no student version out
        api = p.as_user(token)
        for path, body in (("validate", {"notebooks": {"a.ipynb": "{}"}}), ("preview", {"name": "a.ipynb", "notebook": "{}"})):
            r = api.post(p.lms + f"api/v1/teach/{path}", json=body)
            assert r.status_code == 403 and "instructors" in r.json()["message"], r.text
        assert api.get(p.lms + "api/v1/teach/author").status_code == 403
    finally:
        p.stop_server(STUDENT)


def test_get_source_of_a_course_i_teach(lab):
    p, s, base, token = lab
    r = s.post(base + "lms/api/teach/get-source", json={"course": "python-for-beginners"})
    assert r.status_code == 201, r.text
    assert {"course.toml", "lessons/05-functions.ipynb", "challenges/02-strings/shout.toml"} <= set(r.json()["files"])
    (folder,) = [f for f in s.get(base + "lms/api/teach/status").json()["folders"] if f["folder"] == "python-for-beginners"]
    assert folder["error"] is None and folder["lessons"][4]["title"] == "Functions"
    source = s.get(base + "api/contents/teach/python-for-beginners/lessons/05-functions.ipynb").json()["content"]
    assert "BEGIN SOLUTION" in json.dumps(source)  # the instructor's own source, solutions in
    again = s.post(base + "lms/api/teach/get-source", json={"course": "python-for-beginners"})
    assert again.status_code == 409 and "already exists" in again.json()["message"]
    other = s.post(base + "lms/api/teach/get-source", json={"course": "no-such-course"})
    assert other.status_code == 403 and "do not teach" in other.json()["message"]


def _zip(names: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in names.items():
            zf.writestr(name, text)
    return buf.getvalue()


@pytest.mark.parametrize("names, words", [
    ({"c/../../x": "a"}, "unexpected path"),
    ({"other/course.toml": "a"}, "unexpected path"),
    ({"/c/course.toml": "a"}, "unexpected path"),
    ({f"c/{i}.txt": "" for i in range(1001)}, "larger than"),
])
def test_a_hostile_archive_is_not_unpacked(tmp_path, names, words):
    with pytest.raises(SourceError, match=words):
        unpack_source(_zip(names), "c", tmp_path / "c")
    assert not (tmp_path / "c").exists()
    with pytest.raises(SourceError, match="not send a zip"):
        unpack_source(b"<html>", "c", tmp_path / "c")
