"""Direct messages in the service, on SQLite and PostgreSQL: who may write to whom, one conversation
per pair, unread counts, blocks, the student-to-student switch, notifications and size limits."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from lms_extension.errors import Forbidden, InvalidInput, NotFound
from lms_extension.models.audit import AuditEntry
from lms_extension.models.mail import MailOutbox
from lms_extension.models.notifications import Notification
from lms_extension.services import enrollments, messages, notifications

from .conftest import SLUG


def notices(session, user, kind="message"):
    return session.scalars(select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
                           .order_by(Notification.id)).all()


def test_a_student_writes_to_the_staff_and_the_staff_answer(session, world):
    ann, teacher, admin = world["m-ann"], world["m-teacher"], world["m-admin"]
    conv, first = messages.start(session, ann, SLUG, body="Is **lesson 1** graded?")
    assert conv.kind == "staff" and conv.student_id == ann.id and "<strong>lesson 1</strong>" in first.html
    # the instructor has it in the inbox, unread, and was told
    box = messages.inbox(session, teacher)
    assert [(c["id"], c["title"], c["unread"]) for c in box["conversations"]] == [(conv.id, "Ann", 1)]
    assert box["unread"] == 1 == messages.unread_total(session, teacher.id)
    [n] = notices(session, teacher)
    assert n.url == f"messages/{conv.id}" and "Ann sent you a message" in n.title and n.actor_id == ann.id
    # the student's own inbox names the staff, nothing unread
    mine = messages.inbox(session, ann)["conversations"][0]
    assert mine["title"].startswith("Course staff of") and mine["unread"] == 0 and mine["last_author"] == "You"
    # a second message in the same pair's conversation, never a new one
    again, _ = messages.start(session, ann, SLUG, to="m-teacher", body="And quizzes?")
    assert again.id == conv.id
    # a burst makes one notice: the teacher had not read the first yet
    assert len(notices(session, teacher)) == 1
    view = messages.view(session, teacher, conv.id)
    assert [m["unread"] for m in view["messages"]] == [True, True] and view["title"] == "Ann"
    assert messages.unread_total(session, teacher.id) == 0
    # an admin answers from the roster: same conversation, the admin joins it, the student is told
    reply = messages.post(session, admin, conv.id, "Yes, both are.")
    assert reply.by_staff is True
    [told] = notices(session, ann)
    assert told.url == f"messages/{conv.id}"
    assert messages.unread_total(session, ann.id) == 1 and messages.unread_total(session, teacher.id) == 1
    assert messages.mark_read(session, ann, conv.id) == 0 and messages.unread_total(session, ann.id) == 0
    staff_view = messages.start(session, teacher, SLUG, to="m-ann", body="See you.")[0]
    assert staff_view.id == conv.id


def test_email_goes_through_the_outbox_by_preference(session, world):
    ann, teacher = world["m-ann"], world["m-teacher"]
    conv, _ = messages.start(session, ann, SLUG, body="Hello")
    emails = session.scalars(select(MailOutbox).where(MailOutbox.user_id == teacher.id)).all()
    assert [e.kind for e in emails] == ["message"]
    notifications.set_preference(session, ann.id, "message", notifications.EMAIL, False)
    messages.post(session, teacher, conv.id, "Hi")
    assert session.scalars(select(MailOutbox).where(MailOutbox.user_id == ann.id)).all() == []
    assert len(notices(session, ann)) == 1


def test_who_may_message_whom(session, world):
    ann, bob, eve, teacher, other = (world[n] for n in ("m-ann", "m-bob", "m-eve", "m-teacher", "m-other-teacher"))
    # someone outside the course: refused with why
    with pytest.raises(Forbidden, match="once you are enrolled"):
        messages.start(session, eve, SLUG, body="hi")
    with pytest.raises(Forbidden, match="once you are enrolled"):
        messages.start(session, other, SLUG, to="m-ann", body="hi")
    # a student of another course is "no student" here, as is a name nobody has
    for name in ("m-eve", "nobody-at-all", "x" * 500, "a\x00b"):
        with pytest.raises(NotFound, match="has no student"):
            messages.start(session, teacher, SLUG, to=name, body="hi")
    with pytest.raises(InvalidInput, match="name the student"):
        messages.start(session, teacher, SLUG, body="to whom?")
    with pytest.raises(InvalidInput, match="yourself"):
        messages.start(session, ann, SLUG, to="m-ann", body="me")
    with pytest.raises(InvalidInput, match="to must be a username"):
        messages.start(session, ann, SLUG, to=["m-bob"], body="x")
    with pytest.raises(NotFound):
        messages.start(session, ann, "no-such-course", body="x")
    # student to student: off by default
    with pytest.raises(Forbidden, match="cannot message each other"):
        messages.start(session, ann, SLUG, to="m-bob", body="hi Bob")
    with pytest.raises(Forbidden, match="instructor or an admin"):
        messages.set_students_may_message(session, ann, SLUG, True)
    with pytest.raises(InvalidInput):
        messages.set_students_may_message(session, teacher, SLUG, "yes")
    messages.set_students_may_message(session, teacher, SLUG, True)
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "messages.settings")).one()
    conv, _ = messages.start(session, ann, SLUG, to="m-bob", body="hi Bob")
    assert conv.kind == "peer" and messages.inbox(session, bob)["conversations"][0]["title"] == "Ann"
    back, _ = messages.start(session, bob, SLUG, to="m-ann", body="hi Ann")
    assert back.id == conv.id
    # nobody else reads it: not the instructor, not a third student (it does not exist for them)
    for outsider in (teacher, world["m-cid"], eve):
        with pytest.raises(NotFound):
            messages.view(session, outsider, conv.id)
        with pytest.raises(NotFound):
            messages.post(session, outsider, conv.id, "let me in")
    # turned off again: the conversation stays, read-only
    messages.set_students_may_message(session, teacher, SLUG, False)
    with pytest.raises(Forbidden, match="turned student-to-student messages off"):
        messages.post(session, bob, conv.id, "still there?")
    assert messages.view(session, ann, conv.id)["may_post"] is False


def test_blocks(session, world):
    ann, bob, teacher = world["m-ann"], world["m-bob"], world["m-teacher"]
    messages.set_students_may_message(session, teacher, SLUG, True)
    conv, _ = messages.start(session, ann, SLUG, to="m-bob", body="hi")
    messages.block(session, bob, "m-ann")
    messages.block(session, bob, "m-ann")  # twice is once
    assert [b["username"] for b in messages.blocked(session, bob)] == ["m-ann"]
    with pytest.raises(Forbidden, match="they have blocked messages from you"):
        messages.post(session, ann, conv.id, "why?")
    with pytest.raises(Forbidden, match="you have blocked Ann"):
        messages.post(session, bob, conv.id, "go away")
    assert messages.view(session, bob, conv.id)["people"] == [{"username": "m-ann", "name": "Ann", "blocked": True}]
    messages.unblock(session, bob, "m-ann")
    messages.post(session, ann, conv.id, "sorry")
    with pytest.raises(InvalidInput, match="yourself"):
        messages.block(session, ann, "m-ann")
    with pytest.raises(NotFound):
        messages.block(session, ann, "nobody-at-all")

    # a student blocks the instructor: the instructor cannot write to them...
    staff_conv, _ = messages.start(session, ann, SLUG, body="question")
    messages.block(session, ann, "m-teacher")
    with pytest.raises(Forbidden, match="blocked messages from you"):
        messages.post(session, teacher, staff_conv.id, "answer")
    with pytest.raises(Forbidden, match="blocked messages from you"):
        messages.start(session, teacher, SLUG, to="m-ann", body="answer")
    # ...but the course's announcements still reach them, in the bell and by email
    from lms_extension.services import announcements
    course = announcements.course_to_teach(session, teacher, SLUG)
    item = announcements.post(session, teacher, course, "Deadline moved", "Friday, not Monday.")
    announcements.fan_out_batch(session, item.id)  # what lms worker does (in batches)
    [n] = notices(session, ann, "announcement")
    assert n.dedupe_key == f"announcement:{item.id}"
    assert session.scalars(select(MailOutbox).where(MailOutbox.user_id == ann.id,
                                                    MailOutbox.kind == "announcement")).one()
    # an instructor who blocks a student stops the student's messages to the staff
    messages.unblock(session, ann, "m-teacher")
    messages.block(session, teacher, "m-ann")
    with pytest.raises(Forbidden, match="Teacher: they have blocked"):
        messages.post(session, ann, staff_conv.id, "hello?")


def test_leaving_the_course_makes_the_conversation_read_only(session, world):
    ann, teacher = world["m-ann"], world["m-teacher"]
    conv, _ = messages.start(session, ann, SLUG, body="I want a refund")
    course = messages.catalog.get_course(session, SLUG, viewer=teacher)
    assert enrollments.revoke(session, ann.id, course.id, ["free"])  # a refund, say
    with pytest.raises(Forbidden, match="no longer enrolled"):
        messages.post(session, teacher, conv.id, "Done")
    with pytest.raises(Forbidden, match="once you are enrolled"):
        messages.start(session, ann, SLUG, body="thanks")
    assert messages.view(session, ann, conv.id)["messages"][0]["body"] == "I want a refund"


def test_bodies_are_checked_and_sanitised(session, world):
    ann = world["m-ann"]
    for bad, why in [("", "empty"), ("   \n", "empty"), (None, "empty"), (42, "must be text"),
                     ("x" * (messages.MAX_BODY_BYTES + 1), "at most 20 kB"), ("é" * 10_001, "at most 20 kB")]:
        with pytest.raises(InvalidInput, match=why):
            messages.start(session, ann, SLUG, body=bad)
    hostile = ('<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) '
               '<a href="https://evil.example" onclick="x()">y</a>\n\n```python\nprint("<b>")\n```')
    _, m = messages.start(session, ann, SLUG, body=hostile)
    tags, attrs = elements(m.html)
    assert tags <= {"p", "pre", "code", "span", "a"} and "script" not in tags and "img" not in tags
    assert not [a for a in attrs if a[0].startswith("on") or "javascript" in (a[1] or "")], attrs
    assert "&lt;script&gt;" in m.html and '<span class="nb">print</span>' in m.html


def elements(html: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The real elements and attributes of rendered HTML (text that looks like a tag is not one)."""
    from html.parser import HTMLParser

    found: tuple[set[str], list] = (set(), [])

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attributes):
            found[0].add(tag)
            found[1].extend(attributes)

    Collect().feed(html)
    return found


