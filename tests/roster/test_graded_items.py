"""Quizzes and code challenges in the roster and the gradebook: the service on both databases, then
the JSON API, the CSV download and the pages served by the real Tornado app (both databases).

Quiz attempts go through ``services/quizzes.answer`` and challenge submissions through
``services/challenges.record`` (the judge's result is given: no sandbox here)."""
from __future__ import annotations

import csv
import io

import pytest
import requests

from lms_extension.db import session_factory
from lms_extension.errors import Forbidden, InvalidInput
from lms_extension.models import Challenge, Lesson
from lms_extension.models.learning import Quiz
from lms_extension.services import (
    challenges,
    enrollments,
    gradebook,
    quizzes,
    roster,
    users,
)
from lms_extension.services.course_import import import_course, load_course_folder
from tests.identity import token_client
from tests.factories import make_user, write_course
from tests.grading_admin.conftest import WRITTEN, course_with_policy

from .conftest import POLICY, SLUG

ADDITION = "What is 2 + 2?"
HOSTILE = "=HYPERLINK(\"http://evil\", \"click\")"


def result(passed: int, total: int) -> dict:
    """What the judge hands ``challenges.record`` (services/challenges.outcome's shape)."""
    return {"status": "passed" if passed == total else "failed", "passed": passed, "total": total,
            "compile_output": None, "tests": [{"index": i, "hidden": False, "status": "accepted" if i < passed
                                               else "wrong_answer"} for i in range(total)]}


def add_items(session, slug: str) -> None:
    """Two quizzes (the second's question would be a formula) and two challenges, on lessons l1 and l2."""
    lessons = {ls.key: ls for ls in session.query(Lesson).join(Lesson.course).filter_by(slug=slug)}
    session.add_all([
        Quiz(lesson_id=lessons["l1"].id, key="q-add", position=0, kind="choice", question=ADDITION,
             options='["4", "5"]', answer="[0]", points=2.0, max_attempts=3),
        Quiz(lesson_id=lessons["l2"].id, key="q-evil", position=0, kind="short", question=HOSTILE,
             options="[]", answer='["yes"]', points=1.0),
        Challenge(lesson_id=lessons["l1"].id, key="sum", title="Sum two numbers", position=0),
        Challenge(lesson_id=lessons["l2"].id, key="rev", title="Reverse a list", position=0)])
    session.flush()


def work(session, student, slug: str) -> None:
    """The student: addition wrong then right; sum 1 of 3 (Python), 3 of 3 (Python), then 2 of 3 (Java)."""
    quizzes.answer(session, student, slug, "q-add", 1)
    quizzes.answer(session, student, slug, "q-add", 0)
    total = session.query(Challenge).filter_by(key="sum").join(Challenge.lesson).join(Lesson.course) \
        .filter_by(slug=slug).one()
    for language, passed in [(71, 1), (71, 3), (62, 2)]:
        challenges.record(session, student, total, language, "print(1)", result(passed, 3))
    session.flush()


@pytest.fixture
def worked(session, course, teacher, student):
    add_items(session, SLUG)
    work(session, student, SLUG)
    idle = make_user(session, "roster-idle")
    enrollments.enroll(session, idle, SLUG)
    session.flush()
    return student


def csv_rows(text: str) -> tuple[list[str], dict[str, dict]]:
    table = list(csv.reader(io.StringIO(text)))
    header = table[0]
    assert len(set(header)) == len(header), header  # a DictReader would lose a column otherwise
    return header, {r[0]: dict(zip(header, r)) for r in table[1:]}


QUIZ_ADD = f"{ADDITION} (quiz, 2 pts)"
QUIZ_EVIL = "'" + f"{HOSTILE} (quiz, 1 pt)"  # quoted: not a formula in a spreadsheet


def no_formulas(text: str) -> None:
    """No cell of the CSV would run as a formula in a spreadsheet."""
    for line in csv.reader(io.StringIO(text)):
        for cell in line:
            assert not cell.startswith(gradebook.FORMULA_START), cell


def test_csv_has_quizzes_and_challenges(session, teacher, worked):
    _, text = gradebook.csv_text(session, teacher, SLUG)
    header, rows = csv_rows(text)
    # the exercise columns and the totals stay where they were
    assert header[:5] == ["username", "display_name", "l1 raw", "l1 late penalty %", "l1 final"]
    assert header[-3:] == ["total raw", "total final", "total max"]
    items = header[2 + 3 * 3:-3]  # after the three exercises
    assert items == [QUIZ_ADD, QUIZ_EVIL,
                     "Sum two numbers (challenge) passed", "Sum two numbers (challenge) tests",
                     "Sum two numbers (challenge) language",
                     "Reverse a list (challenge) passed", "Reverse a list (challenge) tests",
                     "Reverse a list (challenge) language"]
    ada = rows["roster-student"]
    assert (ada[QUIZ_ADD], ada[QUIZ_EVIL]) == ("2", "")
    # the best submission passed every test: Python, not the later Java one
    assert (ada["Sum two numbers (challenge) passed"], ada["Sum two numbers (challenge) tests"],
            ada["Sum two numbers (challenge) language"]) == ("yes", "3 of 3", "Python")
    assert [ada[h] for h in items[5:]] == ["", "", ""]
    idle = rows["roster-idle"]
    assert [idle[h] for h in items] == [""] * len(items)
    assert idle["username"] == "roster-idle" and idle["total final"] == "0"
    no_formulas(text)


