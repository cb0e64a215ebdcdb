"""Asking about a notebook cell (JupyterLab's "Ask about this cell"): redaction by construction
against a hostile client, the failing public tests, similar questions, and the attachment for staff.

The lesson of these tests (tests/factories.py MINIMAL_NOTEBOOK, plus a written-answer solution
cell) has a solution region (``return x * x``), a hidden test (``assert square(-4) == 16  #
SECRET-HIDDEN``) and a solution cell without delimiters; the student version has none of them."""
from __future__ import annotations

import copy
import json

import pytest
import requests
from sqlalchemy import select

from lms_extension.db import session_factory
from lms_extension.errors import Forbidden, InvalidInput
from lms_extension.models.forum import ForumPost, ForumTerm, ForumThread
from lms_extension.models.forum_ask import ForumAttachment
from lms_extension.services import enrollments, forum, forum_ask, users
from tests.factories import MINIMAL_NOTEBOOK, make_course, make_user
from tests.identity import token_client as as_user

from .conftest import SLUG

ASK = "askc"
NOTEBOOK = copy.deepcopy(MINIMAL_NOTEBOOK)
NOTEBOOK["cells"].append({
    "cell_type": "markdown", "id": "essay",
    "metadata": {"nbgrader": {"schema_version": 3, "grade": True, "solution": True, "locked": False,
                              "task": False, "grade_id": "essay", "points": 1}},
    "source": "Squares grow fast because SECRET-ESSAY multiplication doubles the digits"})
HIDDEN = "assert square(-4) == 16  # SECRET-HIDDEN"
SOLUTION = "return x * x"
ESSAY = "Squares grow fast because SECRET-ESSAY multiplication doubles the digits"
SECRETS = [forum_ask.normalise(s) for s in (HIDDEN, SOLUTION, ESSAY)]
TRACEBACK = ("\x1b[0;31m---------------------------------------------------------------------------\x1b[0m\n"
             "\x1b[0;31mAssertionError\x1b[0m                            Traceback (most recent call last)\n"
             "Cell \x1b[0;32mIn[3], line 1\x1b[0m\n\x1b[0;32m----> 1\x1b[0m \x1b[38;5;28;01massert\x1b[39;00m "
             "square(\x1b[38;5;241m3\x1b[39m) \x1b[38;5;241m==\x1b[39m \x1b[38;5;241m9\x1b[39m\n"
             "\x1b[0;31mAssertionError\x1b[0m: ")

# what a hostile client pastes into every field, each written another way
PASTES = [
    HIDDEN,
    "    assert  square( -4 )==16 # SECRET-HIDDEN",  # other spacing
    "\x1b[0;32m----> 3\x1b[0m assert square(-4) == 16  # SECRET-HIDDEN",  # a traceback's arrow and colours
    "print('x'); assert square(-4) == 16  # SECRET-HIDDEN",  # inside a longer line
    "ａｓｓｅｒｔ square(-4) == 16  # SECRET-HIDDEN",  # full-width letters (NFKC)
    f"```python\n{HIDDEN}\n```",  # in a code block of the body
    "assert square(-4)\n    == 16  # SECRET-HIDDEN",  # across two lines
    f"def square(x):\n    {SOLUTION}",  # the solution
    ESSAY,  # a solution cell without delimiters
]


def leaks(text: str) -> list[str]:
    flat = forum_ask.normalise(text or "")
    return [s for s in SECRETS if s in flat or s.replace("#", "") in flat.replace("#", "")]


@pytest.fixture
def ask_world(session, tmp_path):
    make_course(session, tmp_path, ASK, instructor="a-teacher", lessons=1, notebook=NOTEBOOK)
    people = {name: make_user(session, name, **roles) for name, roles in
              {"a-teacher": dict(instructor=True), "a-ann": {}, "a-bob": {}, "a-out": {}}.items()}
    for name in ("a-ann", "a-bob"):
        enrollments.enroll(session, people[name], ASK)
    session.commit()
    return people


def stored_text(session) -> str:
    parts = []
    for a in session.scalars(select(ForumAttachment)):
        parts += [a.code, a.context, a.output, a.traceback, a.exception, a.failing_tests]
    for t in session.scalars(select(ForumThread)):
        parts.append(t.title)
    for p in session.scalars(select(ForumPost)):
        parts += [p.body, p.html]
    return "\n".join(parts)


