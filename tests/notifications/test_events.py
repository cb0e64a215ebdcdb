"""The events wired to notifications: each owning service tells the person concerned, in its
own transaction."""
from __future__ import annotations

import json
import secrets
from unittest.mock import create_autospec

import pytest
from sqlalchemy import select

from lms_extension.models.commerce import Order, RefundRequest
from lms_extension.models.notifications import Notification
from lms_extension.services import (announcements, certificates, enrollments, grading_admin, grading_queue,
                                    instructor_applications)
from lms_extension.services.hub_client import HubClient
from lms_extension.services.payments import refunds
from lms_extension.services.payments.policy import CommercePolicy
from lms_extension.services.storage import LocalStorage
from tests.factories import MINIMAL_NOTEBOOK, make_course, make_user


def notices(session, user_id, kind):
    return session.scalars(select(Notification).where(Notification.user_id == user_id,
                                                      Notification.kind == kind)).all()


@pytest.fixture
def course(session, tmp_path):
    tag = secrets.token_hex(3)
    make_user(session, f"teacher-{tag}", instructor=True)
    return make_course(session, tmp_path, f"ev-{tag}", instructor=f"teacher-{tag}")


def test_an_announcement_reaches_every_enrolled_student_once(session, course):
    students = [make_user(session, f"{course.slug}-s{i}") for i in range(3)]
    outsider = make_user(session, f"{course.slug}-outsider")
    for s in students:
        enrollments.enroll(session, s, course.slug)
    students[0].email = "s0@example.org"
    author = course.instructor.user
    item = announcements.post(session, author, course, "Deadline moved", "Lesson 2 is due **Friday**.")
    assert all(notices(session, s.id, "announcement") == [] for s in students)  # lms worker tells them
    assert announcements.progress(session, item) == {"students": 3, "reached": 0, "in_app": 0, "email": 0,
                                                     "done": False}
    assert announcements.pending(session) == [item.id]
    for _ in range(2):  # a second pass (a restarted worker) tells nobody twice
        after = 0
        while after is not None:
            after = announcements.fan_out_batch(session, item.id, after, batch_size=2)
    assert announcements.record_delivered(session, item.id)["reached"] == 3
    assert announcements.pending(session) == []
    assert announcements.progress(session, item) == {"students": 3, "reached": 3, "in_app": 3, "email": 1,
                                                     "done": True}
    for s in students:
        [n] = notices(session, s.id, "announcement")
        assert "Deadline moved" in n.title and "Friday" in n.body and n.url == f"courses/{course.slug}/announcements#announcement-{item.id}"
        assert n.dedupe_key == f"announcement:{item.id}"
        assert n.body == "Lesson 2 is due Friday."  # plain text: no Markdown marks in the bell or the email
    assert notices(session, outsider.id, "announcement") == []
    from lms_extension.models.mail import MailOutbox
    [email] = session.scalars(select(MailOutbox).where(MailOutbox.kind == "announcement",
                                                       MailOutbox.to_addr == "s0@example.org")).all()
    assert "Deadline moved" in email.subject and "Friday" in email.text_body
    assert notices(session, author.id, "announcement") == []


def test_a_certificate_tells_its_holder_once(session, course):
    student = make_user(session, f"{course.slug}-cert")
    cert = certificates.issue(session, student, course)
    certificates.issue(session, student, course)  # asked again: the same certificate, no second notice
    [n] = notices(session, student.id, "certificate_issued")
    assert n.url == f"certificates/{cert.uid}" and course.title in n.title


def test_an_instructor_application_decision_tells_the_applicant(session, tmp_path):
    tag = secrets.token_hex(3)
    admin = make_user(session, f"admin-{tag}", admin=True)
    store = LocalStorage(tmp_path / "files")
    hub = create_autospec(HubClient, instance=True)
    for decision, expected in (("reject", "not approved"), ("approve", "approved")):
        applicant = make_user(session, f"applicant-{decision}-{tag}")
        app = instructor_applications.submit(session, store, applicant, display_name="Ada L", headline="Teacher",
                                             bio="I teach Python to adults.", payout_country="DE")
        instructor_applications.decide(session, hub, store, admin, app.id, decision,
                                       "Please add a sample lesson." if decision == "reject" else "")
        [n] = notices(session, applicant.id, "application_decision")
        assert expected in n.title and n.actor_id == admin.id
        if decision == "reject":
            assert "sample lesson" in n.body and n.url == "teach/apply"


def _paid_order(session, buyer, course):
    order = Order(user_id=buyer.id, kind="course", course_id=course.id, status="paid", currency="EUR", country="DE",
                  subtotal_cents=4900, total_cents=4900)
    session.add(order)
    session.flush()
    request = RefundRequest(order_id=order.id, user_id=buyer.id, reason="not for me", status="pending")
    session.add(request)
    session.flush()
    return request


def test_a_refund_decision_tells_the_buyer(session, course):
    buyer = make_user(session, f"{course.slug}-buyer")
    admin = make_user(session, f"{course.slug}-admin", admin=True)
    request = _paid_order(session, buyer, course)
    refunds.decide(session, None, CommercePolicy(), admin, request.id, approve=False)
    [n] = notices(session, buyer.id, "refund_decision")
    assert "declined" in n.title and course.title in n.title and n.url == "purchases"


def _graded(session, course, student):
    enrollments.enroll(session, student, course.slug)
    sub = grading_queue.enqueue(session, student, course.slug, "l1", {"l1.ipynb": json.dumps(MINIMAL_NOTEBOOK)})
    job = grading_queue.claim(session, "w-notify")
    assert job.id == sub.id
    assert grading_queue.complete(session, sub.id, "w-notify", score=3, max_score=4, feedback={"cells": []})
    return sub


def test_autograded_feedback_released_on_grading_tells_the_student(session, course):
    student = make_user(session, f"{course.slug}-auto")
    sub = _graded(session, course, student)
    [n] = notices(session, student.id, "grade_released")
    assert n.url == f"courses/{course.slug}/lessons/l1" and "3 of 4" in n.body and n.dedupe_key == f"grade:{sub.id}"


def test_held_feedback_tells_the_student_when_released_not_before(session, course):
    teacher = course.instructor.user
    grading_admin.set_release_policy(session, teacher, course.slug, "held")
    student = make_user(session, f"{course.slug}-held")
    _graded(session, course, student)
    assert notices(session, student.id, "grade_released") == []
    assert grading_admin.release_lesson(session, teacher, course.slug, "l1")["released"] == 1
    assert len(notices(session, student.id, "grade_released")) == 1