def test_csv_titles_that_look_like_formulas(session, teacher, worked):
    """Any title a spreadsheet would run is quoted, whichever item it names."""
    session.query(Challenge).filter_by(key="rev").one().title = "@SUM(A1:A9)"
    session.query(Quiz).filter_by(key="q-add").one().question = "+1+2"
    session.flush()
    _, text = gradebook.csv_text(session, teacher, SLUG)
    header, _ = csv_rows(text)
    assert "'+1+2 (quiz, 2 pts)" in header and "'@SUM(A1:A9) (challenge) passed" in header
    no_formulas(text)


def test_csv_a_wrong_answer_scores_zero_and_the_best_challenge_try_counts(session, teacher, worked, student):
    quizzes.answer(session, student, SLUG, "q-evil", "no")
    rev = session.query(Challenge).filter_by(key="rev").one()
    challenges.record(session, student, rev, 52, "int main(){}", result(1, 4))
    challenges.record(session, student, rev, 71, "pass", result(0, 4))
    _, text = gradebook.csv_text(session, teacher, SLUG)
    _, rows = csv_rows(text)
    ada = rows["roster-student"]
    assert ada[QUIZ_EVIL] == "0"  # attempted, wrong: not empty
    assert (ada["Reverse a list (challenge) passed"], ada["Reverse a list (challenge) tests"],
            ada["Reverse a list (challenge) language"]) == ("no", "1 of 4", "C++")


def test_roster_rows_count_quizzes_and_challenges(session, teacher, worked, student):
    page = roster.course_roster(session, teacher, SLUG)
    assert [roster.quiz_title(q) for q in page.quizzes] == [ADDITION, HOSTILE]
    assert [c.title for c in page.challenges] == ["Sum two numbers", "Reverse a list"]
    views = {r.user.hub_name: roster.row_view(r) for r in page.rows}
    ada, idle = views["roster-student"], views["roster-idle"]
    assert (ada["quizzes_passed"], ada["quizzes_attempted"], ada["quizzes_total"], ada["quiz_mean_percent"]) == (
        1, 1, 2, 100.0)
    assert (ada["challenges_passed"], ada["challenges_submitted"], ada["challenges_total"]) == (1, 1, 2)
    add, evil = ada["quizzes"]
    assert (add["quiz"], add["lesson"], add["attempts"], add["score"], add["percent"], add["passed"]) == (
        "q-add", "l1", 2, 2.0, 100.0, True)
    assert (evil["attempts"], evil["score"], evil["percent"], evil["passed"]) == (0, None, None, False)
    total, rev = ada["challenges"]
    assert (total["challenge"], total["submissions"], total["passed"], total["tests_passed"], total["tests_total"],
            total["language"]) == ("sum", 3, True, 3, 3, "Python")
    assert (rev["submissions"], rev["passed"], rev["tests_passed"], rev["language"]) == (0, False, None, None)
    assert (idle["quizzes_passed"], idle["quizzes_attempted"], idle["quiz_mean_percent"],
            idle["challenges_passed"]) == (0, 0, None, 0)
    assert all(q["score"] is None for q in idle["quizzes"]) and all(
        c["tests_total"] is None for c in idle["challenges"])
    # a wrong answer to the second quiz halves the mean
    quizzes.answer(session, student, SLUG, "q-evil", "no")
    (row,) = roster.course_roster(session, teacher, SLUG, q="roster-student").rows
    assert (row.quizzes_passed, row.quizzes_attempted, row.quiz_mean_percent) == (1, 2, 50.0)


def test_roster_sorts_by_quizzes_and_challenges(session, teacher, worked):
    for sort in ("quizzes", "challenges"):
        down = roster.course_roster(session, teacher, SLUG, sort=sort, order="desc")
        up = roster.course_roster(session, teacher, SLUG, sort=sort, order="asc")
        assert [r.user.hub_name for r in down.rows] == ["roster-student", "roster-idle"], sort
        assert [r.user.hub_name for r in up.rows] == ["roster-idle", "roster-student"], sort
    with pytest.raises(InvalidInput):
        roster.course_roster(session, teacher, SLUG, sort="quiz_answers")


def test_only_the_course_teacher_sees_the_items(session, worked, student):
    other = make_user(session, "roster-items-outsider", instructor=True)
    for user in (other, student):
        with pytest.raises(Forbidden):
            gradebook.csv_text(session, user, SLUG)
        with pytest.raises(Forbidden):
            roster.course_roster(session, user, SLUG)


