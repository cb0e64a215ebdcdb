"""Learning on the real platform: heartbeats from the student's own server, quizzes through the
API, the lesson page and the kernel magic, the public certificate page, leaderboards."""
from __future__ import annotations

import asyncio
import io
import json
import re
import time

import pytest
import requests
from pypdf import PdfReader

from lms_extension.db import make_engine, session_factory
from lms_extension.models import Course, User
from lms_extension.services import certificates
from sqlalchemy import select
from tests.e2e.kernel import _execute
from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e
COURSE, LESSON, PAID = "python-for-beginners", "01-hello-python", "data-analysis-with-pandas"
SECRETS = ("keeps the whole number of times", "does type(\\\"42\\\") print", '"answer":', '"answers":')


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("learning") / "data",
                 # 768M as tests/conftest.py's sqlite_platform: cgroups are named u<hub user id> on the
                 # whole machine, and cgroup v1 refuses a memory limit above another platform's memsw one
                 extra_env={"LMS_HEARTBEAT_SECONDS": "1", "LMS_IDLE_SECONDS": "30", "LMS_MEM_LIMIT": "768M"}).start()
    yield p
    p.stop()
    errors = [line for line in p.log().splitlines() if re.search(r"\b500 (GET|POST|PUT|DELETE|PATCH)\b", line)]
    assert not errors, errors


@pytest.fixture(scope="module")
def student(platform):
    token = platform.token("student")
    api = platform.as_user(token)
    assert api.post(platform.lms + f"api/v1/courses/{COURSE}/enroll").status_code in (200, 201)
    return token, api


@pytest.fixture(scope="module")
def db(platform):
    engine = make_engine(f"sqlite:///{platform.data_dir / 'lms.sqlite'}")
    yield session_factory(engine)
    engine.dispose()


def test_quiz_answers_never_reach_the_student(platform, student):
    token, api = student
    notebook = api.get(platform.lms + f"api/v1/courses/{COURSE}/lessons/{LESSON}/notebook")
    assert notebook.status_code == 200 and "q-floor-division" in notebook.text
    listed = api.get(platform.lms + f"api/v1/courses/{COURSE}/lessons/{LESSON}/quizzes")
    assert [q["id"] for q in listed.json()["quizzes"]] == ["q-floor-division", "q-type-name"]
    for text in (notebook.text, listed.text):
        for secret in SECRETS:
            assert secret not in text
    url = platform.lms + f"api/v1/courses/{COURSE}/quizzes/q-floor-division/answers"
    wrong = api.post(url, json={"answer": "a"}).json()
    assert wrong["correct"] is False and wrong["attempts_left"] == 1 and "floor division" in wrong["feedback"]
    right = api.post(url, json={"answer": "b"})
    assert right.status_code == 200 and right.json()["correct"] and right.json()["feedback"].startswith("Right")
    assert api.post(url, json={"answer": "b"}).status_code == 409
    # hostile and malformed input: clear 4xx, never 500
    assert api.post(url, data="{not json").status_code == 400
    assert api.post(url, json={"nope": 1}).status_code == 400
    assert api.post(platform.lms + f"api/v1/courses/{COURSE}/quizzes/q-type-name/answers",
                    json={"answer": "x" * 501}).status_code == 400
    assert api.post(platform.lms + f"api/v1/courses/{COURSE}/quizzes/q-missing/answers",
                    json={"answer": "a"}).status_code == 404
    assert requests.post(url, json={"answer": "b"}).status_code == 401


