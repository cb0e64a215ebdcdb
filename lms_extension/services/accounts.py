"""Deleting an account: erase what the LMS holds about a person, keep what the law requires.

Called by the hub when it deletes a user (``hub_config.auth.LMSAuthenticator.delete_user``)
and by ``lms users delete NAME``. One transaction: everything or nothing.

Erased: enrollments, progress, quiz attempts, certificates, badges, XP, streak days, notes,
bookmarks, wishlist, submissions (with their grades), challenge runs, access grants, the
learner profile, reports the person filed, applications to teach.

Kept, pointing at an anonymised tombstone of the account instead of the person:
- orders and their invoices and credit notes: tax law requires keeping them for years
  (Germany: 10, §147 AO); the buyer's name on the invoice becomes "Deleted user"; the number,
  date, lines, amounts, tax and the buyer's country stay, and the numbering is not touched;
- the ledger (it points at orders), subscriptions (cancelled at Stripe first), coupon uses and
  refund requests (without their free-text reason);
- reviews: they stay for other buyers and in the course's rating, shown as "Deleted user", as
  marketplaces usually do; the person's name is nowhere on them;
- helpful votes (only counts) and decisions taken as staff (refunds, moderation, grades);
- direct messages they sent, for the people they wrote to, signed "Deleted user" (their inbox,
  read marks and blocks are erased);
- an instructor's courses and profile row (the ledger and other students' purchases point at
  it), with headline and bio emptied.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..models import Enrollment, LessonProgress, User
from ..models.analytics import AnalyticsEvent, SignupSource
from ..models.applications import InstructorApplication
from ..models.challenge import ChallengeSubmission
from ..models.commerce import AccessGrant
from ..models.discovery import ReviewReport, WishlistEvent, WishlistItem
from ..models.learning import (Achievement, ActivityDay, Certificate, LearnerProfile, LessonBookmark, LessonNote,
                               QuizAttempt, XPEvent)
from ..models.forum import ForumCourseLevel, ForumRead, ForumReport, ForumSuspension, ForumThreadLevel
from ..models.account_email import EmailToken, VerifiedEmail
from ..models.mail import MailOutbox
from ..models.messages import ConversationMember, UserBlock
from ..models.digests import DigestPreference, DigestRun
from ..models.notifications import Notification, NotificationPreference
from ..models.push import PushOutbox, PushSubscription
from ..models.roster import DeadlineExtension
from ..models.submission import NotebookSubmission
from ..models.user import ActivityClock
from . import users
from .payments import fulfillment, invoices, refunds
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
    "analytics_events.user_id": AnalyticsEvent.user_id,  # their visits
    "signup_sources.user_id": SignupSource.user_id,
    "instructor_applications.user_id": InstructorApplication.user_id,  # their profile as they applied
    "activity_clocks.user_id": ActivityClock.user_id,
    "deadline_extensions.user_id": DeadlineExtension.user_id,  # their own deadlines
    "notifications.user_id": Notification.user_id,  # their bell
    "notification_preferences.user_id": NotificationPreference.user_id,
    "forum_reads.user_id": ForumRead.user_id,  # what they had read
    "forum_thread_levels.user_id": ForumThreadLevel.user_id,  # threads they watched, tracked or muted
    "forum_course_levels.user_id": ForumCourseLevel.user_id,
    "forum_reports.reporter_id": ForumReport.reporter_id,  # reports they filed
    "forum_suspensions.user_id": ForumSuspension.user_id,  # their suspensions from a course's Q&A
    "mail_outbox.user_id": MailOutbox.user_id,  # emails to them (their address), sent or waiting
    "digest_preferences.user_id": DigestPreference.user_id,  # their digest choice
    "digest_runs.user_id": DigestRun.user_id,  # which digests they were sent
    "push_subscriptions.user_id": PushSubscription.user_id,  # their browsers (push endpoints and keys)
    "push_outbox.user_id": PushOutbox.user_id,  # pushes to them, sent or waiting
    "conversation_members.user_id": ConversationMember.user_id,  # their inbox and read marks
    "user_blocks.blocker_id": UserBlock.blocker_id,  # whom they blocked
    "user_blocks.blocked_id": UserBlock.blocked_id,  # who blocked them
    "email_tokens.user_id": EmailToken.user_id,  # their emailed links (hashed) and the addresses they went to
    "verified_emails.user_id": VerifiedEmail.user_id,  # their confirmed address
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
    "instructor_applications.decided_by_id": "a staff decision",
    "instructors.user_id": "the ledger, payouts and courses point at the instructor",
    "deadline_extensions.granted_by_id": "a staff decision",
    "announcements.author_id": "the course's news stays with the course",
    "notifications.actor_id": "another person's notice; the actor shows as 'Deleted user'",
    "email_templates.updated_by_id": "a staff decision (the admin who last edited an email template)",
    "forum_threads.author_id": "the course's Q&A stays for its classmates, signed 'Deleted user'",
    "forum_posts.author_id": "answers stay for the course, signed 'Deleted user'",
    "forum_votes.user_id": "only counts",
    "forum_posts.hidden_by_id": "a staff decision",
    "forum_reports.resolved_by_id": "a staff decision",
    "forum_suspensions.created_by_id": "a staff decision",
    "forum_suspensions.lifted_by_id": "a staff decision",
    "conversations.student_id": "the staff's (or classmate's) side of the conversation stays, with 'Deleted user'",
    "conversations.peer_id": "the classmate's side of the conversation stays, with 'Deleted user'",
    "messages.author_id": "what the other side was told stays with them, signed 'Deleted user'",
    "course_messaging_settings.updated_by_id": "a staff decision",
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
    cancelled = fulfillment.stop_payments_of(session, user, stripe)
    uid = user.id
    for column in ERASED.values():
        session.execute(delete(column.class_).where(column == uid).execution_options(synchronize_session=False))
    refunds.anonymise_requests_of(session, uid)
    users.clear_instructor_profile(session, uid)
    tombstone = DELETED_NAME.format(id=uid)
    kept = invoices.anonymise_buyer(session, uid, name=DELETED_DISPLAY_NAME, username=tombstone)
    users.erase_identity(session, user, tombstone=tombstone, display_name=DELETED_DISPLAY_NAME,
                         account_id=account_id)
    session.expire_all()  # rows deleted in bulk must not linger in the identity map
    return DeletionOutcome(erased=True, user_id=uid, invoices_kept=kept, subscriptions_cancelled=cancelled)
