"""services/instructor_applications.py on SQLite and PostgreSQL, against a hub-like server that
keeps its groups (tests/applications/hub.py)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from lms_extension.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from lms_extension.models import Instructor
from lms_extension.models.applications import InstructorApplication
from lms_extension.models.audit import AuditEntry
from lms_extension.services import instructor_applications as apps, users
from lms_extension.services.hub_client import HubClient, HubUnavailable
from tests.factories import make_user

from .conftest import PROFILE, png


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def applicant(session, hub):
    name = unique("ada")
    hub.add_user(name)
    return make_user(session, name)


@pytest.fixture
def admin(session, hub):
    name = unique("boss")
    hub.add_user(name, admin=True)
    return make_user(session, name, admin=True)


def actions(session, target_id) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "instructor_application",
                                                                 AuditEntry.target_id == str(target_id))
                                .order_by(AuditEntry.id)))


def test_submit_stores_a_pending_application_with_photo_and_audit(session, store, applicant):
    application = apps.submit(session, store, applicant, photo=png(), **PROFILE)
    assert (application.status, application.display_name, application.payout_country) == ("pending", "Ada Lovelace", "GB")
    assert application.photo_version and users.photo_widths(application.photo_version) == [96, 256]
    for w in (96, 256):
        assert store.get(apps.photo_key(application.id, application.photo_version, w))[:4] == b"RIFF"
    assert actions(session, application.id) == ["instructor_application.submit"]
    assert apps.latest(session, applicant) is application
    assert applicant.instructor is None and not applicant.is_instructor


BAD = [
    ({"display_name": ""}, "display_name", "enter a display name"),
    ({"display_name": 7}, "display_name", "must be text"),
    ({"display_name": "Ada\u202eevil"}, "display_name", "control characters"),
    ({"headline": "  "}, "headline", "enter a headline"),
    ({"headline": "two\nlines"}, "headline", "one line"),
    ({"headline": "h" * 121}, "headline", "at most 120"),
    ({"bio": ""}, "bio", "write a short bio"),
    ({"bio": None}, "bio", "must be text"),
    ({"bio": "x" * 10_000_000}, "bio", "at most 5000"),
    ({"payout_country": "XX"}, "payout_country", "choose the country"),
    ({"payout_country": ""}, "payout_country", "choose the country"),
    ({"payout_country": ["DE"]}, "payout_country", "choose the country"),
]


@pytest.mark.parametrize("change, field, message", BAD)
def test_bad_fields_are_refused_with_the_field_and_nothing_is_stored(session, store, applicant, change, field, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        apps.submit(session, store, applicant, **{**PROFILE, **change})
    assert caught.value.details.get("field") == field
    assert apps.latest(session, applicant) is None


def test_a_photo_that_is_not_an_image_is_refused(session, store, applicant):
    with pytest.raises(InvalidInput, match="not a PNG, JPEG or WebP"):
        apps.submit(session, store, applicant, photo=b"<svg xmlns='http://www.w3.org/2000/svg'/>", **PROFILE)
    with pytest.raises(InvalidInput, match="could not be read"):
        apps.submit(session, store, applicant, photo=b"\x89PNG\r\n\x1a\n" + b"junk" * 100, **PROFILE)
    with pytest.raises(PayloadTooLarge):
        apps.submit(session, store, applicant, photo=b"\x89PNG\r\n\x1a\n" + b"0" * 1_000_001, **PROFILE)
    assert apps.latest(session, applicant) is None
    assert not list((store.root).rglob("*.webp")) if store.root.exists() else True


def test_one_pending_application_at_a_time_and_none_for_instructors(session, store, applicant, hub):
    apps.submit(session, store, applicant, **PROFILE)
    with pytest.raises(Conflict, match="already waiting"):
        apps.submit(session, store, applicant, **PROFILE)
    teacher = make_user(session, unique("teacher"), instructor=True)
    with pytest.raises(Conflict, match="already teach"):
        apps.submit(session, store, teacher, **PROFILE)


def test_approval_joins_the_hub_group_then_makes_the_instructor(session, store, applicant, admin, hub, hub_client):
    application = apps.submit(session, store, applicant, photo=png(), **{**PROFILE, "bio": "Notes <b>here</b>"})
    assert applicant.hub_name not in hub.members("instructors")
    decided = apps.decide(session, hub_client, store, admin, application.id, "approve", "Welcome!")
    assert applicant.hub_name in hub.members("instructors")
    assert ("POST", "instructors", [applicant.hub_name]) in hub.changes
    # the hub now gives the applicant the teach scope: what the LMS reads on their next request
    assert "custom:lms:teach" in hub.model(applicant.hub_name)["scopes"]
    assert (decided.status, decided.reason, decided.decided_by_id) == ("approved", "Welcome!", admin.id)
    instructor = session.scalars(select(Instructor).where(Instructor.user_id == applicant.id)).one()
    assert applicant.is_instructor and applicant.display_name == "Ada Lovelace"
    assert (instructor.headline, instructor.bio, instructor.payout_country) == (
        "Analyst of engines", "Notes <b>here</b>", "GB")
    assert instructor.photo_version and users.photo_widths(instructor.photo_version) == [96, 256]
    assert store.get(users.photo_key(instructor.id, instructor.photo_version, 256))[:4] == b"RIFF"
    assert actions(session, application.id) == ["instructor_application.submit", "instructor_application.approve"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "instructor_application.approve",
                                                     AuditEntry.target_id == str(application.id))).one()
    assert entry.actor_name == admin.hub_name and '"hub_group": "instructors"' in entry.after
    # the applicant is told: the banner's news until they open their status page
    assert apps.unseen_decision(session, applicant.id) is application
    apps.mark_seen(session, application)
    assert apps.unseen_decision(session, applicant.id) is None
    # and may not apply again
    with pytest.raises(Conflict, match="already teach"):
        apps.submit(session, store, applicant, **PROFILE)


def test_a_hub_that_fails_leaves_nothing_half_done_and_a_retry_works(session, store, applicant, admin, hub, hub_client):
    application = apps.submit(session, store, applicant, **PROFILE)
    session.commit()
    hub.fail_next(1)
    with pytest.raises(HubUnavailable, match="JupyterHub answered 500"):
        apps.decide(session, hub_client, store, admin, application.id, "approve", "")
    session.rollback()
    session.refresh(application)
    session.refresh(applicant)
    assert application.status == "pending" and application.decided_at is None
    assert not applicant.is_instructor and applicant.instructor is None
    assert applicant.hub_name not in hub.members("instructors")
    assert actions(session, application.id) == ["instructor_application.submit"]
    # unreachable: the same
    gone = HubClient("http://127.0.0.1:9/hub/api", hub.service_token, timeout=2)
    with pytest.raises(HubUnavailable, match="did not answer"):
        apps.decide(session, gone, store, admin, application.id, "approve", "")
    session.rollback()
    assert apps.get(session, application.id).status == "pending"
    # the admin tries again
    apps.decide(session, hub_client, store, admin, application.id, "approve", "")
    assert applicant.hub_name in hub.members("instructors") and applicant.is_instructor


def test_a_hub_user_that_does_not_exist_is_not_approved(session, store, admin, hub_client):
    ghost = make_user(session, unique("ghost"))  # an LMS row without a hub account
    application = apps.submit(session, store, ghost, **PROFILE)
    with pytest.raises(HubUnavailable, match="No such user"):
        apps.decide(session, hub_client, store, admin, application.id, "approve", "")


def test_rejection_needs_a_reason_then_the_applicant_may_apply_again(session, store, applicant, admin, hub, hub_client):
    first = apps.submit(session, store, applicant, **PROFILE)
    for reason in ("", "   ", None):
        with pytest.raises(InvalidInput, match="say why"):
            apps.decide(session, hub_client, store, admin, first.id, "reject", reason)
    with pytest.raises(InvalidInput, match="at most 2000"):
        apps.decide(session, hub_client, store, admin, first.id, "reject", "r" * 2001)
    apps.decide(session, hub_client, store, admin, first.id, "reject", "Tell us more about your courses")
    assert (first.status, first.reason) == ("rejected", "Tell us more about your courses")
    assert applicant.hub_name not in hub.members("instructors") and not applicant.is_instructor
    assert apps.unseen_decision(session, applicant.id) is first
    second = apps.submit(session, store, applicant, **{**PROFILE, "bio": "Now with a syllabus."})
    assert second.id != first.id and second.status == "pending" and apps.latest(session, applicant) is second
    assert actions(session, first.id) == ["instructor_application.submit", "instructor_application.reject"]


def test_who_may_decide_and_what(session, store, applicant, admin, hub_client):
    application = apps.submit(session, store, applicant, **PROFILE)
    teacher = make_user(session, unique("teacher"), instructor=True)
    for someone in (applicant, teacher, None):
        with pytest.raises(Forbidden, match="only admins"):
            apps.decide(session, hub_client, store, someone, application.id, "approve", "")
    for decision in ("yes", "", None, True):
        with pytest.raises(InvalidInput, match="'approve' or 'reject'"):
            apps.decide(session, hub_client, store, admin, application.id, decision, "ok")
    for unknown in (application.id + 1000, 0, -1, 2**40, "1"):
        with pytest.raises(NotFound):
            apps.decide(session, hub_client, store, admin, unknown, "approve", "")
    apps.decide(session, hub_client, store, admin, application.id, "reject", "Not now")
    for decision in ("approve", "reject"):
        with pytest.raises(Conflict, match="already rejected"):
            apps.decide(session, hub_client, store, admin, application.id, decision, "again")


def test_review_list_has_pending_first(session, store, admin, hub, hub_client):
    people = []
    for i in range(3):
        name = unique(f"p{i}")
        hub.add_user(name)
        people.append(make_user(session, name))
    a, b, c = (apps.submit(session, store, p, **PROFILE) for p in people)
    apps.decide(session, hub_client, store, admin, b.id, "reject", "no")
    listed = [x.id for x in apps.for_review(session, admin) if x.id in (a.id, b.id, c.id)]
    assert listed == [a.id, c.id, b.id]
    with pytest.raises(Forbidden):
        apps.for_review(session, people[0])


def test_photo_is_for_the_applicant_and_admins_only(session, store, applicant, admin):
    application = apps.submit(session, store, applicant, photo=png(), **PROFILE)
    version = application.photo_version
    assert apps.photo_file(session, store, applicant, application.id, version, 96)[:4] == b"RIFF"
    assert apps.photo_file(session, store, admin, application.id, version, 256)[:4] == b"RIFF"
    stranger = make_user(session, unique("stranger"))
    for viewer, v, w in ((stranger, version, 96), (None, version, 96), (admin, "0" * 12 + "w96", 96), (admin, version, 500)):
        with pytest.raises(NotFound):
            apps.photo_file(session, store, viewer, application.id, v, w)


def test_a_concurrent_second_pending_application_is_a_conflict(session, store, applicant):
    """The partial unique index holds even when the check before it is passed by two requests."""
    apps.submit(session, store, applicant, **PROFILE)
    session.add(InstructorApplication(user_id=applicant.id, status="rejected", display_name="x", headline="h",
                                      bio="b", payout_country="DE"))
    session.flush()  # other statuses are not limited
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(InstructorApplication(user_id=applicant.id, status="pending", display_name="x",
                                              headline="h", bio="b", payout_country="DE"))
            session.flush()


def test_deleting_the_account_erases_its_applications_and_keeps_the_admins_decisions(session, store, applicant, admin,
                                                                                      hub_client):
    from lms_extension.services import accounts

    rejected = apps.submit(session, store, applicant, **PROFILE)
    apps.decide(session, hub_client, store, admin, rejected.id, "reject", "no")
    other = make_user(session, unique("other"))
    decided_by_admin = apps.submit(session, store, other, **PROFILE)
    apps.decide(session, hub_client, store, admin, decided_by_admin.id, "reject", "no")
    accounts.delete_account(session, applicant.hub_name)
    assert session.scalars(select(InstructorApplication).where(InstructorApplication.user_id == applicant.id)).all() == []
    accounts.delete_account(session, admin.hub_name)
    assert session.get(InstructorApplication, decided_by_admin.id).decided_by_id == admin.id  # kept, on a tombstone


def test_the_payout_country_reaches_the_stripe_connect_account(session, store, applicant, admin, hub_client):
    from stripe_test_server.testing import running_server

    from lms_extension.services.payments import payouts

    application = apps.submit(session, store, applicant, **{**PROFILE, "payout_country": "NL"})
    apps.decide(session, hub_client, store, admin, application.id, "approve", "")
    with running_server() as srv:
        stripe = srv.client()
        payouts.start_onboarding(session, stripe, applicant, return_url="http://lms.test/r",
                                 refresh_url="http://lms.test/f")
        account_id = payouts.account_of(session, applicant.instructor).stripe_account_id
        assert stripe.v1.accounts.retrieve(account_id).country == "NL"
