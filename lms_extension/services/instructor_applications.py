"""Becoming an instructor: a signed-in user applies with a profile; an admin approves or
rejects it with a reason; the applicant sees the decision on their status page and a banner.

Owner of ``instructor_applications``. Approval asks the hub to add the applicant to the
``instructors`` group (``hub_client``), the one place the instructor role comes from, then
writes the profile through ``users.become_instructor``: if the hub refuses or does not answer,
the whole decision fails (the caller rolls back) and can be retried. Every submission and
decision is audited in the same transaction.

No mailer exists in the LMS yet: the decision is stored on the application, which is how the
applicant is told (``unseen_decision`` drives the banner until they open their status page).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import permissions
from ..errors import Conflict, InvalidInput, NotFound, Forbidden
from ..models import User
from ..models.applications import APPROVED, PENDING, REJECTED, InstructorApplication
from ..models.base import utcnow
from . import audit, covers, notifications, users
from .countries import NAMES as COUNTRY_NAMES

INSTRUCTORS_GROUP = "instructors"  # hub_config.roles.INSTRUCTORS_GROUP (the hub's side imports the LMS, not back)
REASON_MAX = 2000
DECISIONS = ("approve", "reject")
PHOTO_WIDTHS = covers.PHOTO_WIDTHS


@dataclass(frozen=True)
class Fields:
    display_name: str
    headline: str
    bio: str
    payout_country: str


def check_fields(*, display_name, headline, bio, payout_country) -> Fields:
    """The application's text fields, checked as the profile page checks them; all required."""
    name = users.check_display_name(display_name)
    line = users.check_headline(headline)
    if not line:
        raise InvalidInput("enter a headline: one line on what you teach", field="headline")
    text = users.check_bio(bio)
    if not text:
        raise InvalidInput("write a short bio: who you are and what you would teach", field="bio")
    if not isinstance(payout_country, str) or payout_country.strip().upper() not in COUNTRY_NAMES:
        raise InvalidInput("choose the country you will be paid in from the list", field="payout_country")
    return Fields(name, line, text, payout_country.strip().upper())


def photo_key(application_id: int, version: str, width: int) -> str:
    return f"applications/{application_id}/photo-{version}-{width}.webp"


def latest(session: Session, user: User) -> InstructorApplication | None:
    """The user's newest application (older rejected ones stay as history)."""
    return session.scalars(select(InstructorApplication).where(InstructorApplication.user_id == user.id)
                           .order_by(InstructorApplication.id.desc()).limit(1)).first()


def submit(session: Session, store, user: User, *, display_name, headline, bio, payout_country,
           photo: bytes | None = None) -> InstructorApplication:
    """A new pending application. Refused while one is pending or when the user already
    teaches; allowed again after a rejection. ``photo``: an uploaded image, checked and
    re-encoded square as instructor photos are."""
    if user is None or user.deleted_at is not None:
        raise Forbidden("log in to apply")
    if permissions.has_scope(user, permissions.TEACH):
        raise Conflict("you can already teach: open Teaching to create a course")
    fields = check_fields(display_name=display_name, headline=headline, bio=bio, payout_country=payout_country)
    images = covers.renditions(photo, PHOTO_WIDTHS, (1, 1)) if photo else []
    previous = latest(session, user)
    if previous is not None and previous.status == PENDING:
        raise Conflict("your application is already waiting for an admin's decision")
    application = InstructorApplication(user_id=user.id, status=PENDING, display_name=fields.display_name,
                                        headline=fields.headline, bio=fields.bio,
                                        payout_country=fields.payout_country)
    try:
        with session.begin_nested():
            session.add(application)
            session.flush()
    except IntegrityError:  # a second submission at the same moment (one pending per user)
        raise Conflict("your application is already waiting for an admin's decision") from None
    if images:
        version = f"{covers.new_version()}w{'_'.join(str(r.width) for r in images)}"
        for r in images:
            store.put(photo_key(application.id, version, r.width), r.data, "image/webp")
        application.photo_version = version
    audit.record(session, user, "instructor_application.submit", "instructor_application", application.id,
                 after={"display_name": fields.display_name, "headline": fields.headline,
                        "payout_country": fields.payout_country, "photo": bool(images)},
                 summary=f"{user.hub_name} applied to teach")
    session.flush()
    return application


def get(session: Session, application_id) -> InstructorApplication:
    if not isinstance(application_id, int) or not 0 < application_id < 2**31:
        raise NotFound("no such application")
    application = session.get(InstructorApplication, application_id)
    if application is None:
        raise NotFound("no such application")
    return application


def for_review(session: Session, admin: User, *, limit: int = 200) -> list[InstructorApplication]:
    """Pending applications first (oldest first: first come, first served), then the decided
    ones, newest first."""
    permissions.require_admin(admin, "only admins review instructor applications")
    pending_first = case((InstructorApplication.status == PENDING, 0), else_=1)
    # pending: oldest first; decided: newest first
    order = case((InstructorApplication.status == PENDING, InstructorApplication.id), else_=-InstructorApplication.id)
    return list(session.scalars(select(InstructorApplication).options(
        selectinload(InstructorApplication.user), selectinload(InstructorApplication.decided_by))
        .order_by(pending_first, order).limit(limit)))


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(InstructorApplication)
                          .where(InstructorApplication.status == PENDING)) or 0


