"""The LMS side of the nbgrader Exchange on both databases: scoped to the student's
enrollments, student versions only, feedback without hidden tests (graded for real)."""
import asyncio
import json
import re
from html import unescape

import pytest

from lms_extension.db import session_factory
from lms_extension.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms_extension.models import NotebookSubmission
from lms_extension.services import enrollments, exchange, feedback
from lms_extension.worker import Worker
from tests.factories import MINIMAL_NOTEBOOK, make_course, make_user
from tests.grading_admin.conftest import NB


@pytest.fixture
def learner(session, tmp_path):
    make_course(session, tmp_path, "exa", price_cents=0)
    make_course(session, tmp_path, "exb", price_cents=0, lessons=1)
    make_course(session, tmp_path, "exc", price_cents=0, lessons=1, free_preview_first=False)
    user = make_user(session, "ex-student")
    enrollments.enroll(session, user, "exa")
    enrollments.enroll(session, user, "exb")
    return user


def test_list_spans_every_enrolled_course(session, learner):
    found = {(a["course_id"], a["assignment_id"]) for a in exchange.list_assignments(session, learner)}
    assert found == {("exa", "l1"), ("exa", "l2"), ("exb", "l1")}
    assert {a["course_id"] for a in exchange.list_assignments(session, learner, "exb")} == {"exb"}
    assert exchange.list_assignments(session, learner, "exc") == []  # not enrolled: nothing
    with pytest.raises(InvalidInput):
        exchange.list_assignments(session, learner, "../exa")


def test_fetch_gives_the_student_version_only(session, learner):
    got = exchange.fetch(session, learner, "exa", "l2")
    text = got["notebooks"]["l2.ipynb"]
    assert "square(3) == 9" in text and "SECRET-HIDDEN" not in text and "BEGIN SOLUTION" not in text
    with pytest.raises(Forbidden):
        exchange.fetch(session, learner, "exc", "l1")  # another course's assignment
    with pytest.raises(NotFound):
        exchange.fetch(session, learner, "exa", "nope")
    for bad in ("../../etc", "EXA", "a/b"):
        with pytest.raises(InvalidInput):
            exchange.fetch(session, learner, bad, "l1")


def test_submit_and_list_own_submissions(session, learner):
    sub = exchange.submit(session, learner, "exa", "l1", {"l1.ipynb": NB})
    with pytest.raises(InvalidInput):
        exchange.submit(session, learner, "exa", "l1", {"../l1.ipynb": NB})
    with pytest.raises(InvalidInput):
        exchange.submit(session, learner, "exa", "l1", {"l1.ipynb": "not json"})
    with pytest.raises(Forbidden):
        exchange.submit(session, learner, "exc", "l1", {"l1.ipynb": NB})
    mine = exchange.list_submissions(session, learner, "exa", "l1")
    assert [(s["id"], s["status"], s["has_feedback"]) for s in mine] == [(sub.id, "queued", False)]
    other = make_user(session, "ex-other")
    assert exchange.list_submissions(session, other) == []
    with pytest.raises(NotFound):
        exchange.feedback_files(session, other, sub.id)  # someone else's
    with pytest.raises(Conflict):
        exchange.feedback_files(session, learner, sub.id)  # not graded yet


def test_feedback_after_real_grading_has_outputs_but_no_hidden_tests(engine, tmp_path):
    factory = session_factory(engine)
    with factory() as s:
        make_course(s, tmp_path, "exfeed")
        user = make_user(s, "ex-feed")
        enrollments.enroll(s, user, "exfeed")
        solved = json.loads(json.dumps(MINIMAL_NOTEBOOK))
        # the student prints something, and tries to dump the hidden test through IPython's history
        solved["cells"][1]["source"] = ("print('MY-OWN-OUTPUT')\ndef square(x):\n    return x * x\n")
        solved["cells"].append({"cell_type": "code", "id": "peek", "execution_count": None, "outputs": [],
                                "metadata": {}, "source": "print(open(__file__).read() if '__file__' in dir() else '')\n"
                                                          "print('\\n'.join(globals().get('In', [])))"})
        sub = exchange.submit(s, user, "exfeed", "l1", {"l1.ipynb": json.dumps(solved)})
        s.commit()
        sub_id = sub.id
    try:
        assert asyncio.run(Worker(factory, name="ex-worker").step())
        with factory() as s:
            done = s.get(NotebookSubmission, sub_id)
            assert done.status == "graded", done.error
            assert done.score == done.max_score == 2.0
            assert "SECRET-HIDDEN" in done.autograded  # the instructors' copy
            files = exchange.feedback_files(s, s.get(type(user), user.id), sub_id)["files"]
            html = files["l1.html"]
            text = unescape(re.sub(r"<[^>]+>", "", html))  # as read, without syntax-highlighting spans
            assert "MY-OWN-OUTPUT" in text and "square(3) == 9" in text
            assert "SECRET-HIDDEN" not in text and "square(-4)" not in text
            assert feedback.digest(done) in html
            listed = exchange.list_submissions(s, s.get(type(user), user.id), "exfeed")
            assert listed[0]["has_feedback"] and listed[0]["feedback_digest"] == feedback.digest(done)
    finally:
        with factory() as s:
            s.delete(s.get(NotebookSubmission, sub_id))
            s.commit()


def test_lesson_access_after_a_refund_says_why(session, tmp_path):
    from lms_extension.services.payments import access, checkout, fulfillment
    from lms_extension.models.base import utcnow
    from tests.commerce.conftest import policy as policy_fixture

    policy = policy_fixture.__wrapped__()
    make_course(session, tmp_path, "paid-ex", price_cents=4900, lessons=2, instructor="teacher")
    buyer = make_user(session, "ex-buyer")
    quote = checkout.quote(session, policy.taxes, user=buyer, country="DE", course="paid-ex", plan_prices={})
    order = checkout.create_order(session, buyer, quote)
    order.status, order.paid_at = "paid", utcnow()
    session.flush()
    access.grant_order(session, order)
    asked = [{"course": "paid-ex", "lesson": "l1"}, {"course": "paid-ex", "lesson": "l2"},
             {"course": "paid-ex", "lesson": "gone"}]
    assert [a["access"] for a in exchange.lesson_access(session, buyer, asked)] == [True, True, None]
    assert "refund-locked" not in purchases_html(session, policy, buyer)
    assert fulfillment.take_back(session, None, policy, order, "refunded", "refund")
    page = purchases_html(session, policy, buyer)  # where the refund is shown, the student is told
    assert 'id="refund-locked"' in page and "its lessons are locked in your workspace" in page
    l1, l2, gone = exchange.lesson_access(session, buyer, asked)
    assert l1["access"] is True  # the free preview stays open
    assert l2["access"] is False and "purchase of 'Course paid-ex' was refunded on" in l2["message"]
    assert gone["access"] is None and gone["message"] is None
    for bad in ("x", [{"course": "../x", "lesson": "l1"}], [{"course": "paid-ex"}], ["paid-ex/l1"],
                [{"course": "paid-ex", "lesson": "l1"}] * (exchange.MAX_ACCESS_CHECKS + 1)):
        with pytest.raises(InvalidInput):
            exchange.lesson_access(session, buyer, bad)


def purchases_html(session, policy, user) -> str:
    from lms_extension.services.payments import purchases
    from tests.learning.test_my_learning import render

    return render("commerce/purchases.html", rows=purchases.purchase_rows(session, policy, user))