def test_forbidden_lines_come_from_the_instructor_version_only():
    student = json.loads(json.dumps(NOTEBOOK))
    student["cells"][1]["source"] = "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    student["cells"][2]["source"] = "assert square(3) == 9"
    student["cells"][3]["source"] = "YOUR ANSWER HERE"
    lines = forum_ask.forbidden_lines(json.dumps(NOTEBOOK), json.dumps(student))
    assert set(SECRETS) <= lines
    # what the student sees anyway is never forbidden: the public test, the function's head, markers
    assert forum_ask.normalise("assert square(3) == 9") not in lines
    assert forum_ask.normalise("def square(x):") not in lines
    assert not any("BEGIN" in line.upper() for line in lines)


def test_hostile_client_cannot_attach_hidden_tests_or_solutions(session, ask_world):
    student = ask_world["a-ann"]
    for n, paste in enumerate(PASTES):
        thread, attachment = forum_ask.ask(
            session, student, ASK, lesson="l1", cell_id="test", title=f"Help {n}: {paste.splitlines()[0][:60]}",
            body=f"My code:\n\n{paste}\n\nand more", code=f"x = 1\n{paste}\nprint(square(2))", context=paste,
            output=f"4\n{paste}", traceback=f"{TRACEBACK}\n{paste}", exception="AssertionError")
        assert attachment.redacted_lines >= 5, (paste, attachment.redacted_lines)
        session.flush()
        assert leaks(stored_text(session)) == [], paste
    # the search index has no word that only a secret holds
    terms = set(session.scalars(select(ForumTerm.term)))
    assert not terms & {"secret", "essay", "multiplication", "digits"}, [
        (p.body) for p in session.scalars(select(ForumPost)) if "ecret" in p.body.lower() or "digit" in p.body]
    # what the student wrote themselves stays: the public test's traceback, their own code
    first = session.scalars(select(ForumAttachment).order_by(ForumAttachment.thread_id)).first()
    assert "x = 1" in first.code and "print(square(2))" in first.code
    assert "----> 1 assert square(3) == 9" in first.traceback and "\x1b" not in first.traceback
    assert forum_ask.REMOVED in first.code


def test_the_draft_prefills_a_clean_question_with_the_failing_public_test(session, ask_world):
    d = forum_ask.draft(session, ask_world["a-ann"], ASK, lesson="l1", cell_id="test",
                        code="assert square(3) == 9", traceback=TRACEBACK + "\n" + HIDDEN)
    view = d.as_dict()
    assert view["exception"] == "AssertionError"
    assert view["failing_tests"] == ["Squares"]  # the exercise's heading, never the grade id
    assert view["version"] == 1 and view["cell_id"] == "test"
    assert "Squares" in view["title"] and "AssertionError" in view["title"]
    assert "```python\nassert square(3) == 9\n```" in view["body"] and "version 1" in view["body"]
    assert leaks(view["body"]) == [] and leaks(view["traceback"]) == []
    assert "\x1b" not in view["traceback"]
    # a cell that ran fine: no exception, no failing test
    fine = forum_ask.draft(session, ask_world["a-ann"], ASK, lesson="l1", cell_id="sol", code="def square(x): ...")
    assert fine.exception == "" and fine.failing_tests == []


def test_bad_input_is_refused_clearly(session, ask_world):
    ann = ask_world["a-ann"]
    for kwargs, field in [(dict(lesson="l1", cell_id="nope"), "cell_id"), (dict(lesson="zz", cell_id="test"), "lesson"),
                          (dict(lesson="l1", cell_id="test", version=7), "version"),
                          (dict(lesson="l1", cell_id="test", code=5), "code"),
                          (dict(lesson="l1", cell_id="test", exception="not a name!"), "exception"),
                          (dict(lesson="l1", cell_id=""), "cell_id")]:
        with pytest.raises(InvalidInput) as err:
            forum_ask.draft(session, ann, ASK, **kwargs)
        assert err.value.details.get("field") == field, kwargs
    with pytest.raises(Forbidden):
        forum_ask.draft(session, ask_world["a-out"], ASK, lesson="l1", cell_id="test")
    with pytest.raises(InvalidInput):
        forum_ask.similar(session, ann, ASK, signature_hex="not-hex")
    long = forum_ask.draft(session, ann, ASK, lesson="l1", cell_id="sol", output="y" * 50_000)
    assert len(long.output) < 20_100 and long.output.endswith("too long]")


