"""The digest: course-aware content, one per user and period, delivered for real over SMTP."""
from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select

from lms_extension import jobs
from lms_extension.db import session_factory
from lms_extension.errors import InvalidInput
from lms_extension.models.base import utcnow
from lms_extension.models.digests import DigestRun
from lms_extension.models.mail import MailOutbox
from lms_extension.services import digests, enrollments, extensions, forum, grading_queue, mail, notifications
from tests.factories import make_user
from tests.grading_admin.conftest import NB, grade
from tests.mail.conftest import SMTPServer

SECRET = "digest-test-secret"


LINKS = notifications.EmailLinks("https://lms.test/services/lms/", SECRET)


def window():
    """A ``now`` and hour whose daily period ends just after the present moment: what the test
    makes now falls inside it."""
    real = utcnow()
    return real + timedelta(hours=2), (real + timedelta(hours=1)).hour


def test_periods_end_at_the_hour_daily_and_on_mondays_weekly():
    tue = datetime(2026, 12, 8, 6, 59, tzinfo=timezone.utc)  # a Tuesday, before 07:00
    p = digests.period("daily", tue, 7)
    assert p.key == "daily:2026-12-07" and p.end == datetime(2026, 12, 7, 7, tzinfo=timezone.utc)
    assert p.start == p.end - timedelta(days=1)
    assert digests.period("daily", tue.replace(hour=7, minute=0), 7).key == "daily:2026-12-08"
    w = digests.period("weekly", tue, 7)
    assert w.key == "weekly:2026-W50" and w.end == datetime(2026, 12, 7, 7, tzinfo=timezone.utc)
    assert digests.period("weekly", datetime(2026, 12, 7, 6, tzinfo=timezone.utc), 7).key == "weekly:2026-W49"
    with pytest.raises(InvalidInput):
        digests.set_frequency(None, 1, "hourly")


def _class(session, due_course, tag):
    """A course due in 30 h: a student asked a question the teacher answered, got feedback;
    another student's question waits unanswered."""
    course, teacher, deadline = due_course(30)
    ann, bob = make_user(session, f"ann-{tag}"), make_user(session, f"bob-{tag}")
    ann.email, teacher.email = f"ann-{tag}@example.org", f"teach-{tag}@example.org"
    for u in (ann, bob):
        enrollments.enroll(session, u, course.slug)
    asked = forum.create_thread(session, ann, course.slug, title="Why -16?", body="square(-4) is -16")
    forum.add_post(session, teacher, asked.id, body="Operator precedence.")
    waiting = forum.create_thread(session, bob, course.slug, title="Is recursion allowed?", body="in part 3?")
    secret = forum.create_thread(session, bob, course.slug, title="Private trouble", body="x", private=True)
    forum.add_post(session, teacher, secret.id, body="Let us talk.")
    sub = grading_queue.enqueue(session, ann, course.slug, "l2", {"l2.ipynb": NB})
    session.flush()
    grade(session, sub.id, test_points=2.0)
    return course, teacher, deadline, ann, bob, waiting


def test_a_students_digest_knows_the_course_and_is_made_once_per_period(session, due_course, tag):
    course, teacher, deadline, ann, bob, waiting = _class(session, due_course, tag)
    extensions.grant(session, teacher, course.slug, ann.hub_name, "l1", deadline + timedelta(hours=12))
    digests.set_frequency(session, ann.id, "daily")
    now, hour = window()
    sections, total = digests.collect(session, ann, digests.period("daily", now, hour), now, target_hours=1)
    [section] = sections
    assert section["title"] == course.title
    assert [(a["title"], a["count"]) for a in section["answers"]] == [("Why -16?", 1)]
    assert [f["score"] for f in section["feedback"]] == ["2 of 5"]
    [due] = section["deadlines"]
    assert due["extended"] and due["when"] == (deadline + timedelta(hours=12)).strftime("%a %d %b %Y, %H:%M UTC")
    assert section["unanswered"] == []  # not staff
    assert "Private trouble" not in str(sections)

    assert digests.send(session, ann.id, now=now, hour=hour, target_hours=1, links=LINKS) == digests.SENT
    assert digests.send(session, ann.id, now=now + timedelta(hours=3), hour=hour, target_hours=1) == digests.DONE
    [row] = session.scalars(select(MailOutbox).where(MailOutbox.user_id == ann.id, MailOutbox.kind == "digest")).all()
    assert row.kind == "digest" and row.dedupe_key.startswith(f"digest:{ann.id}:daily:")
    assert "Why -16?" in row.text_body and "your extension" in row.text_body and "2 of 5" in row.html_body
    assert row.unsubscribe_url.startswith("https://lms.test/services/lms/notifications/digest/unsubscribe/")
    # the next day is a new period
    assert digests.send(session, ann.id, now=now + timedelta(days=1), hour=hour, target_hours=1) in (
        digests.SENT, digests.EMPTY)


