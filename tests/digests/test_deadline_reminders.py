"""'Deadline in 24 h': each enrolled student whose own deadline (an extension included) is less
than a day away, with the work not handed in, is told once per deadline."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from lms_extension.models.mail import MailOutbox
from lms_extension.models.notifications import Notification
from lms_extension.models.base import utcnow
from lms_extension.services import deadline_reminders, enrollments, extensions, grading_queue
from tests.factories import MINIMAL_NOTEBOOK, make_user


def reminders(session, user_id):
    return session.scalars(select(Notification).where(Notification.user_id == user_id,
                                                      Notification.kind == "deadline_24h")).all()


def test_students_are_told_once_and_handed_in_work_is_not_nagged(session, due_course, tag):
    course, teacher, deadline = due_course(20)
    waiting = make_user(session, f"wait-{tag}")
    waiting.email = f"wait-{tag}@example.org"
    done = make_user(session, f"done-{tag}")
    outsider = make_user(session, f"out-{tag}")
    for u in (waiting, done):
        enrollments.enroll(session, u, course.slug)
    grading_queue.enqueue(session, done, course.slug, "l1", {"l1.ipynb": json.dumps(MINIMAL_NOTEBOOK)})

    assert deadline_reminders.send_reminders(session) == 1
    [n] = reminders(session, waiting.id)
    assert n.url == f"courses/{course.slug}/lessons/l1" and deadline.strftime("%H:%M UTC") in n.body
    assert reminders(session, done.id) == [] and reminders(session, outsider.id) == []
    assert reminders(session, teacher.id) == []
    # the job runs every few minutes: nobody is told twice, by the bell or by email
    assert deadline_reminders.send_reminders(session) == 0
    assert deadline_reminders.send_reminders(session, utcnow() + timedelta(hours=10)) == 0
    assert len(reminders(session, waiting.id)) == 1
    assert session.scalar(select(MailOutbox.id).where(MailOutbox.user_id == waiting.id,
                                                      MailOutbox.kind == "deadline_24h")) is not None
    assert len(session.scalars(select(MailOutbox).where(MailOutbox.user_id == waiting.id)).all()) == 1


def test_an_extension_moves_the_reminder_to_the_students_own_deadline(session, due_course, tag):
    course, teacher, deadline = due_course(20)
    extended = make_user(session, f"ext-{tag}")
    enrollments.enroll(session, extended, course.slug)
    own = deadline + timedelta(days=3)
    extensions.grant(session, teacher, course.slug, extended.hub_name, "l1", own, "ill")

    assert deadline_reminders.send_reminders(session) == 0  # the lesson's deadline is not theirs
    assert reminders(session, extended.id) == []
    # a day before their own deadline they are told, and that it is their extended one
    assert deadline_reminders.send_reminders(session, own - timedelta(hours=23)) == 1
    [n] = reminders(session, extended.id)
    assert "extended deadline" in n.body and own.strftime("%d %b %Y, %H:%M") in n.body
    assert deadline_reminders.send_reminders(session, own - timedelta(hours=2)) == 0


def test_an_extension_past_a_passed_lesson_deadline_is_reminded(session, due_course, tag):
    course, teacher, deadline = due_course(-5)  # the class's deadline has passed
    late = make_user(session, f"late-{tag}")
    other = make_user(session, f"other-{tag}")
    for u in (late, other):
        enrollments.enroll(session, u, course.slug)
    extensions.grant(session, teacher, course.slug, late.hub_name, "l1", utcnow() + timedelta(hours=6))
    assert deadline_reminders.send_reminders(session) == 1
    assert len(reminders(session, late.id)) == 1 and reminders(session, other.id) == []


def test_a_deadline_more_than_a_day_away_or_past_is_not_reminded(session, due_course, tag):
    for hours in (30, -1):
        course, _, _ = due_course(hours)
        student = make_user(session, f"s{hours}-{tag}".replace("-", "m", 1))
        enrollments.enroll(session, student, course.slug)
        deadline_reminders.send_reminders(session)
        assert reminders(session, student.id) == []


def test_the_digest_sees_the_same_own_deadlines(session, due_course, tag):
    course, teacher, deadline = due_course(40)
    student = make_user(session, f"dg-{tag}")
    enrollments.enroll(session, student, course.slug)
    extensions.grant(session, teacher, course.slug, student.hub_name, "l1", deadline + timedelta(hours=5))
    [d] = deadline_reminders.unfinished(session, utcnow(), utcnow() + timedelta(days=7), user_ids=[student.id])
    assert d.extended and d.deadline == deadline + timedelta(hours=5) and d.lesson.key == "l1"


def test_lms_worker_runs_the_reminder_and_digest_jobs_unless_turned_off():
    from lms_extension import jobs
    from lms_extension.config import LMSConfig
    names = {j.name: j.interval for j in jobs.configured_jobs(LMSConfig(environ={}))}
    assert names["deadline_reminders"] == 900 and names["digests"] == 900
    off = LMSConfig(environ={"LMS_DEADLINE_REMINDER_SECONDS": "0", "LMS_DIGEST_SECONDS": "0"})
    assert not {"deadline_reminders", "digests"} & {j.name for j in jobs.configured_jobs(off)}
