"""services/account_email.py on SQLite and PostgreSQL: links stored hashed, single use, expiring,
forged ones refused; the address change; the password reset's answers; the identity sync."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from lms_extension.errors import Gone, InvalidInput, NotFound, TooManyRequests
from lms_extension.models.account_email import CHANGE, RESET, VERIFY, EmailToken, VerifiedEmail
from lms_extension.models.base import utcnow
from lms_extension.models.mail import MailOutbox
from lms_extension.services import account_email as ae
from lms_extension.services import users
from tests.factories import make_user

LINKS = ae.Links(lms="https://lms.test/services/lms/", hub="https://lms.test/hub/")


def person(session, name="ada", email="ada@example.org"):
    user = make_user(session, name)
    users.sync_hub_user(session, {"name": name, "scopes": [], "user_info": {"email": email}})
    assert user.email == email
    return user


@pytest.fixture(autouse=True)
def empty_outbox(session):
    """Each test counts its own emails: rows other test modules committed to the shared database
    (the hub-side tests send through it) are removed inside this test's transaction (rolled back)."""
    session.execute(delete(MailOutbox))


def outbox(session, kind=None):
    rows = session.scalars(select(MailOutbox).order_by(MailOutbox.id)).all()
    return [r for r in rows if kind is None or r.kind == kind]


def secret_of(row: MailOutbox) -> str:
    return re.search(r"token=([A-Za-z0-9_-]{43})", row.text_body).group(1)


def test_verification_link_is_hashed_single_use_and_marks_the_address(session):
    ada = person(session)
    assert ae.send_verification(session, ada, LINKS)
    [row] = outbox(session, "account_verify")
    assert row.to_addr == "ada@example.org" and "https://lms.test/services/lms/email/confirm?token=" in row.text_body
    secret = secret_of(row)
    token = session.scalars(select(EmailToken).where(EmailToken.user_id == ada.id)).one()
    assert secret not in token.token_hash and len(token.token_hash) == 64  # only the hash is kept
    assert not ae.is_verified(session, ada)
    done = ae.confirm(session, secret, LINKS)
    assert done.address == "ada@example.org" and done.changed_from is None
    assert ae.is_verified(session, ada) and ae.verified_ids(session, [ada]) == {ada.id}
    with pytest.raises(Gone, match="already been used"):
        ae.confirm(session, secret, LINKS)
    # verified: no more links, at login or on request
    assert not ae.send_verification(session, ada, LINKS) and not ae.send_verification(session, ada, LINKS, again=True)


def test_automatic_link_once_per_address_and_resend_is_limited(session):
    ada = person(session, "ada2", "ada2@example.org")
    assert ae.send_verification(session, ada, LINKS)
    assert not ae.send_verification(session, ada, LINKS)  # the next login: not again
    for _ in range(ae.PER_HOUR[VERIFY] - 1):
        assert ae.send_verification(session, ada, LINKS, again=True)
    with pytest.raises(TooManyRequests):
        ae.send_verification(session, ada, LINKS, again=True)


def test_expired_and_forged_links(session):
    ada = person(session, "ada3", "ada3@example.org")
    ae.send_verification(session, ada, LINKS, now=utcnow() - timedelta(hours=ae.VERIFY_HOURS, seconds=1))
    secret = secret_of(outbox(session, "account_verify")[-1])
    with pytest.raises(Gone, match="expired"):
        ae.confirm(session, secret, LINKS)
    for forged in ("", "x" * 43, secret[:-1] + ("A" if secret[-1] != "A" else "B"), secret + "A", "a" * 10_000,
                   "abc\x00def" + "a" * 36, "../../etc/passwd", None, 12):
        with pytest.raises(NotFound, match="not valid"):
            ae.confirm(session, forged, LINKS)
    assert not ae.is_verified(session, ada)


def test_a_link_for_an_address_no_longer_on_the_account_is_refused(session):
    ada = person(session, "ada4", "ada4@example.org")
    ae.send_verification(session, ada, LINKS)
    secret = secret_of(outbox(session, "account_verify")[-1])
    users.change_email(session, ada, "other@example.org")
    with pytest.raises(Gone, match="no longer on your account"):
        ae.confirm(session, secret, LINKS)


def test_change_email_waits_for_the_new_address_and_tells_the_old(session):
    ada = person(session, "ada5", "ada5@example.org")
    ae.confirm(session, (ae.send_verification(session, ada, LINKS), secret_of(outbox(session)[-1]))[1], LINKS)
    assert ae.request_change(session, ada, "  Ada.New@EXAMPLE.org ", LINKS) == "Ada.New@example.org"
    row = outbox(session, "account_email_change")[-1]
    assert row.to_addr == "Ada.New@example.org"
    assert ada.email == "ada5@example.org" and ae.is_verified(session, ada)  # nothing changed yet
    assert ae.status(session, ada).pending_address == "Ada.New@example.org"
    done = ae.confirm(session, secret_of(row), LINKS)
    assert done.changed_from == "ada5@example.org" and ada.email == "Ada.New@example.org"
    assert ae.is_verified(session, ada)
    [notice] = outbox(session, "account_email_changed")
    assert notice.to_addr == "ada5@example.org" and "Ada.New@example.org" in notice.text_body
    # the hub's stale sign-up address does not come back at the next sync
    users.sync_hub_user(session, {"name": "ada5", "scopes": [], "user_info": {"email": "ada5@example.org"}})
    assert ada.email == "Ada.New@example.org" and ae.is_verified(session, ada)
    assert ae.status(session, ada).pending_address is None