def check_decision(decision, reason) -> tuple[str, str]:
    if decision not in DECISIONS:
        raise InvalidInput("the decision must be 'approve' or 'reject'", field="decision")
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or users._control_chars(reason, newlines=True):
        raise InvalidInput("the reason must be text, without control characters", field="reason")
    reason = reason.replace("\r\n", "\n").strip()
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"the reason is {len(reason)} characters long; at most {REASON_MAX}", field="reason")
    if decision == "reject" and not reason:
        raise InvalidInput("say why the application is rejected: the applicant reads the reason", field="reason")
    return decision, reason


def decide(session: Session, hub, store, admin: User, application_id, decision, reason) -> InstructorApplication:
    """Approve or reject a pending application.

    Approval adds the applicant to the hub's ``instructors`` group through ``hub`` (a
    ``hub_client.HubClient``) before anything is written; a ``HubUnavailable`` from it leaves
    nothing changed once the caller rolls back, and the admin can try again (joining a group
    twice is no change in the hub)."""
    permissions.require_admin(admin, "only admins decide instructor applications")
    decision, reason = check_decision(decision, reason)
    application = get(session, application_id)
    if application.status != PENDING:
        raise Conflict(f"this application was already {application.status}"
                       + (f" on {application.decided_at:%Y-%m-%d}" if application.decided_at else ""))
    applicant = application.user
    if applicant.deleted_at is not None:
        raise Conflict("the applicant's account has been deleted")
    status = APPROVED if decision == "approve" else REJECTED
    now = utcnow()
    # claims the decision (a row lock on PostgreSQL until commit): a second admin deciding at the
    # same moment finds it decided
    claimed = session.execute(update(InstructorApplication).where(
        InstructorApplication.id == application.id, InstructorApplication.status == PENDING).values(
        status=status, reason=reason, decided_at=now, decided_by_id=admin.id, seen_at=None)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise Conflict("this application was decided by someone else a moment ago")
    session.refresh(application)
    if status == APPROVED:
        hub.add_to_group(INSTRUCTORS_GROUP, [applicant.hub_name])
        users.become_instructor(session, applicant, display_name=application.display_name,
                                headline=application.headline, bio=application.bio,
                                payout_country=application.payout_country)
        if application.photo_version:
            biggest = max(users.photo_widths(application.photo_version))
            users.set_photo(session, store, applicant, store.get(photo_key(application.id,
                                                                           application.photo_version, biggest)))
    notifications.notify(
        session, user_ids=[applicant.id], kind="application_decision", actor_id=admin.id,
        title="Your application to teach is approved" if status == APPROVED else "Your application to teach was not approved",
        body=reason or ("You can create courses now." if status == APPROVED else ""),
        url="teach" if status == APPROVED else "teach/apply", dedupe_key=f"application:{application.id}:decision")
    audit.record(session, admin, f"instructor_application.{decision}", "instructor_application", application.id,
                 before={"status": PENDING}, after={"status": status, "reason": reason, "applicant": applicant.hub_name,
                                                    **({"hub_group": INSTRUCTORS_GROUP} if status == APPROVED else {})},
                 summary=f"{status} {applicant.hub_name}'s application to teach")
    session.flush()
    return application


def unseen_decision(session: Session, user_id: int) -> InstructorApplication | None:
    """The user's decided application they have not seen yet (the banner's news), if any."""
    return session.scalars(select(InstructorApplication).where(
        InstructorApplication.user_id == user_id, InstructorApplication.decided_at.is_not(None),
        InstructorApplication.seen_at.is_(None)).order_by(InstructorApplication.id.desc()).limit(1)).first()


def mark_seen(session: Session, application: InstructorApplication) -> None:
    """The applicant has seen the decision (their status page showed it)."""
    if application.decided_at is not None and application.seen_at is None:
        application.seen_at = utcnow()
        session.flush()


def photo_file(session: Session, store, viewer: User | None, application_id: int, version: str, width: int) -> bytes:
    """An application's photo, for admins and the applicant only, under its current version."""
    application = get(session, application_id)
    if viewer is None or not (permissions.is_admin(viewer) or viewer.id == application.user_id):
        raise NotFound("no such photo")
    if not application.photo_version or application.photo_version != version \
            or width not in users.photo_widths(version):
        raise NotFound("no such photo")
    return store.get(photo_key(application.id, version, width))


def as_json(application: InstructorApplication) -> dict:
    return {"id": application.id, "status": application.status, "user": application.user.hub_name,
            "display_name": application.display_name, "headline": application.headline, "bio": application.bio,
            "payout_country": application.payout_country, "has_photo": bool(application.photo_version),
            "created_at": application.created_at.isoformat() if application.created_at else None,
            "decided_at": application.decided_at.isoformat() if application.decided_at else None,
            "reason": application.reason}