def test_lesson_page_shows_quiz_form_without_answers(platform, student):
    web = platform.login("student", platform.demo_password)
    page = web.get(platform.lms + f"courses/{COURSE}/lessons/{LESSON}")
    assert page.status_code == 200
    assert 'id="quiz-q-type-name"' in page.text and "What does 17 // 5 evaluate to?" in page.text
    # q-floor-division was solved above, so its feedback shows; q-type-name's key and feedback do not
    for secret in ("quotes make a string", '"string"', '"answers"'):
        assert secret not in page.text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    r = web.post(platform.lms + f"courses/{COURSE}/lessons/{LESSON}/quizzes/q-type-name",
                 data={"answer": "int", "_xsrf": xsrf})
    assert r.status_code == 200 and "Look at the quotes" in r.text
    r = web.post(platform.lms + f"courses/{COURSE}/lessons/{LESSON}/note", data={"body": "x" * 20_001, "_xsrf": xsrf})
    assert r.status_code == 413
    r = web.post(platform.lms + f"courses/{COURSE}/lessons/{LESSON}/note", data={"body": "my note", "_xsrf": xsrf})
    assert r.status_code == 200 and "my note</textarea>" in r.text
    r = web.post(platform.lms + f"courses/{COURSE}/lessons/{LESSON}/quizzes/q-floor-division",
                 data={"answer": "1", "_xsrf": xsrf})
    assert r.status_code == 409 and "already answered" in r.text
    r = web.post(platform.lms + f"courses/{PAID}/lessons/{LESSON}/quizzes/q-floor-division",
                 data={"answer": "1", "_xsrf": xsrf})
    assert r.status_code == 404
    r = web.post(platform.lms + f"courses/{COURSE}/lessons/{LESSON}/bookmark", data={"on": "1", "_xsrf": xsrf})
    assert r.status_code == 200 and "Bookmarked" in r.text
    # progress on "My learning", the course page, achievements and leaderboards
    mine = web.get(platform.lms + "my-learning").text
    assert re.search(r"\d+ of 7 lessons completed", mine)
    course_page = web.get(platform.lms + f"courses/{COURSE}").text
    assert 'id="course-progress"' in course_page and "lessons completed" in course_page
    achievements = web.get(platform.lms + "achievements")
    assert achievements.status_code == 200 and "Hello, Python" in achievements.text  # the bookmark
    r = web.post(platform.lms + "achievements", data={"timezone": "Mars/Base", "_xsrf": xsrf})
    assert r.status_code == 200 and "Unknown time zone" in r.text
    board = web.get(platform.lms + "leaderboard", params={"course": COURSE, "period": "all"})
    assert board.status_code == 200 and 'id="leaderboard"' in board.text and "student" in board.text


def test_heartbeats_from_the_students_server_and_the_lab_pages(platform, student):
    token, api = student
    platform.start_server("student")
    try:
        user = f"{platform.url}/user/student"
        headers = {"Authorization": f"token {token}"}
        opened = requests.get(f"{user}/lms/open", params={"course": COURSE, "lesson": LESSON}, headers=headers,
                              allow_redirects=False)
        assert opened.status_code == 302
        path = f"courses/{COURSE}/{LESSON}.ipynb"
        s = requests.post(f"{user}/api/sessions", headers=headers, timeout=60,
                          json={"path": path, "type": "notebook", "name": f"{LESSON}.ipynb", "kernel": {"name": "python3"}})
        assert s.status_code == 201, s.text
        kernel = s.json()["kernel"]["id"]
        ws = f"{user}/api/kernels/{kernel}/channels".replace("http://", "ws://")
        progress_url = platform.lms + f"api/v1/courses/{COURSE}/lessons/{LESSON}/progress"
        # a busy kernel alone is not learning time: only the browser's activity pings count
        for _ in range(3):
            asyncio.run(_execute(ws, token, "x = 1", 30))
            time.sleep(1)
        assert api.get(progress_url).json()["seconds_spent"] == 0
        activity = f"{user}/lms/activity"
        assert requests.get(activity, headers=headers).json()["ping_seconds"] == 1  # LMS_HEARTBEAT_SECONDS
        assert requests.post(activity, headers=headers, data=b"{nope").status_code == 400
        assert requests.post(activity, headers=headers, json={"path": 5}).status_code == 400
        deadline = time.monotonic() + 60
        spent = 0
        while time.monotonic() < deadline and spent < 2:  # what labextension/src/activity.ts sends
            ping = requests.post(activity, headers=headers, json={"path": path})
            assert ping.status_code == 200 and ping.json()["lesson"] is True, ping.text
            time.sleep(0.5)
            spent = api.get(progress_url).json()["seconds_spent"]
        assert spent >= 2, f"no learning time recorded from activity pings:\n{platform.log()}"
        # the quiz magic in the student's kernel: course and lesson from the notebook's place
        out = asyncio.run(_execute(ws, token, "%lms_quiz q-type-name str", 60))
        assert "✓ correct" in out["stdout"], out
        listing = asyncio.run(_execute(ws, token, "%lms_quiz", 60))["stdout"]
        assert "[q-type-name]" in listing and "solved" in listing and "keeps the whole" not in listing
        assert COURSE.replace("-", " ").title().split()[0] in asyncio.run(_execute(ws, token, "%lms_progress", 60))["stdout"]
        # the progress page inside the student's server
        page = requests.get(f"{user}/lms/progress", headers=headers)
        assert page.status_code == 200 and "Python for Beginners" in page.text and "min" in page.text
        requests.delete(f"{user}/api/sessions/{s.json()['id']}", headers=headers)
    finally:
        platform.stop_server("student")
    mine = api.get(platform.lms + "api/v1/me/progress").json()["courses"][0]
    assert mine["course"] == COURSE and mine["resume"] == LESSON and mine["seconds_spent"] >= 2