def test_query_count_with_items_does_not_grow_with_students(session, engine, teacher, course, worked):
    from sqlalchemy import event

    from .test_roster import enroll_many

    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    def queries(run) -> int:
        session.expire_all()
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            run()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    page = lambda: roster.course_roster(session, teacher, SLUG, sort="quizzes", order="desc")
    sheet = lambda: gradebook.csv_text(session, teacher, SLUG)
    small = queries(page), queries(sheet)
    enroll_many(session, course, 200, "crowd")
    big = queries(page), queries(sheet)
    assert all(b <= s for b, s in zip(big, small)) and max(big) <= 18, (small, big)
    assert roster.course_roster(session, teacher, SLUG, sort="quizzes", order="desc").rows[0].user.hub_name == \
        "roster-student"


# the served app ---------------------------------------------------------------------------

ROLES = {"roster-teacher": {"instructor": True}, "roster-other-teacher": {"instructor": True},
         "roster-student": {}, "roster-bob": {}}


def seed(tmp_path):
    def run(engine):
        with session_factory(engine)() as s:
            for name, roles in ROLES.items():
                make_user(s, name, **roles)
            import_course(s, load_course_folder(course_with_policy(
                tmp_path, SLUG, POLICY, instructor="roster-teacher", notebook=WRITTEN, lessons=2)))
            import_course(s, load_course_folder(write_course(tmp_path / "o", "otherc",
                                                             instructor="roster-other-teacher")))
            users.update_profile(s, users.by_name(s, "roster-student"), display_name="Ada Lovelace")
            for name in ("roster-student", "roster-bob"):
                enrollments.enroll(s, users.by_name(s, name), SLUG)
            add_items(s, SLUG)
            work(s, users.by_name(s, "roster-student"), SLUG)
            s.commit()
    return run


as_user = token_client


def test_served_roster_gradebook_and_pages(served):
    base, _ = served
    teacher = as_user("roster-teacher")
    r = teacher.get(base + f"api/v1/teach/courses/{SLUG}/roster?sort=quizzes&order=desc", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(q["quiz"], q["title"], q["points"]) for q in body["quizzes"]] == [("q-add", ADDITION, 2.0),
                                                                                ("q-evil", HOSTILE, 1.0)]
    assert [c["title"] for c in body["challenges"]] == ["Sum two numbers", "Reverse a list"]
    ada, bob = body["students"]
    assert (ada["username"], ada["quizzes_passed"], ada["quiz_mean_percent"], ada["challenges_passed"]) == (
        "roster-student", 1, 100.0, 1)
    assert ada["challenges"][0]["language"] == "Python" and ada["quizzes"][0]["score"] == 2.0
    assert (bob["username"], bob["quizzes_attempted"], bob["challenges_submitted"]) == ("roster-bob", 0, 0)

    r = teacher.get(base + f"api/v1/teach/courses/{SLUG}/gradebook.csv", timeout=30)
    assert r.status_code == 200
    header, rows = csv_rows(r.text)
    assert QUIZ_EVIL in header
    no_formulas(r.text)
    assert rows["roster-student"][QUIZ_ADD] == "2" and rows["roster-bob"][QUIZ_ADD] == ""
    assert rows["roster-student"]["Sum two numbers (challenge) tests"] == "3 of 3"
    assert rows["roster-bob"]["Sum two numbers (challenge) passed"] == ""
    # the page's download button serves the same CSV
    assert teacher.get(base + f"teach/courses/{SLUG}/gradebook.csv", timeout=30).text == r.text

    for who, status in [("roster-other-teacher", 403), ("roster-student", 403), ("nobody", 401)]:
        for url in (f"api/v1/teach/courses/{SLUG}/roster", f"api/v1/teach/courses/{SLUG}/gradebook.csv"):
            r = as_user(who).get(base + url, timeout=30)
            assert r.status_code == status and "Sum two numbers" not in r.text, (who, url)

    page = teacher.get(base + f"teach/courses/{SLUG}/roster?sort=challenges&order=desc", timeout=30).text
    assert 'data-quizzes="1/2"' in page and 'data-challenges="1/2"' in page and "mean 100 %" in page
    assert 'data-quizzes="0/2"' in page and 'aria-sort="descending"' in page and ">Challenges ▼<" in page
    detail = teacher.get(base + f"teach/courses/{SLUG}/roster/roster-student", timeout=30).text
    assert 'id="student-quizzes"' in detail and 'id="student-challenges"' in detail
    assert ADDITION in detail and "Sum two numbers" in detail and "3 of 3 tests" in detail
    assert "HYPERLINK(&#34;http" in detail or "HYPERLINK(&quot;http" in detail  # escaped, not markup
    assert "not tried" in detail and "not submitted" in detail

    doc = requests.get(base + "api/v1/openapi.json", timeout=30).json()
    student = doc["components"]["schemas"]["RosterStudent"]["properties"]
    assert {"quizzes_passed", "quiz_mean_percent", "challenges_passed", "quizzes", "challenges"} <= set(student)
    assert "quizzes" in doc["paths"]["/teach/courses/{slug}/roster"]["get"]["parameters"][3]["schema"]["enum"]
