"""The grading pages and API over real HTTP (SQLite and PostgreSQL), through the service's own hub
authentication: the queue in the studio, a submission's notebook with its grade boxes and keys,
the forms (bad input refused with what was typed, nothing stored lost), the feedback policy and
release, and what a student sees of held feedback on the lesson page, the API and the feedback page."""
from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest

from lms_extension.models import NotebookSubmission
from lms_extension.services import enrollments, grading_queue as queue
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import NB, WRITTEN
from tests.grading_admin.served import serve
from tests.grading_admin.test_grading_workflow import grade_written

HOSTILE = "Because <script>alert('pwned')</script><img src=x onerror=alert(1)> **x·x** grows"


@pytest.fixture(scope="module")
def served(db_url, tmp_path_factory):
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    with pytest.MonkeyPatch.context() as mp:
        yield from serve(kind, tmp_path_factory, mp)


@pytest.fixture(scope="module")
def world(served, tmp_path_factory):
    """A course with a written answer, three students' graded submissions, another instructor."""
    root = tmp_path_factory.mktemp("courses")
    with served.factory() as db:
        make_user(db, "pg-teacher", instructor=True)
        make_user(db, "pg-other", instructor=True)
        import_course(db, load_course_folder(write_course(root, "pagecourse", instructor="pg-teacher",
                                                          notebook=WRITTEN)))
        import_course(db, load_course_folder(write_course(root, "othercourse", instructor="pg-other")))
        ids = []
        for n, answer in enumerate((HOSTILE, "Second answer", "Third answer")):
            student = make_user(db, f"pg-student-{n}")
            enrollments.enroll(db, student, "pagecourse")
            db.commit()
            sub = queue.enqueue(db, student, "pagecourse", "l1", {"l1.ipynb": NB})
            db.commit()
            grade_written(db, sub.id, answer=answer, worker=f"w-{n}")
            ids.append(sub.id)
    return SimpleNamespace(ids=ids, teacher=served.client("pg-teacher", instructor=True),
                           other=served.client("pg-other", instructor=True),
                           students=[served.client(f"pg-student-{n}") for n in range(3)])


def stored(served, sid: int) -> dict:
    with served.factory() as db:
        sub = db.get(NotebookSubmission, sid)
        return {"score": sub.score, "grades": {g.grade_id: (g.points, g.comment) for g in sub.manual_grades},
                "released": sub.feedback_released_at is not None}


def form(page_text: str) -> dict:
    return {"_xsrf": re.search(r'name="_xsrf" value="([^"]+)"', page_text).group(1)}


def own_form(served, client) -> dict:
    """An xsrf token of ``client``'s own (from a page with a form it may see), so that a refused
    post is refused for who sent it, not for a missing token."""
    for path in ("teach/courses/othercourse/grading", "courses/pagecourse/lessons/l1"):
        page = client.get(served.base + path)
        if page.status_code == 200 and 'name="_xsrf"' in page.text:
            return form(page.text)
    raise AssertionError("no page with a form for this client")


def refused(response) -> bool:
    return response.status_code == 403 and "instructors and admins" in html.unescape(response.text)