def test_same_error_suggests_threads_with_endorsed_answers_first(session, ask_world):
    ann, bob, teacher = ask_world["a-ann"], ask_world["a-bob"], ask_world["a-teacher"]
    asked = dict(lesson="l1", cell_id="test", traceback=TRACEBACK, code="assert square(3) == 9")
    old, _ = forum_ask.ask(session, ann, ASK, title="square(3) fails", body="Why?", **asked)
    new, _ = forum_ask.ask(session, ann, ASK, title="square(3) still fails", body="Again", **asked)
    other, _ = forum_ask.ask(session, ann, ASK, title="a TypeError", body="Why?", lesson="l1", cell_id="test",
                             exception="TypeError")
    answer = forum.add_post(session, teacher, old.id, body="Multiply, do not add.")
    forum.endorse(session, teacher, answer.id, True)
    d = forum_ask.draft(session, bob, ASK, **asked)
    found = forum_ask.similar(session, bob, ASK, signature_hex=d.signature)
    assert [t["id"] for t in found] == [old.id, new.id]  # endorsed first, not the TypeError
    assert found[0]["endorsed"] and found[0]["same_error"] and not found[1]["endorsed"]
    # the title being typed adds the lesson's threads whose words match, after the same-error ones
    typed = forum_ask.similar(session, bob, ASK, signature_hex=d.signature, lesson="l1", q="typeerr")
    assert [t["id"] for t in typed] == [old.id, new.id, other.id] and typed[2]["same_error"] is False
    # a private question with that error is not suggested to classmates, but to its author and staff
    private, _ = forum_ask.ask(session, ann, ASK, title="private one", body="Mine", private=True, **asked)
    assert private.id not in [t["id"] for t in forum_ask.similar(session, bob, ASK, signature_hex=d.signature)]
    assert private.id in [t["id"] for t in forum_ask.similar(session, teacher, ASK, signature_hex=d.signature)]
    # a question the staff hid is not suggested to classmates either (its author and staff still see it)
    opening = session.scalar(select(ForumPost).where(ForumPost.thread_id == new.id, ForumPost.opening.is_(True)))
    forum.hide_post(session, teacher, opening.id, "Off-topic")
    assert new.id not in [t["id"] for t in forum_ask.similar(session, bob, ASK, signature_hex=d.signature)]
    assert new.id in [t["id"] for t in forum_ask.similar(session, teacher, ASK, signature_hex=d.signature)]


def test_staff_get_the_attachment_as_a_notebook(session, ask_world):
    ann, bob, teacher = ask_world["a-ann"], ask_world["a-bob"], ask_world["a-teacher"]
    thread, _ = forum_ask.ask(session, ann, ASK, title="square(3) fails", body="Why?", lesson="l1", cell_id="test",
                              context="def square(x):\n    return x + x\n" + SOLUTION, code="assert square(3) == 9",
                              output="6", traceback=TRACEBACK)
    got = forum_ask.attachment_for_staff(session, teacher, thread.id)
    nb = json.loads(got["notebook"])
    above, code = nb["cells"][1], nb["cells"][2]
    assert above["source"].startswith("def square(x):\n    return x + x") and leaks(got["notebook"]) == []
    assert code["source"] == "assert square(3) == 9"
    assert [o["name"] for o in code["outputs"]] == ["stdout", "stderr"]
    assert nb["metadata"]["lms"] == {"question": thread.id, "course": ASK, "lesson": "l1", "version": 1}
    import nbformat

    nbformat.validate(nbformat.reads(got["notebook"], as_version=4))
    for who in (ann, bob):  # the asker and classmates read the thread, not this
        with pytest.raises(Forbidden):
            forum_ask.attachment_for_staff(session, who, thread.id)
    plain = forum.create_thread(session, ann, ASK, title="no cell", body="plain question")
    with pytest.raises(Exception) as err:
        forum_ask.attachment_for_staff(session, teacher, plain.id)
    assert "not asked from a notebook cell" in str(err.value)
    assert forum_ask.attachment_summary(session, thread.id)["failing_tests"] == ["Squares"]
    assert forum_ask.attachment_summary(session, plain.id) is None


