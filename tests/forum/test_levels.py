"""Watching, tracking, muting (Discourse semantics), per thread and per course, on SQLite and
PostgreSQL: who is told of a post (through services/notifications.notify, kind "reply"), the
unread counts and "new" marks of the lists, and muted threads left out unless asked."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from lms_extension.errors import Forbidden, InvalidInput, NotFound
from lms_extension.models.notifications import Notification
from lms_extension.services import enrollments, forum

from .conftest import SLUG


def told(session, user) -> list[str]:
    session.flush()
    return [f"{n.kind}: {n.title}" for n in session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))]


def summary(session, user, thread_id, **kw):
    return next(t for t in forum.list_threads(session, user, SLUG, limit=100, **kw).threads if t["id"] == thread_id)


def test_askers_watch_repliers_track_and_watchers_hear_every_post(session, world):
    ann, bob, newbie, teacher = world["f-ann"], world["f-bob"], world["f-newbie"], world["f-teacher"]
    thread = forum.create_thread(session, ann, SLUG, title="Loops", body="?")
    assert forum.thread_view(session, ann, thread.id)["level"] == "watching"
    forum.add_post(session, bob, thread.id, body="first")
    assert forum.thread_view(session, bob, thread.id)["level"] == "tracking"
    forum.add_post(session, newbie, thread.id, body="second")
    # Ann watches: told of both; Bob tracks: not told of Newbie's reply (it is not to him)
    assert [t.split(":")[0] for t in told(session, ann)] == ["reply", "reply"]
    assert told(session, bob) == []
    # Bob chooses to watch: told of the next post; the teacher (normal) is not
    forum.set_thread_level(session, bob, thread.id, "watching")
    forum.add_post(session, newbie, thread.id, body="third")
    assert told(session, bob) == [f"reply: {newbie.display_name or 'f-newbie'} replied to \u201cLoops\u201d"]
    assert told(session, teacher) == []
    # replying again never lowers a choice: Bob still watches
    forum.add_post(session, bob, thread.id, body="again")
    assert forum.thread_view(session, bob, thread.id)["level"] == "watching"


def test_muted_hears_nothing_not_even_replies_or_mentions(session, world):
    ann, bob = world["f-ann"], world["f-bob"]
    thread = forum.create_thread(session, ann, SLUG, title="Quiet", body="?")
    forum.set_thread_level(session, ann, thread.id, "muted")
    answer = forum.add_post(session, bob, thread.id, body="@f-ann look")
    forum.add_post(session, bob, thread.id, body="a comment", parent=answer.id)
    assert told(session, ann) == []
    # and a muted thread is left out of the lists unless asked
    assert thread.id not in [t["id"] for t in forum.list_threads(session, ann, SLUG).threads]
    page = forum.list_threads(session, ann, SLUG)
    assert page.muted == 1 and page.total == 0
    shown = forum.list_threads(session, ann, SLUG, muted=True)
    assert [t["id"] for t in shown.threads] == [thread.id] and shown.threads[0]["level"] == "muted"
    assert shown.muted == 0 and shown.show_muted
    lesson_thread = forum.create_thread(session, bob, SLUG, title="On lesson one", body="x", lesson="l1")
    forum.set_thread_level(session, ann, lesson_thread.id, "muted")
    course = forum.member(session, ann, SLUG).course
    l1 = next(ls for ls in course.lessons if ls.key == "l1")
    assert forum.lesson_threads(session, ann, course, l1) == []
    assert [t["id"] for t in forum.lesson_threads(session, bob, course, l1)] == [lesson_thread.id]


def test_course_levels_are_the_default_of_each_thread(session, world):
    ann, bob, newbie, teacher = world["f-ann"], world["f-bob"], world["f-newbie"], world["f-teacher"]
    forum.set_course_level(session, teacher, SLUG, "watching")
    forum.set_course_level(session, newbie, SLUG, "muted")
    assert forum.course_level(session, teacher, SLUG) == "watching"
    thread = forum.create_thread(session, ann, SLUG, title="New question", body="x")
    assert told(session, teacher) == [f"reply: {ann.display_name or 'f-ann'} asked \u201cNew question\u201d"]
    forum.add_post(session, bob, thread.id, body="answer @f-newbie")
    assert len(told(session, teacher)) == 2 and told(session, newbie) == []  # muted course: not even mentions
    # the muted course leaves its threads out of the list, but one the member follows stays
    assert forum.list_threads(session, newbie, SLUG).total == 0
    forum.set_thread_level(session, newbie, thread.id, "tracking")
    assert [t["id"] for t in forum.list_threads(session, newbie, SLUG).threads] == [thread.id]
    # a thread's own level wins over the course's: the teacher mutes this one
    forum.set_thread_level(session, teacher, thread.id, "muted")
    forum.add_post(session, bob, thread.id, body="more")
    assert len(told(session, teacher)) == 2
    # back to normal removes the course row
    forum.set_course_level(session, teacher, SLUG, "normal")
    assert forum.course_level(session, teacher, SLUG) == "normal"


def test_watchers_who_cannot_read_are_not_told(session, world):
    ann, bob, newbie, teacher = world["f-ann"], world["f-bob"], world["f-newbie"], world["f-teacher"]
    forum.set_course_level(session, bob, SLUG, "watching")
    forum.set_course_level(session, newbie, SLUG, "watching")
    forum.create_thread(session, ann, SLUG, title="My private grade", body="x", private=True)
    assert told(session, bob) == [] and told(session, newbie) == []
    # someone who left the course hears nothing more of it
    open_thread = forum.create_thread(session, ann, SLUG, title="Open", body="x")
    assert len(told(session, newbie)) == 1
    course = forum.member(session, teacher, SLUG).course
    assert enrollments.revoke(session, newbie.id, course.id, ["free", "staff", "purchase", "subscription"])
    forum.add_post(session, teacher, open_thread.id, body="answer")
    assert len(told(session, newbie)) == 1


def test_unread_counts_for_tracked_threads_and_new_marks(session, world):
    ann, bob, teacher = world["f-ann"], world["f-bob"], world["f-teacher"]
    thread = forum.create_thread(session, ann, SLUG, title="Counting", body="x")
    s = summary(session, bob, thread.id)
    assert s["new"] and s["unread"] and s["unread_count"] is None  # never opened; Bob does not track it
    forum.thread_view(session, bob, thread.id)
    forum.add_post(session, bob, thread.id, body="mine")  # Bob now tracks
    assert summary(session, bob, thread.id)["unread_count"] == 0 and not summary(session, bob, thread.id)["unread"]
    for i in range(3):
        forum.add_post(session, teacher, thread.id, body=f"staff {i}")
    s = summary(session, bob, thread.id)
    assert s["unread_count"] == 3 and s["unread"] and not s["new"]
    assert summary(session, ann, thread.id)["unread_count"] == 4  # the asker watches: Bob's post too
    # a hidden post is not counted for students
    last = forum.add_post(session, teacher, thread.id, body="oops")
    forum.hide_post(session, teacher, last.id, "Posted by mistake")
    assert summary(session, bob, thread.id)["unread_count"] == 3
    forum.thread_view(session, bob, thread.id)
    assert summary(session, bob, thread.id)["unread_count"] == 0


def test_levels_are_for_members_and_checked(session, world):
    ann, eve = world["f-ann"], world["f-eve"]
    thread = forum.create_thread(session, ann, SLUG, title="T", body="x")
    private = forum.create_thread(session, ann, SLUG, title="P", body="x", private=True)
    with pytest.raises(Forbidden):
        forum.set_thread_level(session, eve, thread.id, "watching")
    with pytest.raises(Forbidden):
        forum.set_course_level(session, eve, SLUG, "watching")
    with pytest.raises(NotFound):  # a private thread is not there for a classmate
        forum.set_thread_level(session, world["f-bob"], private.id, "watching")
    for bad in ("loud", "", None, 3, "WATCHING"):
        with pytest.raises(InvalidInput, match="level"):
            forum.set_thread_level(session, ann, thread.id, bad)