def test_forged_ids_and_pages(session, world):
    ann = world["m-ann"]
    for forged in (0, -1, 2**31, 10**12, "1", True, None):
        with pytest.raises(NotFound):
            messages.view(session, ann, forged)
    with pytest.raises(InvalidInput):
        messages.inbox(session, ann, limit=0)
    with pytest.raises(InvalidInput):
        messages.inbox(session, ann, offset=-1)
    conv, _ = messages.start(session, ann, SLUG, body="one")
    for i in range(4):
        messages.post(session, ann, conv.id, f"message {i}")
    page = messages.view(session, ann, conv.id, limit=2)
    assert [m["body"] for m in page["messages"]] == ["message 2", "message 3"] and page["older_before"]
    older = messages.view(session, ann, conv.id, limit=10, before=page["older_before"])
    assert [m["body"] for m in older["messages"]] == ["one", "message 0", "message 1"]
    assert older["older_before"] is None
    with pytest.raises(InvalidInput):
        messages.mark_read(session, ann, conv.id, "all")


def test_deleting_an_account_erases_its_inbox_and_blocks_and_keeps_what_others_were_told(session, world):
    from lms_extension.models.messages import ConversationMember, UserBlock
    from lms_extension.services import accounts

    ann, teacher = world["m-ann"], world["m-teacher"]
    conv, _ = messages.start(session, ann, SLUG, body="My question")
    messages.post(session, teacher, conv.id, "My answer")
    messages.block(session, ann, "m-bob")
    messages.block(session, teacher, "m-ann")
    assert accounts.delete_account(session, "m-ann").erased
    assert session.scalars(select(ConversationMember).where(ConversationMember.user_id == ann.id)).all() == []
    assert session.scalars(select(UserBlock).where((UserBlock.blocker_id == ann.id)
                                                   | (UserBlock.blocked_id == ann.id))).all() == []
    view = messages.view(session, teacher, conv.id)
    assert [(m["author"], m["body"]) for m in view["messages"]] == [("Deleted user", "My question"),
                                                                     ("Teacher", "My answer")]
    assert view["title"] == "Deleted user" and view["may_post"] is False  # no longer enrolled
    assert messages.inbox(session, teacher)["conversations"][0]["title"] == "Deleted user"
