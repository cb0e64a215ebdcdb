"""Moderation in the service, on SQLite and PostgreSQL: duplicates, hidden posts, reports, the
moderation queue, suspensions, the audit log; and every hostile case a student can try."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lms_extension.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms_extension.models.audit import AuditEntry
from lms_extension.models.base import utcnow
from lms_extension.models.forum import ForumReport
from lms_extension.services import forum

from .conftest import SLUG


def actions(session, action):
    session.flush()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_duplicate_is_shown_on_both_threads_and_only_staff_mark_it(session, world):
    ann, bob, teacher = world["f-ann"], world["f-bob"], world["f-teacher"]
    original = forum.create_thread(session, ann, SLUG, title="Square of -4", body="Why -16?")
    again = forum.create_thread(session, bob, SLUG, title="square(-4) is -16??", body="Help")
    third = forum.create_thread(session, bob, SLUG, title="Negative squares", body="Same")
    for hostile in (bob, ann):
        with pytest.raises(Forbidden):
            forum.mark_duplicate(session, hostile, again.id, original.id)
    with pytest.raises(Forbidden):  # not even a member
        forum.mark_duplicate(session, world["f-eve"], again.id, original.id)
    forum.mark_duplicate(session, teacher, again.id, f"https://lms.example/services/lms/forum/threads/{original.id}")
    view = forum.thread_view(session, bob, again.id)
    assert view["duplicate_of"] == {"id": original.id, "title": "Square of -4"}
    assert forum.thread_view(session, ann, original.id)["duplicates"] == [{"id": again.id, "title": again.title}]
    listed = {t["id"]: t for t in forum.list_threads(session, ann, SLUG).threads}
    assert listed[again.id]["duplicate_of"] == original.id and listed[original.id]["duplicate_of"] is None
    # a duplicate of a duplicate points at the original; loops are refused
    forum.mark_duplicate(session, teacher, third.id, f"#{again.id} · square(-4) is -16??")
    assert third.duplicate_of_id == original.id
    with pytest.raises(InvalidInput, match="itself"):
        forum.mark_duplicate(session, teacher, original.id, third.id)
    with pytest.raises(InvalidInput, match="itself"):
        forum.mark_duplicate(session, teacher, original.id, original.id)
    for bad in ("words only", "#", "-3", "#0"):
        with pytest.raises(InvalidInput):
            forum.mark_duplicate(session, teacher, again.id, bad)
    # a thread of another course is not there
    other = forum.create_thread(session, world["f-eve"], "otherc", title="Elsewhere", body="x")
    with pytest.raises(InvalidInput, match="has no thread"):
        forum.mark_duplicate(session, teacher, again.id, other.id)
    forum.mark_duplicate(session, teacher, again.id, None)
    assert forum.thread_view(session, bob, again.id)["duplicate_of"] is None
    assert [e.after for e in actions(session, "forum.thread.duplicate")][-1] == '{"duplicate_of": null}'
    assert len(actions(session, "forum.thread.duplicate")) == 3


def test_a_private_original_is_not_linked_for_classmates(session, world):
    ann, bob, teacher = world["f-ann"], world["f-bob"], world["f-teacher"]
    private = forum.create_thread(session, ann, SLUG, title="My grade is wrong", body="x", private=True)
    public = forum.create_thread(session, bob, SLUG, title="Grades wrong?", body="y")
    forum.mark_duplicate(session, teacher, public.id, private.id)
    assert forum.thread_view(session, bob, public.id)["duplicate_of"] == {"id": None, "title": None}
    assert forum.thread_view(session, ann, public.id)["duplicate_of"]["id"] == private.id
    with pytest.raises(NotFound):
        forum.thread_view(session, bob, private.id)


def test_hidden_posts_show_as_stubs_to_classmates_and_greyed_to_staff(session, world):
    ann, bob, teacher, newbie = world["f-ann"], world["f-bob"], world["f-teacher"], world["f-newbie"]
    thread = forum.create_thread(session, ann, SLUG, title="Loops", body="How do loops work?")
    rude = forum.add_post(session, bob, thread.id, body="zzrudeword nonsense")
    comment = forum.add_post(session, newbie, thread.id, body="Please be kind", parent=rude.id)
    fine = forum.add_post(session, teacher, thread.id, body="Use for")
    with pytest.raises(Forbidden):
        forum.hide_post(session, ann, rude.id, "I do not like it")
    with pytest.raises(InvalidInput, match="empty"):
        forum.hide_post(session, teacher, rude.id, "  ")
    forum.hide_post(session, teacher, rude.id, "Rude to a classmate")
    assert thread.reply_count == 2
    # a classmate: a stub (the comment under it stays), nothing of the post
    view = forum.thread_view(session, ann, thread.id)
    stub = next(a for a in view["answers"] if a["id"] == rude.id)
    assert stub["stub"] and stub["html"] == "" and stub["author"] == ""
    assert [c["id"] for c in stub["comments"]] == [comment.id]
    assert "zzrudeword" not in str(view)
    # staff: the post greyed, with who hid it and why
    staff_view = forum.thread_view(session, teacher, thread.id)
    shown = next(a for a in staff_view["answers"] if a["id"] == rude.id)
    assert shown["hidden"] and not shown["stub"] and shown["hidden_reason"] == "Rude to a classmate"
    assert shown["hidden_by"] == (teacher.display_name or "f-teacher") and "zzrudeword" in shown["html"]
    # its author sees it with the reason
    own = next(a for a in forum.thread_view(session, bob, thread.id)["answers"] if a["id"] == rude.id)
    assert not own["stub"] and own["hidden_reason"] == "Rude to a classmate"
    # search forgets it; classmates cannot vote on, comment on or report it
    assert forum.list_threads(session, ann, SLUG, q="zzrudeword").total == 0
    with pytest.raises(NotFound):
        forum.vote(session, ann, rude.id, 1)
    with pytest.raises(NotFound):
        forum.report_post(session, ann, rude.id, "bad")
    with pytest.raises(InvalidInput):
        forum.add_post(session, ann, thread.id, body="reply", parent=rude.id)
    with pytest.raises(InvalidInput, match="hidden"):
        forum.accept(session, ann, thread.id, rude.id)
    forum.accept(session, ann, thread.id, fine.id)
    forum.hide_post(session, teacher, fine.id, "Wrong answer")
    assert thread.accepted_post_id is None  # a hidden answer is no longer accepted
    forum.unhide_post(session, teacher, rude.id)
    assert forum.list_threads(session, ann, SLUG, q="zzrudeword").total == 1 and thread.reply_count == 2
    assert [e.action for e in actions(session, "forum.post.hide")] == ["forum.post.hide"] * 2
    assert len(actions(session, "forum.post.unhide")) == 1


def test_hiding_the_question_hides_the_thread(session, world):
    ann, bob, teacher = world["f-ann"], world["f-bob"], world["f-teacher"]
    thread = forum.create_thread(session, bob, SLUG, title="Buy cheap essays zzspam", body="spam")
    opening = forum.thread_view(session, bob, thread.id)["question"]["id"]
    forum.hide_post(session, teacher, opening, "Spam")
    assert thread.hidden
    assert thread.id not in [t["id"] for t in forum.list_threads(session, ann, SLUG).threads]
    with pytest.raises(NotFound):
        forum.thread_view(session, ann, thread.id)
    with pytest.raises(NotFound):
        forum.add_post(session, ann, thread.id, body="hi")
    assert forum.thread_view(session, bob, thread.id)["hidden"]  # its author still sees it
    assert thread.id in [t["id"] for t in forum.list_threads(session, teacher, SLUG).threads]
    forum.unhide_post(session, teacher, opening)
    assert forum.list_threads(session, ann, SLUG, q="zzspam").total == 1  # the title is searchable again


def test_reports_queue_and_resolution(session, world):
    ann, bob, teacher, newbie = world["f-ann"], world["f-bob"], world["f-teacher"], world["f-newbie"]
    thread = forum.create_thread(session, ann, SLUG, title="Help", body="?")
    bad = forum.add_post(session, bob, thread.id, body="go away", anonymous=True)
    ok = forum.add_post(session, newbie, thread.id, body="try this")
    forum.report_post(session, ann, bad.id, "Rude")
    with pytest.raises(Conflict, match="already"):
        forum.report_post(session, ann, bad.id, "Rude again")
    with pytest.raises(InvalidInput, match="your own post"):
        forum.report_post(session, bob, bad.id, "me")
    with pytest.raises(InvalidInput, match="empty"):
        forum.report_post(session, newbie, bad.id, "")
    with pytest.raises(InvalidInput, match="at most"):
        forum.report_post(session, newbie, bad.id, "x" * 501)
    with pytest.raises(Forbidden):  # not a member of the course
        forum.report_post(session, world["f-eve"], bad.id, "spam")
    forum.report_post(session, newbie, bad.id, "Unkind")
    forum.report_post(session, bob, ok.id, "Wrong")
    with pytest.raises(Forbidden):
        forum.moderation_queue(session, ann, SLUG)
    with pytest.raises(Forbidden):
        forum.moderation_queue(session, teacher, None)  # every course's: admins only
    with pytest.raises(Forbidden):
        forum.dismiss_reports(session, ann, ok.id)
    queue = forum.moderation_queue(session, teacher, SLUG)
    assert [q["post"] for q in queue] == [bad.id, ok.id]
    assert [r["reason"] for r in queue[0]["reports"]] == ["Rude", "Unkind"]
    assert queue[0]["author"] == "Anonymous" and queue[0]["username"] is None  # the queue does not reveal
    assert forum.open_reports(session, thread.course_id) == 2
    assert [q["post"] for q in forum.moderation_queue(session, world["f-admin"], None)] == [bad.id, ok.id]
    forum.hide_post(session, teacher, bad.id, "Rude")
    assert forum.dismiss_reports(session, teacher, ok.id) == 1
    assert forum.moderation_queue(session, teacher, SLUG) == []
    resolutions = {r.reporter_id: r.resolution for r in session.scalars(select(ForumReport))}
    assert resolutions == {ann.id: "hidden", newbie.id: "hidden", bob.id: "dismissed"}
    with pytest.raises(NotFound):  # a hidden post cannot be reported by a classmate
        forum.report_post(session, world["f-ann"], bad.id, "again")
    assert len(actions(session, "forum.report.dismiss")) == 1


def test_suspension_blocks_writing_with_a_clear_message(session, world):
    ann, bob, teacher = world["f-ann"], world["f-bob"], world["f-teacher"]
    thread = forum.create_thread(session, ann, SLUG, title="Q", body="?")
    answer = forum.add_post(session, ann, thread.id, body="self answer")
    now = utcnow()
    for hostile in (ann, bob):
        with pytest.raises(Forbidden):
            forum.suspend(session, hostile, SLUG, username="f-newbie", days=3, reason="x")
    with pytest.raises(InvalidInput, match="staff cannot"):
        forum.suspend(session, world["f-admin"], SLUG, username="f-teacher", days=3, reason="x")
    with pytest.raises(InvalidInput, match="yourself"):
        forum.suspend(session, teacher, SLUG, username="f-teacher", days=3, reason="x")
    with pytest.raises(InvalidInput, match="no member"):
        forum.suspend(session, teacher, SLUG, username="f-eve", days=3, reason="x")  # not in this course
    for days in (0, 366, "3", None, True):
        with pytest.raises(InvalidInput, match="days"):
            forum.suspend(session, teacher, SLUG, username="f-bob", days=days, reason="x")
    with pytest.raises(InvalidInput, match="empty"):
        forum.suspend(session, teacher, SLUG, username="f-bob", days=3, reason=" ")
    suspension = forum.suspend(session, teacher, SLUG, username="@f-bob", days=3, reason="Spamming the Q&A.",
                               now=now)
    for attempt in (lambda: forum.create_thread(session, bob, SLUG, title="T", body="b"),
                    lambda: forum.add_post(session, bob, thread.id, body="b"),
                    lambda: forum.vote(session, bob, answer.id, 1),
                    lambda: forum.report_post(session, bob, answer.id, "r")):
        with pytest.raises(Forbidden) as refused:
            attempt()
        assert "You are suspended from the Q&A" in refused.value.message
        assert "Spamming the Q&A." in refused.value.message and "You can still read it" in refused.value.message
    view = forum.thread_view(session, bob, thread.id)  # reading stays open
    assert view["may_post"] is False and "Spamming" in view["suspended"]["message"]
    assert not any(a["can_vote"] for a in view["answers"])
    # in another course nothing changes
    forum.create_thread(session, world["f-eve"], "otherc", title="fine", body="x")
    assert [s["username"] for s in forum.suspensions(session, teacher, SLUG)] == ["f-bob"]
    with pytest.raises(Forbidden):
        forum.suspensions(session, ann, SLUG)
    with pytest.raises(Forbidden):
        forum.lift_suspension(session, ann, SLUG, suspension.id)
    with pytest.raises(NotFound):  # the suspension is not one of that course's
        forum.lift_suspension(session, world["f-admin"], "otherc", suspension.id)
    forum.lift_suspension(session, teacher, SLUG, suspension.id)
    forum.add_post(session, bob, thread.id, body="I am back")
    assert [e.action for e in actions(session, "forum.user.suspend")] == ["forum.user.suspend"]
    assert len(actions(session, "forum.user.unsuspend")) == 1


def test_a_suspension_ends_by_itself_and_a_new_one_replaces_the_old(session, world):
    bob, teacher = world["f-bob"], world["f-teacher"]
    start = utcnow() - timedelta(days=10)
    forum.suspend(session, teacher, SLUG, username="f-bob", days=2, reason="Old", now=start)
    forum.create_thread(session, bob, SLUG, title="T", body="b")  # ended 8 days ago
    forum.suspend(session, teacher, SLUG, username="f-bob", days=1, reason="First")
    forum.suspend(session, teacher, SLUG, username="f-bob", days=30, reason="Second")
    active = forum.suspensions(session, teacher, SLUG)
    assert [s["reason"] for s in active] == ["Second"]


def test_suspending_an_anonymous_author_by_post_is_audited_as_a_reveal(session, world):
    ann, bob, teacher = world["f-ann"], world["f-bob"], world["f-teacher"]
    thread = forum.create_thread(session, ann, SLUG, title="Q", body="?")
    anon = forum.add_post(session, bob, thread.id, body="rude", anonymous=True)
    forum.suspend(session, teacher, SLUG, post=anon.id, days=7, reason="Rude")
    assert forum.active_suspension(session, bob.id, thread.course_id) is not None
    reveal, = actions(session, "forum.post.reveal")
    assert reveal.actor_name == "f-teacher" and '"author": "f-bob"' in reveal.after
    other = forum.create_thread(session, world["f-eve"], "otherc", title="x", body="y")
    other_post = forum.thread_view(session, world["f-eve"], other.id)["question"]["id"]
    with pytest.raises(InvalidInput, match="has no post"):
        forum.suspend(session, teacher, SLUG, post=other_post, days=7, reason="Rude")


def test_reveal_is_audited_and_the_post_says_who_can_see_the_author(session, world):
    ann, bob, teacher = world["f-ann"], world["f-bob"], world["f-teacher"]
    thread = forum.create_thread(session, ann, SLUG, title="Q", body="?", anonymous=True)
    post = forum.thread_view(session, ann, thread.id)["question"]
    assert post["author"].endswith("(you)") and "Only you and the course staff" in post["audience"]
    classmate = forum.thread_view(session, bob, thread.id)["question"]
    assert classmate["author"] == "Anonymous" and "the course staff can see who wrote it" in classmate["audience"]
    assert "f-ann" not in str(classmate)
    staff = forum.thread_view(session, teacher, thread.id)["question"]
    assert staff["author"] == "Anonymous" and "audit log" in staff["audience"] and staff["can_reveal"]
    with pytest.raises(Forbidden):
        forum.reveal(session, bob, post["id"])
    assert actions(session, "forum.post.reveal") == []
    assert forum.reveal(session, teacher, post["id"]).hub_name == "f-ann"
    entry, = actions(session, "forum.post.reveal")
    assert entry.actor_name == "f-teacher" and entry.target_id == str(post["id"]) and '"author": "f-ann"' in entry.after
    named = forum.add_post(session, bob, thread.id, body="named")
    forum.reveal(session, teacher, named.id)  # not anonymous: nothing to reveal, nothing logged
    assert len(actions(session, "forum.post.reveal")) == 1


def test_new_accounts_may_report_only_so_often(session, world):
    from lms_extension.errors import TooManyRequests

    ann, newbie = world["f-ann"], world["f-newbie"]
    limits = forum.Limits(new_account_days=7, posts_per_hour=2)
    thread = forum.create_thread(session, ann, SLUG, title="Q", body="?")
    posts = [forum.add_post(session, ann, thread.id, body=f"p{i}") for i in range(4)]
    start = utcnow()
    forum.report_post(session, newbie, posts[0].id, "r", limits=limits, now=start)
    forum.report_post(session, newbie, posts[1].id, "r", limits=limits, now=start + timedelta(minutes=1))
    with pytest.raises(TooManyRequests, match="new accounts may report 2 times an hour"):
        forum.report_post(session, newbie, posts[2].id, "r", limits=limits, now=start + timedelta(minutes=2))
    forum.report_post(session, newbie, posts[2].id, "r", limits=limits, now=start + timedelta(minutes=61))
    # an account the LMS has known for a month is not limited
    for p in posts:
        forum.report_post(session, world["f-bob"], p.id, "r", limits=limits, now=start)
