"""Deleting an account: erase what the LMS holds about a person, keep what the law requires.

Called by the hub when it deletes a user (``hub_config.auth.LMSAuthenticator.delete_user``)
and by ``lms users delete NAME``. One transaction: everything or nothing.

Erased: enrollments, progress, quiz attempts, certificates, badges, XP, streak days, notes,
bookmarks, wishlist, submissions (with their grades), challenge runs, access grants, the
learner profile, reports the person filed.

Kept, pointing at an anonymised tombstone of the account instead of the person:
- orders and their invoices and credit notes: tax law requires keeping them for years
  (Germany: 10, §147 AO); the buyer's name on the invoice becomes "Deleted user"; the number,
  date, lines, amounts, tax and the buyer's country stay, and the numbering is not touched;
- the ledger (it points at orders), subscriptions (cancelled at Stripe first), coupon uses and
  refund requests (without their free-text reason);
- reviews: they stay for other buyers and in the course's rating, shown as "Deleted user", as
  marketplaces usually do; the person's name is nowhere on them;
- helpful votes (only counts) and decisions taken as staff (refunds, moderation, grades);
- an instructor's courses and profile row (the ledger and other students' purchases point at
  it), with headline and bio emptied.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import Conflict
from ..models import Enrollment, LessonProgress, User
from ..models.base import utcnow
from ..models.challenge import ChallengeSubmission
from ..models.commerce import AccessGrant, Invoice, Order, Subscription
from ..models.discovery import ReviewReport, WishlistEvent, WishlistItem
from ..models.learning import (Achievement, ActivityDay, Certificate, LearnerProfile, LessonBookmark, LessonNote,
                               QuizAttempt, XPEvent)
from ..models.submission import NotebookSubmission
from . import users
from .payments import coupons, refunds, subscriptions
from .payments.stripe_client import PaymentsRejected, call
from .users import DELETED_NAME, by_account, by_name

DELETED_DISPLAY_NAME = "Deleted user"

# "table.column" of every reference to users.id, and what deleting the account does with it
ERASED = {
    "enrollments.user_id": Enrollment.user_id,
    "lesson_progress.user_id": LessonProgress.user_id,
    "learner_profiles.user_id": LearnerProfile.user_id,
    "quiz_attempts.user_id": QuizAttempt.user_id,
    "certificates.user_id": Certificate.user_id,
    "achievements.user_id": Achievement.user_id,
    "xp_events.user_id": XPEvent.user_id,
    "activity_days.user_id": ActivityDay.user_id,
    "lesson_notes.user_id": LessonNote.user_id,
    "lesson_bookmarks.user_id": LessonBookmark.user_id,
    "wishlist_items.user_id": WishlistItem.user_id,
    "wishlist_events.user_id": WishlistEvent.user_id,
    "notebook_submissions.user_id": NotebookSubmission.user_id,  # manual grades go with them
    "challenge_submissions.user_id": ChallengeSubmission.user_id,
    "access_grants.user_id": AccessGrant.user_id,
    "review_reports.user_id": ReviewReport.user_id,
}
KEPT = {
    "orders.user_id": "invoices and the ledger point at orders",
    "subscriptions.user_id": "renewal invoices point at them; cancelled at Stripe first",
    "coupon_redemptions.user_id": "which order used which coupon",
    "refund_requests.user_id": "the refund history of kept orders; the reason text is erased",
    "refund_requests.decided_by": "a staff decision",
    "reviews.user_id": "kept for other buyers, shown as 'Deleted user'",
    "review_votes.user_id": "only counts",
    "review_reports.resolved_by_id": "a staff decision",
    "featured_courses.added_by_id": "a staff decision",
    "manual_grades.grader_id": "a staff decision",
    "instructors.user_id": "the ledger, payouts and courses point at the instructor",
}


@dataclass(frozen=True)
class DeletionOutcome:
    erased: bool  # False: the LMS had nothing of this account
    user_id: int | None = None
    invoices_kept: int = 0
    subscriptions_cancelled: list[str] = field(default_factory=list)


def find_account(session: Session, name: str, account_id: str | None = None) -> User | None:
    """The live row of the account: by its id, else by a name no other account has claimed."""
    if account_id:
        user = by_account(session, account_id)
        if user is not None:
            return user if user.deleted_at is None else None
    user = by_name(session, name)
    if user is None or user.deleted_at is not None:
        return None
    if account_id and user.hub_account_id not in (None, account_id):
        return None  # the name's row belongs to another account
    return user


def delete_account(session: Session, name: str, *, account_id: str | None = None, stripe=None) -> DeletionOutcome:
    """Erase the account ``name`` (``account_id``: the hub's id of it, when known).

    ``stripe``: a ``StripeClient`` to cancel live subscriptions and open checkouts with. Without
    it an account with a live subscription is refused (``Conflict``): deleting it would leave
    Stripe charging a person the platform no longer knows.
    """
    user = find_account(session, name, account_id)
    if user is None:
        return DeletionOutcome(erased=False)
    cancelled = _stop_payments(session, user, stripe)
    uid = user.id
    for column in ERASED.values():
        session.execute(delete(column.class_).where(column == uid).execution_options(synchronize_session=False))
    refunds.anonymise_requests_of(session, uid)
    users.clear_instructor_profile(session, uid)
    tombstone = DELETED_NAME.format(id=uid)
    kept = _anonymise_invoices(session, uid, tombstone)
    user.hub_name, user.display_name = tombstone, DELETED_DISPLAY_NAME
    user.is_instructor = user.is_admin = False
    user.deleted_at = utcnow()
    if user.hub_account_id is None and account_id:
        user.hub_account_id = account_id  # so the deleted account's identity cannot come back
    session.flush()
    session.expire_all()  # rows deleted in bulk must not linger in the identity map
    return DeletionOutcome(erased=True, user_id=uid, invoices_kept=kept, subscriptions_cancelled=cancelled)


def _stop_payments(session: Session, user: User, stripe) -> list[str]:
    """No more money from this person: cancel live subscriptions, expire open checkouts."""
    live = list(session.scalars(select(Subscription).where(
        Subscription.user_id == user.id, Subscription.status.in_(subscriptions.ACTIVE_SUBSCRIPTION))))
    if live and stripe is None:
        raise Conflict(f"{user.hub_name} has a live all-access subscription and Stripe is not configured "
                       "where the account is being deleted, so it cannot be cancelled; configure "
                       "LMS_STRIPE_SECRET_KEY there or cancel it in Stripe first")
    cancelled = []
    for sub in live:
        try:
            call(stripe.v1.subscriptions.cancel, sub.stripe_subscription_id, {},
                 {"idempotency_key": f"lms-delete-account-{sub.id}"})
        except PaymentsRejected as exc:
            if exc.details.get("stripe_status") != 404:
                raise
        sub.status, sub.canceled_at = "canceled", utcnow()
        cancelled.append(sub.stripe_subscription_id)
    open_orders = list(session.scalars(select(Order).where(
        Order.user_id == user.id, Order.status.in_(("pending", "awaiting_payment")))))
    for order in open_orders:
        if stripe is not None and order.status == "pending" and order.stripe_session_id:
            try:
                call(stripe.v1.checkout.sessions.expire, order.stripe_session_id)
            except PaymentsRejected:
                pass  # already completed or expired: the webhook settles it
        if order.status == "pending":
            order.status, order.closed_at = "expired", utcnow()
            coupons.release(session, order)
    session.flush()
    return cancelled


def _anonymise_invoices(session: Session, user_id: int, tombstone: str) -> int:
    rows = list(session.scalars(select(Invoice).join(Order, Order.id == Invoice.order_id)
                                .where(Order.user_id == user_id)))
    for invoice in rows:
        snap = dict(invoice.snapshot)
        buyer = dict(snap.get("buyer") or {})
        # the country stays: it decides the tax that was charged
        snap["buyer"] = {**{k: v for k, v in buyer.items() if k == "country"},
                         "name": DELETED_DISPLAY_NAME, "username": tombstone}
        invoice.snapshot = snap  # a new dict: JSON columns do not track changes inside
    return len(rows)