def test_staff_see_questions_waiting_past_the_target_and_nothing_is_sent_when_nothing_happened(
        session, due_course, tag):
    course, teacher, deadline, ann, bob, waiting = _class(session, due_course, tag)
    digests.set_frequency(session, teacher.id, "weekly")
    now, hour = window()
    p = digests.period("weekly", now, hour)
    sections, _ = digests.collect(session, teacher, p, now, target_hours=1)
    assert [q["title"] for q in sections[0]["unanswered"]] == ["Is recursion allowed?"]
    assert digests.collect(session, teacher, p, now, target_hours=48)[1] == 0  # not waiting that long yet
    # someone with nothing to hear of gets no email, and is not asked again this period
    quiet = make_user(session, f"quiet-{tag}")
    quiet.email = f"quiet-{tag}@example.org"
    digests.set_frequency(session, quiet.id, "daily")
    assert digests.send(session, quiet.id, now=now, hour=hour) == digests.EMPTY
    assert digests.send(session, quiet.id, now=now, hour=hour) == digests.DONE
    assert session.scalars(select(MailOutbox).where(MailOutbox.user_id == quiet.id)).all() == []
    # no address, or digest off: nothing
    digests.set_frequency(session, bob.id, "daily")
    assert digests.send(session, bob.id, now=now, hour=hour) == digests.OFF
    assert bob.id not in digests.subscribers(session) and quiet.id in digests.subscribers(session)


def test_the_unsubscribe_link_turns_the_digest_off_and_a_forged_one_is_refused(session, tag):
    user = make_user(session, f"un-{tag}")
    digests.set_frequency(session, user.id, "weekly")
    token = digests.unsubscribe_token(SECRET, user.id)
    for forged in (token[:-2], token.replace(".", "x"), "", "a.b", f"{token}{token}", None, "é" * 300):
        with pytest.raises(InvalidInput):
            digests.unsubscribe(session, SECRET, forged)
    with pytest.raises(InvalidInput):
        digests.unsubscribe(session, "another-secret", token)
    # a notification kind's unsubscribe token is not a digest token
    with pytest.raises(InvalidInput):
        digests.unsubscribe(session, SECRET, notifications.unsubscribe_token(SECRET, user.id, "reply"))
    assert digests.unsubscribe(session, SECRET, token).id == user.id
    assert digests.frequency(session, user.id) == "off"


