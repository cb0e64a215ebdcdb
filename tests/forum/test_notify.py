"""What the forum tells people (through services/notifications.py, in the same transaction):
a reply tells the asker and, for a comment, the commented post's author; @mentions tell the
members named; an accepted or endorsed answer tells its author. Never the poster themselves,
never someone who cannot read the thread, and an anonymous post never names its author."""
from __future__ import annotations

from sqlalchemy import select

from lms_extension.models.notifications import Notification
from lms_extension.services import forum

from .conftest import SLUG


def inbox(session, user) -> list[tuple[str, str]]:
    session.flush()
    return [(n.kind, n.title) for n in session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))]


def test_replies_mentions_accept_and_endorse_tell_the_right_people(session, world):
    ann, bob, teacher, newbie = world["f-ann"], world["f-bob"], world["f-teacher"], world["f-newbie"]
    thread = forum.create_thread(session, ann, SLUG, title="Why -16?", body="square(-4) gives -16, @f-newbie too?")
    assert inbox(session, newbie) == [("mention", "Ann mentioned you in \u201cWhy -16?\u201d".replace("Ann", ann.display_name or "f-ann"))]
    assert inbox(session, ann) == []  # not told of her own question
    answer = forum.add_post(session, bob, thread.id, body="Operator precedence: use (-4) ** 2")
    assert [k for k, _ in inbox(session, ann)] == ["reply"]
    assert "replied to \u201cWhy -16?\u201d" in inbox(session, ann)[0][1]
    assert inbox(session, bob) == []  # the poster hears nothing of their own reply
    forum.add_post(session, teacher, thread.id, body="Right, see the docs", parent=answer.id)
    assert [k for k, _ in inbox(session, bob)] == ["reply"]  # a comment on Bob's answer tells Bob
    assert [k for k, _ in inbox(session, ann)] == ["reply", "reply"]
    forum.accept(session, ann, thread.id, answer.id)
    forum.endorse(session, teacher, answer.id, True)
    assert [k for k, _ in inbox(session, bob)] == ["reply", "answer_accepted", "answer_endorsed"]
    forum.accept(session, ann, thread.id, answer.id)  # again: told once
    assert [k for k, _ in inbox(session, bob)].count("answer_accepted") == 1


def test_anonymous_and_private_posts_keep_their_secrets(session, world):
    ann, bob, teacher, newbie = world["f-ann"], world["f-bob"], world["f-teacher"], world["f-newbie"]
    thread = forum.create_thread(session, ann, SLUG, title="Open", body="?")
    forum.add_post(session, bob, thread.id, body="an idea", anonymous=True)
    (kind, title), = inbox(session, ann)
    assert kind == "reply" and title.startswith("A classmate") and (bob.display_name or "f-bob") not in title
    # a private thread: a classmate mentioned in it is not told (they cannot read it); the staff is
    private = forum.create_thread(session, ann, SLUG, title="Private", body="@f-newbie @f-teacher look", private=True)
    assert inbox(session, newbie) == []
    assert [k for k, _ in inbox(session, teacher)] == ["mention"]
    assert private.private
