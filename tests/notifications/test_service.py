"""``notifications.notify``: preferences per kind and channel, exactly once per event, email
through the outbox, and the signed unsubscribe tokens."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from lms_extension.errors import InvalidInput
from lms_extension.models.notifications import Notification
from lms_extension.services import notifications
from tests.factories import make_user

SECRET = "s3cret-for-tests"


def count(session, user_id, kind=None):
    q = select(func.count()).select_from(Notification).where(Notification.user_id == user_id)
    if kind:
        q = q.where(Notification.kind == kind)
    return session.scalar(q)


def outbox_rows(session, user_id):
    from lms_extension.models.mail import MailOutbox
    return session.scalars(select(MailOutbox).where(MailOutbox.user_id == user_id)).all()


def test_every_kind_has_a_label_and_defaults():
    assert len(notifications.KINDS) >= 15  # the 14 kinds, direct messages, and any added since
    for kind in notifications.KINDS.values():
        assert kind.label and kind.label[0].isupper()


def test_notify_makes_one_row_per_user_and_respects_in_app_preference(session):
    a, b, c = (make_user(session, n) for n in ("n-ann", "n-bob", "n-cid"))
    notifications.set_preference(session, b.id, "announcement", "in_app", False)
    made = notifications.notify(session, user_ids=[a.id, b.id, c.id], kind="announcement",
                                title="Deadline moved", body="to Friday", url="courses/x")
    assert made["in_app"] == 2
    assert (count(session, a.id), count(session, b.id), count(session, c.id)) == (1, 0, 1)
    # b turned off announcements only: another kind still reaches b
    notifications.notify(session, user_ids=[b.id], kind="grade_released", title="Grade", body="", url="x")
    assert count(session, b.id, "grade_released") == 1
    assert notifications.unread_count(session, a.id) == 1


def test_the_actor_is_not_told_of_their_own_act(session):
    a, b = make_user(session, "n-act"), make_user(session, "n-other")
    notifications.notify(session, user_ids=[a.id, b.id], kind="reply", title="t", body="", url="", actor_id=a.id)
    assert (count(session, a.id), count(session, b.id)) == (0, 1)


def test_dedupe_key_gives_each_user_the_event_once(session):
    a, b = make_user(session, "n-d1"), make_user(session, "n-d2")
    for _ in range(3):
        notifications.notify(session, user_ids=[a.id], kind="reply", title="t", body="", url="", dedupe_key="post:7")
    second = notifications.notify(session, user_ids=[a.id, b.id], kind="reply", title="t", body="", url="",
                                  dedupe_key="post:7")
    assert second["in_app"] == 1  # only b is new
    assert (count(session, a.id), count(session, b.id)) == (1, 1)
    # without a key every call is its own event
    notifications.notify(session, user_ids=[a.id], kind="reply", title="t", body="", url="")
    notifications.notify(session, user_ids=[a.id], kind="reply", title="t", body="", url="")
    assert count(session, a.id) == 3


def test_unknown_kind_is_refused(session):
    a = make_user(session, "n-k")
    with pytest.raises(InvalidInput):
        notifications.notify(session, user_ids=[a.id], kind="spam", title="t", body="", url="")


def test_dedupe_holds_under_concurrency(engine):
    """Eight transactions report the same event at once: one row per user, none fail."""
    from lms_extension.db import session_factory
    factory = session_factory(engine)
    with factory() as db:
        user = make_user(db, f"n-race-{threading.get_ident()}")
        db.commit()
        uid = user.id
    barrier, errors = threading.Barrier(8), []

    def report():
        try:
            with factory() as db:
                barrier.wait()
                notifications.notify(db, user_ids=[uid], kind="mention", title="t", body="", url="",
                                     dedupe_key="race:1")
                db.commit()
        except Exception as exc:  # noqa: BLE001 - a failure is what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=report) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with factory() as db:
        assert errors == [] if engine.dialect.name == "postgresql" else not [e for e in errors if "UNIQUE" in str(e)]
        assert count(db, uid, "mention") == 1


def test_list_is_newest_first_paged_and_mark_read_touches_only_own(session):
    a, b = make_user(session, "n-list-a"), make_user(session, "n-list-b")
    for i in range(5):
        notifications.notify(session, user_ids=[a.id], kind="reply", title=f"t{i}", body="", url="")
    notifications.notify(session, user_ids=[b.id], kind="reply", title="b's", body="", url="")
    first = notifications.list_for(session, a.id, limit=2)
    assert [n["title"] for n in first["notifications"]] == ["t4", "t3"] and first["unread"] == 5
    second = notifications.list_for(session, a.id, limit=2, before=first["next_before"])
    assert [n["title"] for n in second["notifications"]] == ["t2", "t1"]
    last = notifications.list_for(session, a.id, limit=2, before=second["next_before"])
    assert [n["title"] for n in last["notifications"]] == ["t0"] and last["next_before"] is None
    b_id = notifications.list_for(session, b.id)["notifications"][0]["id"]
    assert notifications.mark_read(session, a.id, ids=[b_id, first["notifications"][0]["id"]]) == 1
    assert notifications.unread_count(session, b.id) == 1 and notifications.unread_count(session, a.id) == 4
    assert notifications.mark_read(session, a.id, everything=True) == 4
    assert notifications.unread_count(session, b.id) == 1


def test_preferences_grid_saves_exactly_what_was_ticked(session):
    a = make_user(session, "n-grid")
    notifications.save_preferences(session, a.id, {("reply", "in_app"), ("coupon", "email")})
    prefs = notifications.preferences(session, a.id)
    on = {(k, c) for k, chans in prefs.items() for c, v in chans.items() if v}
    assert on == {("reply", "in_app"), ("coupon", "email")}
    with pytest.raises(InvalidInput):
        notifications.save_preferences(session, a.id, {("reply", "pigeon")})


def test_unsubscribe_token_round_trip_and_tampering():
    token = notifications.unsubscribe_token(SECRET, 42, "announcement")
    assert notifications.read_unsubscribe_token(SECRET, token) == (42, "announcement")
    encoded, sig = token.split(".")
    forged = notifications.unsubscribe_token("another secret", 43, "announcement")
    for bad in [encoded + "." + sig[:-1] + ("A" if sig[-1] != "A" else "B"), forged, "garbage", encoded + ".",
                forged.split(".")[0] + "." + sig]:
        with pytest.raises(InvalidInput):
            notifications.read_unsubscribe_token(SECRET, bad)


def test_email_goes_through_the_outbox_with_a_signed_unsubscribe_link(session):
    notifications.configure_email_links("https://lms.example/services/lms/", SECRET)
    a, b, c = make_user(session, "n-mail-a"), make_user(session, "n-mail-b"), make_user(session, "n-mail-c")
    a.email, b.email = "a@example.org", "b@example.org"  # c has no address
    notifications.set_preference(session, b.id, "announcement", "email", False)
    made = notifications.notify(session, user_ids=[a.id, b.id, c.id], kind="announcement", title="Moved",
                                body="to Friday", url="courses/x", dedupe_key="ann:1")
    assert made == {"in_app": 3, "email": 1, "push": 0}
    rows = outbox_rows(session, a.id)
    assert len(rows) == 1 and rows[0].to_addr == "a@example.org" and "to Friday" in rows[0].text_body
    assert rows[0].subject == "Moved" and rows[0].kind == "announcement"
    assert "https://lms.example/services/lms/courses/x" in rows[0].text_body
    assert 'href="https://lms.example/services/lms/courses/x"' in rows[0].html_body
    assert rows[0].unsubscribe_url in rows[0].text_body and "Course announcements" in rows[0].html_body
    token = rows[0].unsubscribe_url.rsplit("/", 1)[1]
    assert rows[0].unsubscribe_url.startswith("https://lms.example/services/lms/notifications/unsubscribe/")
    assert notifications.read_unsubscribe_token(SECRET, token) == (a.id, "announcement")
    assert outbox_rows(session, b.id) == [] and outbox_rows(session, c.id) == []
    # the same event again: no second email
    notifications.notify(session, user_ids=[a.id], kind="announcement", title="Moved", body="", url="",
                         dedupe_key="ann:1")
    assert len(outbox_rows(session, a.id)) == 1
    # unsubscribing turns off that kind's email only
    notifications.unsubscribe(session, SECRET, token)
    notifications.notify(session, user_ids=[a.id], kind="announcement", title="Again", body="", url="")
    notifications.notify(session, user_ids=[a.id], kind="grade_released", title="Graded", body="", url="")
    assert sorted(r.kind for r in outbox_rows(session, a.id)) == ["announcement", "grade_released"]
    assert count(session, a.id, "announcement") == 2  # in-app unchanged
    # email only (the bell off for coupons): the outbox's key keeps it to one email per event
    notifications.set_preference(session, a.id, "coupon", "in_app", False)
    notifications.set_preference(session, a.id, "coupon", "email", True)
    for _ in range(2):
        notifications.notify(session, user_ids=[a.id], kind="coupon", title="20% off", body="", url="",
                             dedupe_key="coupon:9")
    assert [r.kind for r in outbox_rows(session, a.id)].count("coupon") == 1 and count(session, a.id, "coupon") == 0


def test_an_address_the_outbox_refuses_does_not_undo_the_event(session):
    a = make_user(session, "n-badmail")
    a.email = "broken\r\nBcc: x@example.org"
    made = notifications.notify(session, user_ids=[a.id], kind="coupon", title="t", body="", url="")
    notifications.set_preference(session, a.id, "coupon", "email", True)
    made = notifications.notify(session, user_ids=[a.id], kind="coupon", title="t", body="", url="")
    assert made == {"in_app": 1, "email": 0, "push": 0} and count(session, a.id) == 2