def test_hostile_learning_requests(platform, student):
    token, api = student
    lms = platform.lms + "api/v1/"
    assert api.post(lms + "me/heartbeats", json={"course": PAID, "lesson": "01-pandas-basics"}).status_code in (403, 404)
    paid_lessons = requests.get(lms + f"courses/{PAID}").json()["lessons"]
    locked = next(ls["id"] for ls in paid_lessons if not ls["free_preview"])
    assert api.post(lms + "me/heartbeats", json={"course": PAID, "lesson": locked}).status_code == 403
    assert api.post(lms + "me/heartbeats", json={"course": COURSE, "lesson": 5}).status_code == 400
    assert api.post(lms + "me/heartbeats", data=b"\xff\xfe").status_code == 400
    for seconds in ("lots", -1, 1e9, True):
        bad = api.post(lms + "me/heartbeats", json={"course": COURSE, "lesson": LESSON, "seconds": seconds})
        assert bad.status_code == 400 and "seconds" in bad.json()["message"], (seconds, bad.text)
    assert api.get(lms + f"courses/{PAID}/lessons/{locked}/quizzes").status_code == 403
    assert api.put(lms + f"courses/{PAID}/lessons/{locked}/note", json={"body": "x"}).status_code == 403
    assert api.put(lms + f"courses/{COURSE}/lessons/{LESSON}/note", json={"body": "x" * 20_001}).status_code == 413
    assert api.put(lms + f"courses/{COURSE}/lessons/{LESSON}/resources/evil.txt", data=b"x").status_code == 403
    assert api.get(lms + f"courses/{PAID}/progress").status_code == 404
    assert api.patch(lms + "me/learning-profile", json={"timezone": "Nowhere/Land"}).status_code == 400
    assert api.patch(lms + "me/learning-profile", json={"is_admin": True}).status_code == 400
    assert api.get(lms + "leaderboard", params={"period": "year"}).status_code == 400


def test_leaderboard_and_opt_out(platform, student):
    token, api = student
    board = api.get(platform.lms + "api/v1/leaderboard", params={"course": COURSE, "period": "week"}).json()
    assert [r["name"] for r in board["leaders"]] == ["student"] and board["leaders"][0]["me"]
    assert api.patch(platform.lms + "api/v1/me/learning-profile",
                     json={"leaderboard_opt_out": True, "timezone": "Europe/Berlin"}).status_code == 200
    assert api.get(platform.lms + "api/v1/leaderboard").json()["leaders"] == []
    mine = api.get(platform.lms + "api/v1/me/achievements").json()
    assert mine["xp"] > 0 and mine["timezone"] == "Europe/Berlin" and mine["streak"]["current"] == 1
    api.patch(platform.lms + "api/v1/me/learning-profile", json={"leaderboard_opt_out": False})


def test_public_certificate_page_pdf_and_revocation(platform, student, db):
    with db() as session:
        user = session.scalars(select(User).where(User.hub_name == "student")).one()
        course = session.scalars(select(Course).where(Course.slug == COURSE)).one()
        cert = certificates.issue(session, user, course)
        session.commit()
        uid, course_id, user_id = cert.uid, course.id, user.id
    token, api = student
    page = requests.get(platform.lms + f"certificates/{uid}")  # no login
    assert page.status_code == 200 and 'data-status="valid"' in page.text
    assert '<meta property="og:title" content="student completed Python for Beginners">' in page.text
    assert f'<meta property="og:url" content="{platform.lms}certificates/{uid}">' in page.text
    mine = api.get(platform.lms + "api/v1/me/certificates").json()["certificates"]
    assert mine[0]["id"] == uid and "linkedin.com/profile/add" in mine[0]["linkedin_url"]
    pdf = requests.get(platform.lms + f"certificates/{uid}.pdf")
    assert pdf.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Python for Beginners" in text and uid in text and "student" in text
    assert requests.get(platform.lms + f"api/v1/certificates/{uid}").json()["valid"] is True
    for forged in ("0" * 32, "../../etc/passwd", "abc", uid.upper()):
        assert requests.get(platform.lms + f"certificates/{forged}").status_code == 404
        assert requests.get(platform.lms + f"api/v1/certificates/{forged}").status_code == 404
    with db() as session:
        certificates.revoke_for_course(session, user_id, course_id, "refunded")
        session.commit()
    page = requests.get(platform.lms + f"certificates/{uid}")
    assert 'data-status="revoked"' in page.text and "Revoked" in page.text
    assert requests.get(platform.lms + f"api/v1/certificates/{uid}").json()["valid"] is False
    # the achievements page lists badges with their Open Badges credentials
    creds = api.get(platform.lms + "api/v1/me/achievements").json()["achievements"]
    if creds:
        cred = requests.get(creds[0]["credential_url"]).json()
        assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