def test_a_newer_change_request_replaces_the_older_link(session):
    ada = person(session, "ada6", "ada6@example.org")
    ae.request_change(session, ada, "first@example.org", LINKS)
    first = secret_of(outbox(session, "account_email_change")[-1])
    ae.request_change(session, ada, "second@example.org", LINKS)
    second = secret_of(outbox(session, "account_email_change")[-1])
    with pytest.raises(Gone):
        ae.confirm(session, first, LINKS)
    assert ae.confirm(session, second, LINKS).address == "second@example.org"


@pytest.mark.parametrize("hostile", [
    "a@b.org\r\nBcc: victim@example.org", "a@b.org\nSubject: hi", "Ada <ada@example.org>", "a@example.org, b@example.org",
    "a@example.org;b@example.org", "x" * 250 + "@example.org", "no-at-sign", "@example.org", "a@", "a@localhost",
    "a b@example.org", "a@exa mple.org", "\u202eevil@example.org", "a@example.org\x00", "", "   ", None, ["a@example.org"],
])
def test_hostile_addresses_are_refused_with_a_reason(session, hostile):
    ada = person(session, "ada7", "ada7@example.org")
    with pytest.raises(InvalidInput) as caught:
        ae.request_change(session, ada, hostile, LINKS)
    assert caught.value.details.get("field") == "new_email" and caught.value.message
    assert ae.request_password_reset(session, hostile, LINKS) == 0
    assert outbox(session) == []


def test_changing_to_the_same_address_is_refused(session):
    ada = person(session, "ada8", "ada8@example.org")
    with pytest.raises(InvalidInput, match="already your address"):
        ae.request_change(session, ada, "ADA8@example.org", LINKS)


def test_password_reset_sends_only_to_known_live_accounts(session):
    ada = person(session, "ada9", "ada9@example.org")
    assert ae.request_password_reset(session, "nobody@example.org", LINKS) == 0
    assert outbox(session) == []
    assert ae.request_password_reset(session, "ADA9@Example.org", LINKS) == 1
    [row] = outbox(session, "password_reset")
    assert row.to_addr == "ada9@example.org" and "https://lms.test/hub/reset-password?token=" in row.text_body
    users.set_active(session, None, ada, False)
    assert ae.request_password_reset(session, "ada9@example.org", LINKS) == 0


def test_reset_link_single_use_kills_the_others_and_expires_in_one_hour(session):
    ada = person(session, "ada10", "ada10@example.org")
    ae.request_password_reset(session, "ada10@example.org", LINKS)
    ae.request_password_reset(session, "ada10@example.org", LINKS)
    first, second = (secret_of(r) for r in outbox(session, "password_reset"))
    assert ae.check_reset(session, first).id == ada.id  # checking uses nothing
    assert ae.check_reset(session, first).id == ada.id
    assert ae.consume_reset(session, second).id == ada.id
    for used in (first, second):
        with pytest.raises(Gone):
            ae.check_reset(session, used)
    assert ae.is_verified(session, ada)  # the reset link proved the address reads mail
    # a reset link is not a confirmation link, nor the other way round
    with pytest.raises(NotFound):
        ae.confirm(session, second, LINKS)
    # one hour: the link works 59 minutes later, not 61
    bob = person(session, "bob10", "bob10@example.org")
    ae.request_password_reset(session, "bob10@example.org", LINKS)
    link = secret_of(outbox(session, "password_reset")[-1])
    token = session.scalars(select(EmailToken).where(EmailToken.user_id == bob.id)).one()
    assert (ae._aware(token.expires_at) - ae._aware(token.created_at)).total_seconds() == 3600
    assert ae.check_reset(session, link, now=utcnow() + timedelta(minutes=59)).id == bob.id
    with pytest.raises(Gone, match="expired"):
        ae.check_reset(session, link, now=utcnow() + timedelta(minutes=61))
    with pytest.raises(Gone, match="expired"):
        ae.consume_reset(session, link, now=utcnow() + timedelta(minutes=61))
    assert ae.consume_reset(session, link).id == bob.id


def test_reset_emails_per_account_are_limited(session):
    person(session, "ada11", "ada11@example.org")
    sent = [ae.request_password_reset(session, "ada11@example.org", LINKS) for _ in range(ae.PER_HOUR[RESET] + 2)]
    assert sent == [1] * ae.PER_HOUR[RESET] + [0, 0]


def test_sync_takes_the_hub_address_only_when_the_lms_has_none(session):
    ada = make_user(session, "ada12")
    assert ada.email == ""
    users.sync_hub_user(session, {"name": "ada12", "scopes": [], "user_info": {"email": "first@example.org"}})
    assert ada.email == "first@example.org"
    users.sync_hub_user(session, {"name": "ada12", "scopes": [], "user_info": {"email": "stale@example.org"}})
    assert ada.email == "first@example.org"


def test_change_link_for_a_deactivated_account_is_refused(session):
    ada = person(session, "ada13", "ada13@example.org")
    ae.request_change(session, ada, "new13@example.org", LINKS)
    secret = secret_of(outbox(session, "account_email_change")[-1])
    users.set_active(session, None, ada, False)
    with pytest.raises(Gone, match="can no longer be used"):
        ae.confirm(session, secret, LINKS)
    assert session.get(VerifiedEmail, ada.id) is None and ada.email == "ada13@example.org"
    assert session.scalars(select(EmailToken).where(EmailToken.purpose == CHANGE)).first() is not None


def test_an_old_address_no_email_can_go_to_is_skipped_not_an_error(session):
    # the hub's sign-up accepted more than one plain address before these checks
    ada = person(session, "ada14", '"Ada" <ada14@example.org>')
    assert not ae.send_verification(session, ada, LINKS)
    ae.request_change(session, ada, "ada14@example.org", LINKS)
    done = ae.confirm(session, secret_of(outbox(session, "account_email_change")[-1]), LINKS)
    assert done.address == "ada14@example.org" and outbox(session, "account_email_changed") == []
