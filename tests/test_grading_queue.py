"""The submission row is the queue: claims, leases, expiry, exactly-once results (both databases)."""
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from lms_extension.db import session_factory
from lms_extension.errors import Forbidden, InvalidInput
from lms_extension.models import NotebookSubmission
from lms_extension.models.base import utcnow
from lms_extension.services import enrollments, grading_queue as queue
from tests.factories import MINIMAL_NOTEBOOK, make_course, make_user

NB = json.dumps(MINIMAL_NOTEBOOK)


def submit(session, user, n=1):
    return [queue.enqueue(session, user, "qcourse", "l1", {"l1.ipynb": NB}) for _ in range(n)]


@pytest.fixture
def learner(session, tmp_path):
    make_course(session, tmp_path, "qcourse")
    user = make_user(session, "queue-learner")
    enrollments.enroll(session, user, "qcourse")
    return user


def test_enqueue_validates(session, learner):
    for bad in ({}, {"other.ipynb": NB}, {"l1.ipynb": "{not json"}, {"l1.ipynb": "[]"},
                {"l1.ipynb": "x" * (queue.MAX_NOTEBOOK_BYTES + 1)}, "not a dict"):
        with pytest.raises(InvalidInput):
            queue.enqueue(session, learner, "qcourse", "l1", bad)
    stranger = make_user(session, "stranger2")
    with pytest.raises(Forbidden):
        queue.enqueue(session, stranger, "qcourse", "l2", {"l2.ipynb": NB})
    sub = queue.enqueue(session, learner, "qcourse", "l1", {"l1.ipynb": MINIMAL_NOTEBOOK})
    assert sub.status == "queued" and json.loads(sub.notebooks)["l1.ipynb"]


def test_claim_complete_and_lost_lease(session, learner):
    first, second = submit(session, learner, 2)
    job = queue.claim(session, "w1", lease_seconds=60)
    assert job.id == first.id and job.status == "grading" and job.lease_owner == "w1"
    assert queue.claim(session, "w2").id == second.id  # the next one, not the same
    assert queue.claim(session, "w3") is None
    assert queue.renew(session, first.id, "w1")
    assert not queue.complete(session, first.id, "w2", score=1, max_score=2, feedback={})  # not w2's lease
    assert queue.complete(session, first.id, "w1", score=1, max_score=2, feedback={"cells": []})
    assert not queue.complete(session, first.id, "w1", score=2, max_score=2, feedback={})  # only once
    session.expire_all()
    assert session.get(NotebookSubmission, first.id).score == 1


def test_expired_lease_is_taken_over(session, learner):
    (sub,) = submit(session, learner)
    assert queue.claim(session, "dead-worker").id == sub.id
    session.execute(update(NotebookSubmission).where(NotebookSubmission.id == sub.id)
                    .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    taken = queue.claim(session, "alive-worker")
    assert taken.id == sub.id and taken.claims == 2
    assert not queue.complete(session, sub.id, "dead-worker", score=9, max_score=9, feedback={})
    assert not queue.renew(session, sub.id, "dead-worker")
    assert queue.complete(session, sub.id, "alive-worker", score=1, max_score=9, feedback={})


def test_poison_job_fails_after_max_claims(session, learner):
    (sub,) = submit(session, learner)
    for i in range(queue.MAX_CLAIMS):
        assert queue.claim(session, f"w{i}").id == sub.id
        session.execute(update(NotebookSubmission).where(NotebookSubmission.id == sub.id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert queue.claim(session, "last") is None
    session.expire_all()
    failed = session.get(NotebookSubmission, sub.id)
    assert failed.status == "failed" and "not retried" in failed.error


def test_concurrent_workers_never_share_a_job(engine, tmp_path):
    """Eight threads with their own connections claim 40 jobs: each exactly once."""
    factory = session_factory(engine)
    with factory() as s:
        make_course(s, tmp_path, "qcourse")
        user = make_user(s, "concurrent-learner")
        enrollments.enroll(s, user, "qcourse")
        ids = {sub.id for sub in submit(s, user, 40)}
        s.commit()
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def worker(name):
        with factory() as s:
            while True:
                job = queue.claim(s, name)
                if job is None:
                    return
                with lock:
                    claimed.append((name, job.id))
                assert queue.complete(s, job.id, name, score=1, max_score=1, feedback={})

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        got = [job_id for _, job_id in claimed]
        assert sorted(got) == sorted(ids), "every job claimed exactly once"
        with factory() as s:
            statuses = s.scalars(select(NotebookSubmission.status).where(NotebookSubmission.id.in_(ids))).all()
            assert set(statuses) == {"graded"}
    finally:
        with factory() as s:
            s.execute(delete(NotebookSubmission).where(NotebookSubmission.id.in_(ids)))
            s.commit()