def test_the_queue_in_the_studio(served, world):
    page = world.teacher.get(served.base + "teach/courses/pagecourse/grading")
    assert page.status_code == 200
    assert re.search(r'<a href="[^"]*teach/courses/pagecourse/grading" aria-current="page">Grading</a>', page.text)
    rows = re.findall(r'<tr data-id="(\d+)" data-lesson="l1">', page.text)
    assert [int(r) for r in rows[:3]] == world.ids  # oldest first
    assert "pg-student-0" in page.text and 'id="start-grading"' in page.text
    assert re.search(r'<td class="to-grade"><a [^>]*>3</a></td>', page.text)
    only_l2 = world.teacher.get(served.base + "teach/courses/pagecourse/grading?lesson=l2&attempts=all")
    assert only_l2.status_code == 200 and 'id="queue-empty"' in only_l2.text
    # a forged filter shows the whole course rather than an error
    forged = world.teacher.get(served.base + "teach/courses/pagecourse/grading?lesson=%3Cx%3E&attempts=%00")
    assert forged.status_code == 200 and len(re.findall(r'<tr data-id="', forged.text)) >= 3
    for client in (world.other, world.students[0]):
        assert client.get(served.base + "teach/courses/pagecourse/grading").status_code == 403
    assert world.teacher.get(served.base + "teach/courses/nope/grading").status_code == 404
    api = world.teacher.get(served.base + "api/v1/teach/courses/pagecourse/grading/queue").json()
    assert [s["id"] for s in api["submissions"]][:3] == world.ids and api["feedback_release"] == "on_grading"
    assert world.teacher.get(served.base + "api/v1/teach/courses/pagecourse/grading/queue?attempts=x").status_code == 400
    assert world.students[0].get(served.base + "api/v1/teach/courses/pagecourse/grading/queue").status_code == 403


def test_the_submission_as_a_notebook_with_grade_boxes_and_keys(served, world):
    sid = world.ids[1]
    page = world.teacher.get(served.base + f"teach/submissions/{sid}")
    assert page.status_code == 200
    text = page.text
    # the notebook rendered: Markdown as HTML, code highlighted, the hidden tests (instructors only)
    assert "<h1" in text and "Squares" in text and 'class="highlight"' in text and "SECRET-HIDDEN" in text
    # each graded cell's grade box comes right after the cell
    answer, box = text.index("Second answer"), text.index('id="grade-explain"')
    assert answer < box and 'class="nb-cell' not in text[answer:box]
    assert text.index("SECRET-HIDDEN") < text.index('id="grade-test_square"') < text.index("Second answer")
    assert 'name="points:l1.ipynb:explain"' in text and 'name="comment:l1.ipynb:explain"' in text
    # next / previous ungraded and the keys, documented
    assert f'id="previous-ungraded" rel="prev" href="/services/lms/teach/submissions/{world.ids[0]}"' in text
    assert f'id="next-ungraded" rel="next" href="/services/lms/teach/submissions/{world.ids[2]}"' in text
    assert 'id="grading-keys"' in text and "<kbd>j</kbd>" in text and "<kbd>k</kbd>" in text
    script = re.search(r'<script src="([^"]*grading\.js[^"]*)"', text).group(1)
    js = world.teacher.get(served.base.split("/services/")[0] + script)
    assert js.status_code == 200 and "next-ungraded" in js.text
    # the student's hostile answer is shown, inert
    first = world.teacher.get(served.base + f"teach/submissions/{world.ids[0]}").text
    assert "<strong>x·x</strong>" in first and "<script>alert" not in first and "onerror" not in first
    for client in (world.other, world.students[1]):
        assert client.get(served.base + f"teach/submissions/{sid}").status_code == 403
    assert world.teacher.get(served.base + "teach/submissions/99999999").status_code == 404
    huge = "9" * 30  # beyond PostgreSQL's integer: still a plain 404, not a database error
    assert world.teacher.get(served.base + f"teach/submissions/{huge}").status_code == 404
    assert world.teacher.get(served.base + f"api/v1/teach/submissions/{huge}").status_code == 404
    assert world.teacher.post(served.base + f"teach/submissions/{huge}", data=form(page.text)).status_code == 404


@pytest.mark.parametrize("points, message", [
    ("4", "between 0 and 3"), ("-1", "between 0 and 3"), ("lots", "must be a number"),
    ("1e999", "must be a number"), ("nan", "must be a number"), ("9" * 500, "must be a number")])
