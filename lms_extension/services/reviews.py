"""Course reviews: 1-5 stars and Markdown text, one per user per course, by enrolled users
past a minimum progress; a public instructor reply, helpful votes, reports to moderators.

Every write that changes what counts (a new rating, an edit, a moderator hiding a review)
moves its rating in ``course_stats`` (``course_stats.shift_rating``) in the same transaction;
pages read the aggregate from there and never count reviews.
"""
from __future__ import annotations

from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import permissions
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import Course, Enrollment, Lesson, LessonProgress, User
from ..models.base import utcnow
from ..models.discovery import CourseStats, Review, ReviewReport, ReviewVote
from . import audit, catalog, course_stats, notifications

MAX_BODY = 5000
MAX_REASON = 500
PAGE_SORTS = {
    "helpful": (Review.helpful_count.desc(), Review.id.desc()),
    "newest": (Review.created_at.desc(), Review.id.desc()),
}
# reviews are read by everyone: no images (tracking pixels), no raw HTML, links marked ugc
_md = MarkdownIt("commonmark", {"html": False})
_TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr"}


def render(text: str) -> str:
    return nh3.clean(_md.render(text or ""), tags=_TAGS, attributes={"a": {"href", "title"}},
                     link_rel="nofollow noopener noreferrer ugc", url_schemes={"http", "https", "mailto"})