def test_openapi_documents_the_learning_routes(platform):
    from openapi_spec_validator import validate

    doc = requests.get(platform.lms + "api/v1/openapi.json").json()
    validate(doc)
    for path in ("/me/heartbeats", "/courses/{slug}/quizzes/{quiz}/answers", "/certificates/{uid}",
                 "/leaderboard", "/achievements/{uid}/credential"):
        assert path in doc["paths"]
    assert json.dumps(doc)


def test_video_chapters_and_resources_over_http(platform, student, db, tmp_path):
    from lms_extension.services.course_import import import_course, load_course_folder
    from lms_extension.services.storage import LocalStorage
    from tests.factories import write_course

    folder = write_course(tmp_path, "video-course", lessons=1, instructor="instructor")
    (folder / "media").mkdir()
    (folder / "media" / "talk.mp4").write_bytes(bytes(range(256)) * 8)
    (folder / "data.csv").write_text("a,b\n1,2\n")
    toml = (folder / "course.toml").read_text().replace('id = "l1"\n', 'id = "l1"\nvideo = "media/talk.mp4"\n'
                                                       'chapters = [{start = "0:00", title = "Intro"}, '
                                                       '{start = "0:42", title = "Loops"}]\nresources = ["data.csv"]\n')
    (folder / "course.toml").write_text(toml)
    with db() as session:  # into the service's local storage
        import_course(session, load_course_folder(folder), store=LocalStorage(platform.data_dir / "storage"))
        session.commit()
    token, api = student
    assert api.post(platform.lms + "api/v1/courses/video-course/enroll").status_code in (200, 201)
    web = platform.login("student", platform.demo_password)
    base = platform.lms + "courses/video-course/lessons/l1"
    page = web.get(base).text
    assert '<video controls' in page and 'type="video/mp4"' in page
    assert f'<track kind="chapters" src="/services/lms/courses/video-course/lessons/l1/chapters.vtt"' in page
    vtt = web.get(base + "/chapters.vtt")
    assert vtt.headers["Content-Type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT") and "00:00:00.000 --> 00:00:42.000\nIntro" in vtt.text
    full = web.get(base + "/video")
    assert full.status_code == 200 and full.content == bytes(range(256)) * 8
    part = web.get(base + "/video", headers={"Range": "bytes=256-511"})
    assert part.status_code == 206 and part.headers["Content-Range"] == "bytes 256-511/2048"
    assert part.content == bytes(range(256))
    assert web.get(base + "/video", headers={"Range": "bytes=5000-"}).status_code == 416
    assert web.get(base + "/resources/data.csv").content == b"a,b\n1,2\n"
    assert api.get(platform.lms + "api/v1/courses/video-course/lessons/l1/resources").json()["resources"] == [
        {"name": "data.csv", "size": 8, "content_type": "text/csv"}]
    # the instructor adds one through the API; names cannot climb out of the storage
    teacher = platform.as_user(platform.token("instructor"))
    url = platform.lms + "api/v1/courses/video-course/lessons/l1/resources/"
    assert teacher.put(url + "slides.txt", data=b"slide 1").status_code == 201
    assert teacher.put(url + "..%2F..%2Fescape", data=b"x").status_code in (400, 404)
    assert api.get(url + "slides.txt").content == b"slide 1"
    assert api.get(url + "missing.txt").status_code == 404
    assert web.get(platform.lms + "courses/video-course/lessons/nope/video").status_code == 404
