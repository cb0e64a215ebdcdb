"""The Q&A API served by the real Tornado app on SQLite and PostgreSQL; the hub's answer to
"who is this token?" is the one thing faked (tests/identity.py)."""
from __future__ import annotations

import requests
from sqlalchemy import select

from lms_extension.db import session_factory
from lms_extension.models.audit import AuditEntry
from tests.identity import token_client as as_user

from .conftest import SLUG


def new_thread(base, who, **fields):
    body = {"title": "Why does square(-4) fail?", "body": "My `square` returns **-16**.", "kind": "question",
            **fields}
    r = as_user(who).post(base + f"api/v1/courses/{SLUG}/threads", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def reply(base, who, thread, body="Try `x * x`.", **fields):
    r = as_user(who).post(base + f"api/v1/threads/{thread}/posts", json={"body": body, **fields}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_thread_flow(served):
    base, _ = served
    tid = new_thread(base, "f-ann", lesson="l1", cell_id="sol")
    bob, teacher = as_user("f-bob"), as_user("f-teacher")
    listing = bob.get(base + f"api/v1/courses/{SLUG}/threads", timeout=30).json()
    assert [t["id"] for t in listing["threads"]] == [tid] and listing["total"] == 1
    assert listing["threads"][0]["unread"] is True and listing["threads"][0]["lesson"] == "l1"
    view = bob.get(base + f"api/v1/threads/{tid}").json()
    assert view["cell_id"] == "sol" and view["lesson_version"] == 1 and view["question"]["author"] == "f-ann"
    assert "<strong>-16</strong>" in view["question"]["html"] and "<code>square</code>" in view["question"]["html"]
    assert bob.get(base + f"api/v1/courses/{SLUG}/threads").json()["threads"][0]["unread"] is False

    bob_answer = reply(base, "f-bob", tid, "Maybe `abs`?")
    staff_answer = reply(base, "f-teacher", tid, "```python\ndef square(x):\n    return x * x\n```")
    comment = reply(base, "f-bob", tid, "Thanks!", parent=staff_answer)
    assert bob.get(base + f"api/v1/courses/{SLUG}/threads").json()["threads"][0]["unread"] is False  # his own
    assert as_user("f-ann").get(base + f"api/v1/courses/{SLUG}/threads").json()["threads"][0]["unread"] is True
    view = as_user("f-ann").get(base + f"api/v1/threads/{tid}").json()
    assert view["staff_answered"] is True and view["replies"] == 3
    by_id = {a["id"]: a for a in view["answers"]}
    assert set(by_id) == {bob_answer, staff_answer}
    assert [c["id"] for c in by_id[staff_answer]["comments"]] == [comment]
    assert by_id[staff_answer]["staff"] is True and '<span class="k">def</span>' in by_id[staff_answer]["html"]

    # votes: one per member, changeable, not on one's own post
    vote = lambda who, post, value: as_user(who).post(base + f"api/v1/posts/{post}/vote",  # noqa: E731
                                                      json={"value": value}, timeout=30)
    assert vote("f-ann", staff_answer, 1).json()["score"] == 1
    assert vote("f-ann", staff_answer, 1).json()["score"] == 1
    assert vote("f-bob", staff_answer, -1).json()["score"] == 0
    assert vote("f-ann", staff_answer, -1).json()["score"] == -2
    assert vote("f-ann", staff_answer, 0).json()["score"] == -1
    assert vote("f-bob", bob_answer, 1).status_code == 403
    for bad in (2, "1", True, None):
        r = vote("f-ann", staff_answer, bad)
        assert r.status_code == 400 and "value must be" in r.json()["message"], bad
    assert vote("f-ann", 999999, 1).status_code == 404

    # accept: the asker or staff, an answer only
    accept = lambda who, post: as_user(who).post(base + f"api/v1/threads/{tid}/accept",  # noqa: E731
                                                 json={"post": post}, timeout=30)
    assert accept("f-bob", bob_answer).status_code == 403
    r = accept("f-ann", comment)
    assert r.status_code == 400 and "only an answer" in r.json()["message"]
    assert accept("f-ann", staff_answer).json()["accepted_post"] == staff_answer
    view = bob.get(base + f"api/v1/threads/{tid}").json()
    assert view["accepted_post"] == staff_answer and view["answers"][0]["accepted"] is True
    assert accept("f-teacher", bob_answer).json()["accepted_post"] == bob_answer
    assert accept("f-admin", None).json()["accepted_post"] is None
    assert bob.get(base + f"api/v1/courses/{SLUG}/threads").json()["threads"][0]["accepted"] is False

    # endorse, pin, lock: staff only
    assert as_user("f-ann").post(base + f"api/v1/posts/{bob_answer}/endorse", json={}).status_code == 403
    assert teacher.post(base + f"api/v1/posts/{bob_answer}/endorse", json={"endorsed": True}).json()["endorsed"]
    assert bob.patch(base + f"api/v1/threads/{tid}", json={"locked": True}).status_code == 403
    r = teacher.patch(base + f"api/v1/threads/{tid}", json={"locked": True, "pinned": True})
    assert r.status_code == 200 and r.json()["locked"] and r.json()["pinned"]
    r = bob.post(base + f"api/v1/threads/{tid}/posts", json={"body": "one more"})
    assert r.status_code == 403 and "locked" in r.json()["message"]
    reply(base, "f-teacher", tid, "Locked: see the endorsed answer.")

    doc = requests.get(base + "api/v1/openapi.json", timeout=30).json()
    for path in ("/courses/{slug}/threads", "/threads/{id}", "/threads/{id}/posts", "/posts/{id}/vote",
                 "/threads/{id}/accept"):
        assert path in doc["paths"], path


def test_bad_input_is_a_sentence(served):
    base, _ = served
    ann = as_user("f-ann")
    url = base + f"api/v1/courses/{SLUG}/threads"
    ok = {"title": "A title", "body": "A body"}
    for fields, words in [({"title": "  "}, "title"), ({"body": ""}, "empty"),
                          ({"body": "x" * 100_001}, "at most 100 kB"), ({"lesson": "l9"}, "no lesson 'l9'"),
                          ({"lesson": "l1", "cell_id": "nope"}, "has no cell 'nope'"),
                          ({"cell_id": "sol"}, "needs a lesson"), ({"lesson": "l1", "version": 7}, "no version 7"),
                          ({"kind": "poll"}, "kind must be"), ({"anonymous": "yes"}, "anonymous must be"),
                          ({"title": "t" * 201}, "at most 200"), ({"colour": "red"}, "unknown field")]:
        r = ann.post(url, json={**ok, **fields}, timeout=30)
        assert r.status_code == 400, (fields, r.text)
        assert words in r.json()["message"], (fields, r.json())
    assert ann.post(url, data="[1,", timeout=30).status_code == 400
    assert ann.get(url + "?limit=0").status_code == 400
    assert ann.get(url + "?lesson=l9").status_code == 400
    assert ann.get(base + "api/v1/threads/abc").status_code == 404
    assert ann.get(base + "api/v1/courses/nope/threads").status_code == 404
    assert ann.get(url).json()["total"] == 0  # nothing was stored


def test_non_members_and_private_threads(served):
    base, _ = served
    tid = new_thread(base, "f-ann")
    secret = new_thread(base, "f-bob", title="My grade looks wrong", private=True)
    eve, nobody = as_user("f-eve"), as_user("nobody")
    url = base + f"api/v1/courses/{SLUG}/threads"
    for r in (eve.get(url), eve.post(url, json={"title": "t", "body": "b"}), eve.get(base + f"api/v1/threads/{tid}"),
              eve.post(base + f"api/v1/threads/{tid}/posts", json={"body": "hi"}),
              as_user("f-other-teacher").get(base + f"api/v1/threads/{tid}")):
        assert r.status_code == 403 and "enrolled students and staff" in r.json()["message"], r.text
    assert nobody.get(url).status_code == 401
    # a private thread: its author and the staff; classmates do not learn it exists
    assert [t["id"] for t in as_user("f-ann").get(url).json()["threads"]] == [tid]
    assert as_user("f-ann").get(base + f"api/v1/threads/{secret}").status_code == 404
    assert as_user("f-ann").post(base + f"api/v1/threads/{secret}/posts", json={"body": "x"}).status_code == 404
    assert as_user("f-ann").get(url + "?q=grade").json()["total"] == 0
    for who in ("f-bob", "f-teacher", "f-admin"):
        assert as_user(who).get(base + f"api/v1/threads/{secret}").status_code == 200, who
        assert secret in [t["id"] for t in as_user(who).get(url).json()["threads"]], who


def test_anonymous_posts(served):
    base, engine = served
    tid = new_thread(base, "f-bob", title="Stuck on lesson 2", body="I do not get it", anonymous=True)
    ann_view = as_user("f-ann").get(base + f"api/v1/threads/{tid}")
    assert ann_view.json()["question"]["author"] == "Anonymous" and "f-bob" not in ann_view.text
    assert "staff can see who wrote it" in ann_view.json()["question"]["audience"]
    assert "f-bob" not in as_user("f-ann").get(base + f"api/v1/courses/{SLUG}/threads").text
    assert as_user("f-bob").get(base + f"api/v1/threads/{tid}").json()["question"]["author"] == "f-bob (you)"
    staff_view = as_user("f-teacher").get(base + f"api/v1/threads/{tid}").json()["question"]
    assert staff_view["can_reveal"] is True and staff_view["author"] == "Anonymous"
    post = staff_view["id"]
    assert as_user("f-ann").post(base + f"api/v1/posts/{post}/reveal").status_code == 403
    with session_factory(engine)() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "forum.post.reveal")).all() == []
    r = as_user("f-teacher").post(base + f"api/v1/posts/{post}/reveal")
    assert r.status_code == 200 and r.json()["username"] == "f-bob"
    with session_factory(engine)() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "forum.post.reveal")).all()
        assert entry.actor_name == "f-teacher" and entry.target_id == str(post) and "f-bob" in entry.after


def test_new_accounts_are_rate_limited(served):
    base, _ = served
    tid = new_thread(base, "f-newbie")  # limit 3 an hour in this fixture
    reply(base, "f-newbie", tid)
    reply(base, "f-newbie", tid)
    r = as_user("f-newbie").post(base + f"api/v1/threads/{tid}/posts", json={"body": "again"}, timeout=30)
    assert r.status_code == 429 and "new accounts may post 3 times an hour" in r.json()["message"]
    assert 0 < int(r.headers["Retry-After"]) <= 3601
    for _ in range(4):  # an older account and the staff are not limited
        reply(base, "f-ann", tid)
        reply(base, "f-teacher", tid)
    view = as_user("f-ann").get(base + f"api/v1/threads/{tid}").json()
    assert view["replies"] == 10