def parse_rating(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput("rating must be a whole number from 1 to 5")
    try:
        rating = int(value)
    except ValueError:
        raise InvalidInput(f"rating must be a whole number from 1 to 5, got {str(value)[:20]!r}") from None
    if not 1 <= rating <= 5:
        raise InvalidInput(f"rating must be from 1 to 5, got {rating}")
    return rating


def parse_body(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("text must be a string")
    if len(value) > MAX_BODY:
        raise InvalidInput(f"a review is limited to {MAX_BODY} characters")
    return value.strip()


# --------------------------------------------------------------------------- aggregates
def stats_for(session: Session, course_id: int) -> CourseStats | None:
    return course_stats.get(session, course_id)


# --------------------------------------------------------------------------- eligibility
def progress_ratio(session: Session, user: User, course: Course) -> float:
    total = session.scalar(select(func.count(Lesson.id)).where(Lesson.course_id == course.id)) or 0
    if not total:
        return 1.0
    opened = session.scalar(
        select(func.count(LessonProgress.id)).join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id == user.id, Lesson.course_id == course.id)) or 0
    return opened / total


def check_can_review(session: Session, user: User, course: Course, min_progress: float) -> None:
    if permissions.is_instructor_of(user, course):
        raise Forbidden("instructors cannot review their own course")
    enrolled = session.scalar(select(Enrollment.id).where(Enrollment.user_id == user.id,
                                                          Enrollment.course_id == course.id))
    if enrolled is None:
        raise Forbidden(f"enroll in {course.title!r} to review it")
    done = progress_ratio(session, user, course)
    if done + 1e-9 < min_progress:
        raise Forbidden(f"open at least {round(min_progress * 100)}% of the lessons before reviewing "
                        f"(you are at {round(done * 100)}%)", progress=round(done, 3), required=min_progress)


# --------------------------------------------------------------------------- writes
def create(session: Session, user: User, slug: str, rating, body, *, min_progress: float = 0.2) -> Review:
    course = catalog.get_course(session, slug, viewer=user)
    rating, body = parse_rating(rating), parse_body(body)
    check_can_review(session, user, course, min_progress)
    if own_review(session, user, course.id) is not None:
        raise Conflict("you already reviewed this course: edit your review instead")
    review = Review(course_id=course.id, user_id=user.id, rating=rating, body=body, body_html=render(body),
                    status="visible", helpful_count=0, updated_at=utcnow())
    try:
        with session.begin_nested():
            session.add(review)
    except IntegrityError:
        raise Conflict("you already reviewed this course: edit your review instead") from None
    course_stats.shift_rating(session, course.id, add=rating)
    if course.instructor is not None:  # the instructor hears of it (if they want "new review")
        session.flush()
        stars = "\u2605" * rating + "\u2606" * (5 - rating)
        notifications.notify(session, user_ids=[course.instructor.user_id], kind="new_review", actor_id=user.id,
                             title=f"New review of {course.title}: {stars}",
                             body=body if len(body) <= 300 else body[:299] + "\u2026",
                             url=f"courses/{course.slug}#review-{review.id}", dedupe_key=f"review:{review.id}")
    return review


def update_own(session: Session, user: User, slug: str, rating=None, body=None) -> Review:
    course = catalog.get_course(session, slug, viewer=user)
    review = own_review(session, user, course.id)
    if review is None:
        raise NotFound("you have not reviewed this course")
    if rating is None and body is None:
        raise InvalidInput("send rating and/or text to change")
    if rating is not None:
        rating = parse_rating(rating)
        if review.status == "visible" and rating != review.rating:
            old = review.rating
            review.rating = rating
            session.flush()
            course_stats.shift_rating(session, course.id, add=rating, remove=old)
            review = session.get(Review, review.id)
        else:
            review.rating = rating
    if body is not None:
        review.body = parse_body(body)
        review.body_html = render(review.body)
    review.updated_at = utcnow()
    session.flush()
    return review


def own_review(session: Session, user: User, course_id: int) -> Review | None:
    return session.scalars(select(Review).where(Review.user_id == user.id, Review.course_id == course_id)).one_or_none()


def _review(session: Session, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.status != "visible":
        raise NotFound(f"no review {review_id}")
    return review


def reply(session: Session, user: User, review_id: int, text) -> Review:
    """The course's instructor (or an admin) answers publicly; a second reply replaces the first."""
    review = _review(session, review_id)
    course = session.get(Course, review.course_id)
    permissions.require_teacher(user, course, "only the course's instructor can reply to its reviews")
    body = parse_body(text)
    if not body:
        raise InvalidInput("a reply needs text")
    review.reply, review.reply_html, review.replied_at = body, render(body), utcnow()
    session.flush()
    return review


def vote_helpful(session: Session, user: User, review_id: int, helpful: bool = True) -> Review:
    """Mark (or unmark) a review helpful; once per user, never one's own."""
    review = _review(session, review_id)
    if review.user_id == user.id:
        raise Forbidden("you cannot vote on your own review")
    existing = session.scalars(select(ReviewVote).where(ReviewVote.review_id == review_id,
                                                        ReviewVote.user_id == user.id)).one_or_none()
    delta = 0
    if helpful and existing is None:
        try:
            with session.begin_nested():
                session.add(ReviewVote(review_id=review_id, user_id=user.id))
            delta = 1
        except IntegrityError:
            pass
    elif not helpful and existing is not None:
        session.delete(existing)
        delta = -1
    if delta:
        session.execute(update(Review).where(Review.id == review_id)
                        .values(helpful_count=Review.helpful_count + delta))
        session.flush()
        session.refresh(review)
    return review


def report(session: Session, user: User, review_id: int, reason) -> ReviewReport:
    review = _review(session, review_id)
    if review.user_id == user.id:
        raise Forbidden("you cannot report your own review")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("say why you report this review (reason)")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is limited to {MAX_REASON} characters")
    item = ReviewReport(review_id=review_id, user_id=user.id, reason=reason.strip(), status="open")
    try:
        with session.begin_nested():
            session.add(item)
    except IntegrityError:
        raise Conflict("you already reported this review") from None
    return item


def moderation_queue(session: Session, moderator: User, limit: int = 100) -> list[ReviewReport]:
    _require_admin(moderator)
    return list(session.scalars(
        select(ReviewReport).where(ReviewReport.status == "open")
        .options(selectinload(ReviewReport.review).selectinload(Review.user), selectinload(ReviewReport.user))
        .order_by(ReviewReport.id).limit(limit)))


def courses_of(session: Session, reports: list[ReviewReport]) -> dict[int, tuple[str, str]]:
    """Course id -> (slug, title) of the reported reviews' courses, for links from the queue."""
    ids = {r.review.course_id for r in reports}
    if not ids:
        return {}
    return {cid: (slug, title) for cid, slug, title in
            session.execute(select(Course.id, Course.slug, Course.title).where(Course.id.in_(ids)))}


def resolve_report(session: Session, moderator: User, report_id: int, action: str) -> ReviewReport:
    """``dismiss`` keeps the review; ``remove`` hides it (it leaves the aggregates) and closes
    every open report on it."""
    _require_admin(moderator)
    if action not in ("dismiss", "remove"):
        raise InvalidInput("action must be dismiss or remove")
    item = session.get(ReviewReport, report_id)
    if item is None:
        raise NotFound(f"no report {report_id}")
    if item.status != "open":
        raise Conflict(f"report {report_id} is already {item.status}")
    now = utcnow()
    if action == "remove":
        review = session.get(Review, item.review_id)
        if review.status == "visible":
            review.status = "hidden"
            session.flush()
            course_stats.shift_rating(session, review.course_id, remove=review.rating)
        for other in session.scalars(select(ReviewReport).where(ReviewReport.review_id == item.review_id,
                                                                ReviewReport.status == "open")):
            other.status, other.resolved_by_id, other.resolved_at = "removed", moderator.id, now
    else:
        item.status, item.resolved_by_id, item.resolved_at = "dismissed", moderator.id, now
    session.flush()
    audit.record(session, moderator, "review.remove" if action == "remove" else "review.keep", "review",
                 item.review_id, before={"report": report_id, "reason": item.reason},
                 after={"status": "hidden" if action == "remove" else "visible"},
                 summary=f"report {report_id}: review {'removed' if action == 'remove' else 'kept'}")
    return session.get(ReviewReport, report_id)


def _require_admin(user: User) -> None:
    permissions.require_admin(user, "moderating reviews needs the LMS admin role")


# --------------------------------------------------------------------------- reads
@dataclass(frozen=True)
class ReviewPage:
    reviews: list[Review]
    total: int
    voted: set[int]  # ids of the listed reviews the viewer marked helpful


def list_for_course(session: Session, course_id: int, *, viewer: User | None = None, sort: str = "helpful",
                    limit: int = 10, offset: int = 0, total: int | None = None) -> ReviewPage:
    """A page of visible reviews with authors, in three queries whatever the number of reviews.

    ``total`` comes from ``course_stats`` when the caller has it (no count over reviews)."""
    if sort not in PAGE_SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(PAGE_SORTS)}")
    if not 1 <= limit <= 50 or offset < 0 or offset > 100_000:
        raise InvalidInput("limit must be 1..50 and offset 0..100000")
    rows = list(session.scalars(
        select(Review).where(Review.course_id == course_id, Review.status == "visible")
        .options(selectinload(Review.user)).order_by(*PAGE_SORTS[sort]).limit(limit).offset(offset)))
    if total is None:
        stats = session.get(CourseStats, course_id)
        total = stats.rating_count if stats else 0
    voted: set[int] = set()
    if viewer is not None and rows:
        voted = set(session.scalars(select(ReviewVote.review_id).where(
            ReviewVote.user_id == viewer.id, ReviewVote.review_id.in_([r.id for r in rows]))))
    return ReviewPage(rows, total, voted)


def public(review: Review, voted: set[int] | None = None) -> dict:
    return {
        "id": review.id, "rating": review.rating, "text": review.body, "html": review.body_html,
        "author": review.user.display_name or review.user.hub_name if review.user else None,
        "helpful": review.helpful_count, "voted_helpful": review.id in (voted or ()),
        "created_at": review.created_at.isoformat(), "updated_at": review.updated_at.isoformat(),
        "reply": {"text": review.reply, "html": review.reply_html,
                  "at": review.replied_at.isoformat() if review.replied_at else None} if review.reply else None,
    }


def summary(stats: CourseStats | None) -> dict:
    if stats is None:
        return {"average": 0.0, "count": 0, "distribution": {str(n): 0 for n in range(5, 0, -1)}}
    return {"average": round(stats.rating_avg, 2), "count": stats.rating_count,
            "distribution": {str(n): c for n, c in stats.distribution.items()}}