def test_bad_points_redisplay_the_form_and_store_nothing(served, world, points, message):
    sid = world.ids[2]
    before = stored(served, sid)
    page = world.teacher.get(served.base + f"teach/submissions/{sid}")
    r = world.teacher.post(served.base + f"teach/submissions/{sid}", data={
        **form(page.text), "points:l1.ipynb:explain": points, "comment:l1.ipynb:explain": "Typed <b>comment</b>",
        "points:l1.ipynb:test_square": "1"})
    assert r.status_code == 400
    assert 'id="grade-error"' in r.text and message in html.unescape(r.text)
    assert "Typed &lt;b&gt;comment&lt;/b&gt;" in r.text  # what was typed, escaped, is still there
    assert stored(served, sid) == before  # not even the valid part was stored


def test_save_one_part_all_and_next(served, world):
    sid = world.ids[0]
    page = world.teacher.get(served.base + f"teach/submissions/{sid}")
    # one part's own Save button: only that part is stored
    r = world.teacher.post(served.base + f"teach/submissions/{sid}", data={
        **form(page.text), "only": "l1.ipynb:explain", "points:l1.ipynb:explain": "2,5",
        "comment:l1.ipynb:explain": "Good", "points:l1.ipynb:test_square": "0", "comment:l1.ipynb:test_square": "x"})
    assert r.status_code == 200 and 'id="saved"' in r.text and r.url.endswith(f"teach/submissions/{sid}?saved=1")
    assert stored(served, sid)["grades"] == {"explain": (2.5, "Good")}
    assert 'id="needs-manual"' not in r.text  # every written answer has points now
    # "Save and next ungraded": on to the next submission still waiting
    r = world.teacher.post(served.base + f"teach/submissions/{sid}", data={
        **form(page.text), "then": "next", "points:l1.ipynb:explain": "3", "comment:l1.ipynb:explain": "Better"})
    assert r.status_code == 200 and f"teach/submissions/{world.ids[1]}?saved=1" in r.url
    assert stored(served, sid)["grades"]["explain"] == (3.0, "Better")
    queue_ids = [s["id"] for s in world.teacher.get(
        served.base + "api/v1/teach/courses/pagecourse/grading/queue").json()["submissions"]]
    assert sid not in queue_ids and world.ids[1] in queue_ids
    # students and other instructors cannot post grades
    for client in (world.students[0], world.other):
        assert refused(client.post(served.base + f"teach/submissions/{sid}", data={
            **own_form(served, client), "points:l1.ipynb:explain": "0", "comment:l1.ipynb:explain": "mine"}))
        assert client.put(served.base + f"api/v1/teach/submissions/{sid}/grades", json={"grades": [
            {"notebook": "l1.ipynb", "grade_id": "explain", "points": 0}]}).status_code == 403
    assert stored(served, sid)["grades"]["explain"] == (3.0, "Better")
    # an unknown part of a forged form
    r = world.teacher.post(served.base + f"teach/submissions/{sid}", data={
        **form(page.text), "only": "l1.ipynb:nope", "points:l1.ipynb:explain": "1"})
    assert r.status_code == 400 and stored(served, sid)["grades"]["explain"] == (3.0, "Better")