def test_the_worker_job_delivers_each_digest_once_to_a_real_smtp_server(engine, tmp_path, tag, monkeypatch):
    """lms worker's digests job (twice, as two workers' turns would) and the outbox delivery to
    aiosmtpd: one email per user and period, multipart, with List-Unsubscribe."""
    from tests.digests.conftest import make_due_course
    factory = session_factory(engine)
    now, hour = window()
    with factory() as db:
        course, teacher, deadline = make_due_course(db, tmp_path, f"smtp-{tag}", 30)
        ann = make_user(db, f"sm-ann-{tag}")
        ann.email = f"Ann Lee <sm-ann-{tag}@example.org>"
        enrollments.enroll(db, ann, course.slug)
        digests.set_frequency(db, ann.id, "daily")
        db.commit()
        ann_id = ann.id
    config = type("Config", (), {"digest_hour_utc": hour, "forum_answer_target_hours": 24.0,
                                 "public_url": "https://lms.test", "service_prefix": "/services/lms/",
                                 "cookie_secret": SECRET})()
    run = jobs.digests(config)
    monkeypatch.setattr(digests, "utcnow", lambda: now)  # the period that holds what was just made
    first, second = run(factory), run(factory)
    assert first.get("sent", 0) >= 1 and second.get("sent", 0) == 0
    server = SMTPServer().start()
    try:
        settings = mail.SMTPSettings(host="127.0.0.1", port=server.port, starttls=False,
                                     sender="Jupyter LMS <noreply@lms.test>", timeout=5)
        while mail.deliver_due(factory, settings, "digest-test").claimed:
            pass
        mine = [r for r in server.inbox.received if r["rcpt_tos"] == [f"sm-ann-{tag}@example.org"]]
    finally:
        server.stop()
    [got] = mine
    msg = got["message"]
    assert msg["Subject"].startswith("Your daily digest: 1 update")
    assert msg["List-Unsubscribe"].startswith("<https://lms.test/services/lms/notifications/digest/unsubscribe/")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert course.title in text and "Your upcoming deadlines" in text and deadline.strftime("%H:%M UTC") in html
    with factory() as db:
        assert len(db.scalars(select(DigestRun).where(DigestRun.user_id == ann_id)).all()) == 1
        db.execute(delete(MailOutbox))
        db.commit()


def test_watched_threads_and_courses_count_muted_and_hidden_ones_do_not(session, due_course, tag):
    course, teacher, deadline = due_course(200)  # its deadline is beyond the digest's week
    ann, bob, cid = (make_user(session, f"{n}-{tag}") for n in ("wa", "wb", "wc"))
    for u in (ann, bob, cid):
        enrollments.enroll(session, u, course.slug)
    watched = forum.create_thread(session, bob, course.slug, title="Watched one", body="b")
    muted = forum.create_thread(session, ann, course.slug, title="Muted one", body="b")
    forum.set_thread_level(session, ann, watched.id, "watching")
    forum.set_thread_level(session, ann, muted.id, "muted")
    forum.add_post(session, cid, watched.id, body="an answer")
    forum.add_post(session, cid, muted.id, body="an answer")
    now, hour = window()
    p = digests.period("daily", now, hour)
    sections, _ = digests.collect(session, ann, p, now, target_hours=999)
    assert [a["title"] for a in sections[0]["answers"]] == ["Watched one"]
    # a course watched as a whole: every thread of it
    assert digests.collect(session, bob, p, now, target_hours=999)[0][0]["answers"][0]["title"] == "Watched one"
    forum.set_course_level(session, cid, course.slug, "watching")
    other = forum.create_thread(session, bob, course.slug, title="Another", body="b")
    forum.add_post(session, teacher, other.id, body="staff answer")
    titles = [a["title"] for a in digests.collect(session, cid, p, now, target_hours=999)[0][0]["answers"]]
    assert "Another" in titles


def test_two_workers_at_once_make_one_digest(engine, tmp_path, tag):
    """Two workers' digest turns for the same user at the same moment: one email. (PostgreSQL:
    concurrent transactions; SQLite has one writer at a time, and jobs.claim gives the digests
    job to one worker per interval anyway.)"""
    import threading
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: no two transactions insert at once")

    from tests.digests.conftest import make_due_course
    factory = session_factory(engine)
    now, hour = window()
    with factory() as db:
        course, _, _ = make_due_course(db, tmp_path, f"race-{tag}", 30)
        user = make_user(db, f"race-{tag}")
        user.email = f"race-{tag}@example.org"
        enrollments.enroll(db, user, course.slug)
        digests.set_frequency(db, user.id, "weekly")
        db.commit()
        uid = user.id
    barrier, outcomes, failures = threading.Barrier(2), [], []

    def worker():
        try:
            with factory() as db:
                barrier.wait(10)
                outcomes.append(digests.send(db, uid, now=now, hour=hour, links=LINKS))
                db.commit()
        except Exception as exc:  # the losing insert must not be an error
            failures.append(exc)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures and sorted(outcomes) == [digests.DONE, digests.SENT]
    with factory() as db:
        assert len(db.scalars(select(MailOutbox).where(MailOutbox.user_id == uid, MailOutbox.kind == "digest")).all()) == 1
        db.execute(delete(MailOutbox).where(MailOutbox.user_id == uid))
        db.commit()
