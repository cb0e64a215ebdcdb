"""Full-text search gives the same answers on SQLite and PostgreSQL. The same threads, replies,
comments, hidden posts and private threads are written to a fresh database of each kind (the
``kind`` fixture parameter), the same queries run as a classmate and as the staff, and the
answers are compared with one expected table and with each other."""
from __future__ import annotations

import pytest

from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.services import forum, users
from tests.conftest import _database

from .conftest import SLUG, populate

THREADS = [  # (title, opening body, replies)
    ("Square of negative numbers", "square(-4) returns -16", ["Use x * x instead", "Operator precedence"]),
    ("Hidden test fails", "AssertionError in the hidden test", ["Read the traceback"]),
    ("Crème brûlée in Unicode", "ÉCOLE, straße and ﬁle (a ligature)", []),
    ("Deadline", "When is lesson two due?", ["Friday 23:59 UTC"]),
    ("Private: my grade", "I think my grade is wrong", []),  # private to the staff
    ("Spam thread zzbuy", "zzbuy cheap essays", []),  # its question is hidden by the staff
]
COMMENT = (0, 0, "precedence matters: (-4) ** 2")  # thread 0, reply 0
HIDDEN_REPLY = (3, 0)  # "Friday 23:59 UTC" is hidden
QUERIES = {  # query: (a classmate's answers, the staff's answers), as positions in THREADS
    "square": ([0], [0]),
    "precedence": ([0], [0]),  # a reply and a comment
    "instead": ([0], [0]),
    "traceback": ([1], [1]),
    "brûlée": ([2], [2]),
    "BRÛL": ([2], [2]),
    "brulee": ([], []),
    "strasse": ([2], [2]),  # casefolding: ß == ss
    "file": ([2], [2]),  # NFKC: the ligature ﬁ is f + i
    "friday": ([], []),  # only in a hidden reply: gone for everyone
    "23": ([], []),
    "lesson two": ([3], [3]),
    "grade": ([], [4]),  # a private thread: the staff only
    "zzbuy": ([], []),  # a hidden question: its words leave the index
    "": ([0, 1, 2, 3], [0, 1, 2, 3, 4, 5]),
    "%": ([0, 1, 2, 3], [0, 1, 2, 3, 4, 5]),
    "_": ([], []),
    "the": ([1], [1]),  # a prefix: "the hidden test", "Read the traceback"; not "think" or "their"
    "x": ([0], [0]),
    "'; drop table forum_terms; --": ([], []),
}
ANSWERS: dict[str, dict] = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request):
    return request.param


def test_search_answers(kind, tmp_path_factory, tmp_path):
    database = _database(kind, tmp_path_factory)
    url = next(database)
    engine = make_engine(url)
    try:
        upgrade(engine)
        with session_factory(engine)() as s:
            populate(s, tmp_path)
            ann, bob, teacher = (users.by_name(s, n) for n in ("f-ann", "f-bob", "f-teacher"))
            ids, replies = [], []
            for i, (title, body, answers) in enumerate(THREADS):
                thread = forum.create_thread(s, ann, SLUG, title=title, body=body, private=i == 4)
                ids.append(thread.id)
                replies.append([forum.add_post(s, bob, thread.id, body=a).id for a in answers])
            forum.add_post(s, teacher, ids[COMMENT[0]], body=COMMENT[2], parent=replies[COMMENT[0]][COMMENT[1]])
            forum.hide_post(s, teacher, replies[HIDDEN_REPLY[0]][HIDDEN_REPLY[1]], "Wrong date")
            forum.hide_post(s, teacher, forum.thread_view(s, teacher, ids[5])["question"]["id"], "Spam")
            s.commit()
            position = {tid: i for i, tid in enumerate(ids)}
            answers = {}
            for q in QUERIES:
                answers[q] = tuple(sorted(position[t["id"]] for t in forum.list_threads(
                    s, who, SLUG, q=q, limit=100, muted=True).threads) for who in (users.by_name(s, "f-newbie"),
                                                                                   teacher))
    finally:
        engine.dispose()
        next(database, None)
    ANSWERS[kind] = answers
    assert answers == {q: (sorted(a), sorted(b)) for q, (a, b) in QUERIES.items()}


def test_both_databases_gave_the_same_answers():
    if set(ANSWERS) != {"sqlite", "postgresql"}:
        pytest.skip("needs both runs of test_search_answers (run the whole file)")
    assert ANSWERS["sqlite"] == ANSWERS["postgresql"]