def test_held_feedback_through_the_pages_and_the_api(served, world):
    teacher, student = world.teacher, world.students[2]
    sid = world.ids[2]
    page = teacher.get(served.base + "teach/courses/pagecourse/grading")
    # bad policy values: 400, the policy unchanged
    for bad in ({"feedback_release": "sometimes"}, {}):
        assert teacher.post(served.base + "teach/courses/pagecourse/grading/settings",
                            data={**form(page.text), **bad}).status_code == 400
    for body in ({"feedback_release": 1}, {"feedback_release": "held", "x": 1}, ["held"]):
        r = teacher.put(served.base + "api/v1/teach/courses/pagecourse/grading/settings", json=body)
        assert r.status_code == 400 and r.json()["message"]
    assert student.put(served.base + "api/v1/teach/courses/pagecourse/grading/settings",
                       json={"feedback_release": "held"}).status_code == 403
    assert refused(world.other.post(served.base + "teach/courses/pagecourse/grading/settings",
                                    data={**own_form(served, world.other), "feedback_release": "held"}))
    assert refused(student.post(served.base + "teach/courses/pagecourse/grading/settings",
                                data={**own_form(served, student), "feedback_release": "held"}))
    assert teacher.get(served.base + "api/v1/teach/courses/pagecourse/grading/queue").json()[
        "feedback_release"] == "on_grading"

    r = teacher.post(served.base + "teach/courses/pagecourse/grading/settings",
                     data={**form(page.text), "feedback_release": "held"})
    assert r.status_code == 200 and "Held until I release it" in r.text
    # graded after the switch: held
    with served.factory() as db:
        sub = queue.enqueue(db, db.get(NotebookSubmission, sid).user, "pagecourse", "l1", {"l1.ipynb": NB})
        db.commit()
        new = sub.id
        grade_written(db, new, answer="Held answer", worker="w-held")
    r = teacher.put(served.base + f"api/v1/teach/submissions/{new}/grades", json={"grades": [
        {"notebook": "l1.ipynb", "grade_id": "explain", "points": 3, "comment": "HELD-COMMENT"}]})
    assert r.status_code == 200 and r.json()["feedback_released"] is False

    mine = student.get(served.base + f"api/v1/submissions/{new}").json()
    assert mine["status"] == "graded" and mine["score"] is None and mine["feedback"] is None
    assert mine["feedback_released"] is False
    lesson_api = student.get(served.base + "api/v1/courses/pagecourse/lessons/l1/submissions").json()
    assert "HELD-COMMENT" not in json.dumps(lesson_api)
    assert next(s for s in lesson_api["submissions"] if s["id"] == new)["score"] is None
    lesson_page = student.get(served.base + "courses/pagecourse/lessons/l1")
    assert lesson_page.status_code == 200 and "HELD-COMMENT" not in lesson_page.text
    assert "releases the feedback later" in lesson_page.text
    assert f"submissions/{new}/feedback" not in lesson_page.text
    for path in (f"submissions/{new}/feedback", f"submissions/{new}/feedback/file"):
        r = student.get(served.base + path)
        assert r.status_code == 409 and "HELD-COMMENT" not in r.text and "not released" in r.text
    assert student.get(served.base + f"api/v1/exchange/submissions/{new}/feedback").status_code == 409

    # the studio shows it held; the student cannot release it; the instructor does
    grading = teacher.get(served.base + "teach/courses/pagecourse/grading")
    assert re.search(r'<tr data-lesson="l1">.*?<td class="held">1', grading.text, re.S)
    listing = teacher.get(served.base + "teach/courses/pagecourse/lessons/l1/submissions")
    assert listing.status_code == 200 and 'aria-current="page">Grading' in listing.text
    assert re.search(rf'<tr data-id="{new}" data-status="graded">.*?feedback held</span></td>', listing.text, re.S)
    assert student.post(served.base + "api/v1/teach/courses/pagecourse/lessons/l1/release-feedback").status_code == 403
    assert refused(world.other.post(served.base + "teach/courses/pagecourse/lessons/l1/release-feedback",
                                    data=own_form(served, world.other)))
    assert refused(student.post(served.base + "teach/courses/pagecourse/lessons/l1/release-feedback",
                                data=own_form(served, student)))
    assert teacher.post(served.base + "api/v1/teach/courses/pagecourse/lessons/nope/release-feedback").status_code == 404
    assert not stored(served, new)["released"]
    r = teacher.post(served.base + "teach/courses/pagecourse/lessons/l1/release-feedback", data=form(grading.text))
    assert r.status_code == 200 and "Feedback released on 1 submission(s)." in r.text
    mine = student.get(served.base + f"api/v1/submissions/{new}").json()
    assert mine["score"] == 5.0 and mine["feedback_released"] is True and "HELD-COMMENT" in json.dumps(mine)
    assert "HELD-COMMENT" in student.get(served.base + f"submissions/{new}/feedback/file").text
    assert "HELD-COMMENT" in student.get(served.base + "courses/pagecourse/lessons/l1").text
