"""``/api/v1/me/conversations`` served by the real Tornado app on SQLite and PostgreSQL (the hub's
answer to "who is this token?" is the one thing faked, tests/identity.py): the flow, and the
hostile cases each answered with a 4xx and a sentence."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from lms_extension.web.api import messages as messages_api
from lms_extension.web.api import openapi
from tests.identity import token_client as as_user

from .conftest import RATE, SLUG

API = "api/v1/me/conversations"


def send(base, who, **body):
    return as_user(who).post(base + API, json=body, timeout=30)


def test_conversation_flow(served):
    base, _ = served
    r = send(base, "m-ann", course=SLUG, body="Is `square` graded on **negative** numbers?")
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    teacher, ann = as_user("m-teacher"), as_user("m-ann")
    box = teacher.get(base + API, timeout=30).json()
    assert box["unread"] == 1 and box["conversations"][0] == {**box["conversations"][0], "id": cid, "unread": 1,
                                                              "title": "Ann", "kind": "staff", "course": SLUG}
    view = teacher.get(base + f"{API}/{cid}", timeout=30).json()
    assert "<strong>negative</strong>" in view["messages"][0]["html"] and view["messages"][0]["unread"] is True
    assert view["may_post"] is True and view["student"] == "m-ann"
    # reading does not mark it read; the read call does
    assert teacher.get(base + API).json()["unread"] == 1
    assert teacher.post(base + f"{API}/{cid}/read", json={}).json() == {"unread": 0, "unread_total": 0}
    r = teacher.post(base + f"{API}/{cid}/messages", json={"body": "Yes: see lesson 1."}, timeout=30)
    assert r.status_code == 201 and r.json()["conversation"] == cid
    assert ann.get(base + API).json()["unread"] == 1
    bell = ann.get(base + "api/v1/me/notifications").json()["notifications"]
    assert [n["kind"] for n in bell] == ["message"] and bell[0]["url"] == f"messages/{cid}"
    # the staff write to a student by name: the same conversation
    r = send(base, "m-admin", course=SLUG, to="m-ann", body="(admin) noted")
    assert r.status_code == 201 and r.json()["id"] == cid
    # the course's switch: staff only
    assert ann.put(base + f"api/v1/courses/{SLUG}/messaging", json={"students_may_message": True}).status_code == 403
    assert teacher.get(base + f"api/v1/courses/{SLUG}/messaging").json()["students_may_message"] is False
    r = teacher.put(base + f"api/v1/courses/{SLUG}/messaging", json={"students_may_message": "yes"})
    assert r.status_code == 400 and "true or false" in r.json()["message"]
    assert teacher.put(base + f"api/v1/courses/{SLUG}/messaging",
                       json={"students_may_message": True}).json()["students_may_message"] is True
    assert send(base, "m-bob", course=SLUG, to="m-ann", body="hi").status_code == 201
    # blocks
    assert ann.post(base + "api/v1/me/blocks", json={"username": "m-bob"}).status_code == 201
    assert ann.get(base + "api/v1/me/blocks").json()["blocked"][0]["username"] == "m-bob"
    r = send(base, "m-bob", course=SLUG, to="m-ann", body="hello?")
    assert r.status_code == 403 and "blocked messages from you" in r.json()["message"]
    assert ann.delete(base + "api/v1/me/blocks/m-bob").json() == {"unblocked": "m-bob"}
    assert send(base, "m-bob", course=SLUG, to="m-ann", body="hello?").status_code == 201


def test_hostile_requests_are_refused_with_a_reason(served):
    base, _ = served
    cid = send(base, "m-ann", course=SLUG, body="mine").json()["id"]
    cases = [
        # someone outside the course, a name outside it, a student to a student while off
        (send(base, "m-eve", course=SLUG, body="hi"), 403, "once you are enrolled"),
        (send(base, "m-teacher", course=SLUG, to="m-eve", body="hi"), 404, "has no student 'm-eve'"),
        (send(base, "m-other-teacher", course=SLUG, to="m-ann", body="hi"), 403, "once you are enrolled"),
        (send(base, "m-ann", course=SLUG, to="m-bob", body="hi"), 403, "cannot message each other"),
        (send(base, "m-ann", course="no-such-course", body="hi"), 404, "no course"),
        (send(base, "m-ann", course=SLUG, body="x" * 20_001), 400, "at most 20 kB"),
        (send(base, "m-ann", course=SLUG, body=""), 400, "empty"),
        (send(base, "m-ann", course=SLUG, body="x", cc="m-bob"), 400, "unknown field(s): cc"),
        (send(base, "m-ann", body="x"), 400, "course must be"),
        (send(base, "m-ann", course=SLUG, to={"name": "m-bob"}, body="x"), 400, "to must be a username"),
        (as_user("m-ann").post(base + API, data="not json", timeout=30), 400, "malformed JSON"),
        # someone else's conversation, forged ids: not there
        (as_user("m-bob").get(base + f"{API}/{cid}"), 404, f"no conversation {cid}"),
        (as_user("m-bob").post(base + f"{API}/{cid}/messages", json={"body": "in"}), 404, "no conversation"),
        (as_user("m-eve").post(base + f"{API}/{cid}/read", json={}), 404, "no conversation"),
        (as_user("m-other-teacher").get(base + f"{API}/{cid}"), 404, "no conversation"),
        (as_user("m-ann").get(base + f"{API}/99999999999"), 404, "no conversation"),
        (as_user("m-ann").get(base + f"{API}/-3"), 404, "no conversation"),
        (as_user("m-ann").get(base + f"{API}/abc"), 404, "no conversation 'abc'"),
        (as_user("m-ann").get(base + f"{API}/{cid}?before=zz"), 404, "no message"),
        (as_user("m-ann").get(base + f"{API}?limit=0"), 400, "limit must be"),
        (as_user("m-ann").get(base + f"{API}?limit=x"), 400, "whole number"),
        (as_user("m-ann").post(base + f"{API}/{cid}/read", json={"up_to": "all"}), 400, "up_to must be"),
        (as_user("m-ann").post(base + "api/v1/me/blocks", json={"username": "m-ann"}), 400, "yourself"),
        (as_user("m-ann").post(base + "api/v1/me/blocks", json={"username": "ghost"}), 404, "no user 'ghost'"),
        (as_user("m-ann").post(base + "api/v1/me/blocks", json={}), 400, "name the user"),
        (as_user("nobody").get(base + API), 401, "log in"),
    ]
    for r, status, words in cases:
        assert r.status_code == status and words in r.json()["message"], (status, words, r.status_code, r.text)


def test_xss_markdown_is_stored_sanitised(served):
    base, _ = served
    hostile = '<img src=x onerror=alert(1)>[x](javascript:alert(2)) <iframe src="//evil"></iframe>'
    cid = send(base, "m-ann", course=SLUG, body=hostile).json()["id"]
    html = as_user("m-teacher").get(base + f"{API}/{cid}").json()["messages"][0]["html"]
    assert "<img" not in html and "<iframe" not in html and 'href="javascript' not in html
    assert "&lt;img" in html


def test_sending_is_rate_limited(served):
    base, _ = served
    codes = [send(base, "m-ann", course=SLUG, body=f"message {i}").status_code for i in range(RATE + 1)]
    assert codes[:RATE] == [201] * RATE and codes[RATE] == 429
    r = send(base, "m-ann", course=SLUG, body="again")
    assert r.status_code == 429 and "too many messages" in r.json()["message"] and int(r.headers["Retry-After"]) > 0
    # others are not held back
    assert send(base, "m-bob", course=SLUG, body="me too").status_code == 201


def test_messages_routes_are_documented():
    doc = openapi.document("/services/lms/", [messages_api])
    validate(doc)
    documented = {re.sub(r"\{[^}]+\}", "{}", "/api/v1" + p) for p in doc["paths"]}
    routed = {"/" + re.sub(r"\([^()]*\)", "{}", pattern) for pattern, _ in messages_api.default_handlers}
    assert documented == routed
    for method, path in [("get", "/me/conversations"), ("post", "/me/conversations"),
                         ("post", "/me/conversations/{id}/messages"), ("post", "/me/conversations/{id}/read")]:
        op = doc["paths"][path][method]
        assert op["security"] and "401" in op["responses"], (method, path)
    assert "429" in doc["paths"]["/me/conversations"]["post"]["responses"]