# ---------------------------------------------------------------- over HTTP, both databases
def test_api_hostile_client_and_similar(served):
    base, engine = served
    ann, bob, teacher, eve = (as_user(n) for n in ("f-ann", "f-bob", "f-teacher", "f-eve"))
    url = base + f"api/v1/courses/{SLUG}/threads/"
    paste = "\n".join(PASTES[:-1])  # this course's lesson has no written-answer cell
    r = ann.post(url + "ask-draft", json={"lesson": "l1", "cell_id": "test", "code": paste, "output": paste,
                                          "traceback": TRACEBACK + "\n" + paste}, timeout=30)
    assert r.status_code == 200, r.text
    draft = r.json()
    assert leaks(json.dumps(draft)) == [] and draft["failing_tests"] == ["Squares"] and draft["similar"] == []
    r = ann.post(url + "ask", json={"lesson": "l1", "cell_id": "test", "code": paste, "output": paste,
                                    "traceback": paste + "\n" + TRACEBACK, "title": HIDDEN, "body": draft["body"] + "\n" + paste,
                                    "anonymous": True}, timeout=30)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert r.json()["url"].endswith(f"forum/threads/{tid}") and r.json()["redacted_lines"] > 10
    shown = bob.get(base + f"api/v1/threads/{tid}", timeout=30)
    assert shown.status_code == 200 and leaks(shown.text) == [] and "SECRET" not in shown.text
    assert shown.json()["cell_id"] == "test" and shown.json()["lesson_version"] == 1
    with session_factory(engine)() as s:
        assert leaks(stored_text(s)) == []
    # the next student with the same error is told of it
    again = bob.post(url + "ask-draft", json={"lesson": "l1", "cell_id": "test", "traceback": TRACEBACK}, timeout=30)
    assert [t["id"] for t in again.json()["similar"]] == [tid]
    similar = bob.get(url + "similar", params={"signature": again.json()["signature"], "q": "question"}, timeout=30)
    assert similar.status_code == 200 and similar.json()["threads"][0]["url"].endswith(f"forum/threads/{tid}")
    # the attachment: staff only; others 403, non-members 403, a bad id 404, bad input 400
    got = teacher.get(base + f"api/v1/threads/{tid}/attachment", timeout=30)
    assert got.status_code == 200 and leaks(got.text) == []
    assert bob.get(base + f"api/v1/threads/{tid}/attachment", timeout=30).status_code == 403
    assert eve.get(base + f"api/v1/threads/{tid}/attachment", timeout=30).status_code == 403
    assert teacher.get(base + "api/v1/threads/x/attachment", timeout=30).status_code == 404
    assert eve.post(url + "ask-draft", json={"lesson": "l1", "cell_id": "test"}, timeout=30).status_code == 403
    for bad in ({"lesson": "l1", "cell_id": "test", "extra": 1}, {"lesson": "l1", "cell_id": "nope"}, [1]):
        r = ann.post(url + "ask-draft", json=bad, timeout=30)
        assert r.status_code == 400 and r.json()["message"], r.text
    assert ann.get(url + "similar", params={"signature": "zz"}, timeout=30).status_code == 400
    assert requests.get(url + "similar", timeout=30).status_code in (401, 403)
    # the thread page shows where it was asked from; staff get the Open in JupyterLab link
    page = teacher.get(base + f"forum/threads/{tid}", timeout=30)
    assert page.status_code == 200 and "Asked from JupyterLab" in page.text and "Squares" in page.text
    assert f"user-redirect/lms/ask/open?thread={tid}" in page.text
    page = bob.get(base + f"forum/threads/{tid}", timeout=30)
    assert "Asked from JupyterLab" in page.text and "lms/ask/open" not in page.text and "SECRET" not in page.text


def test_ask_routes_are_documented():
    import re

    from openapi_spec_validator import validate

    from lms_extension.web.api import forum_ask as api
    from lms_extension.web.api import openapi

    doc = openapi.document("/services/lms/", [api])
    validate(doc)
    documented = {re.sub(r"\{[^}]+\}", "{}", "/api/v1" + p) for p in doc["paths"]}
    assert documented == {"/" + re.sub(r"\([^()]*\)", "{}", pattern) for pattern, _ in api.default_handlers}
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["security"] and "403" in op["responses"], path
