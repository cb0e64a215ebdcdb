"""Refund requests: a student asks inside the policy, an instructor of the course or an admin
approves, Stripe refunds, and access goes away (``fulfillment.take_back``)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ... import permissions
from ...errors import Conflict, Forbidden, InvalidInput, NotFound
from ...models import Course, Instructor, Lesson, LessonProgress, User
from ...models.base import utcnow
from ...models.commerce import Order, OrderLine, RefundRequest
from .. import audit, notifications, platform_settings
from . import access, fulfillment
from .policy import CommercePolicy
from .stripe_client import call


def progress_percent(db: Session, order: Order) -> int:
    """How much of what the order bought the buyer has gone through (lessons opened / lessons)."""
    course_ids = access.courses_of(db, order)
    if not course_ids:
        return 0
    total = db.scalar(select(func.count(Lesson.id)).where(Lesson.course_id.in_(course_ids))) or 0
    started = db.scalar(select(func.count(LessonProgress.id)).join(Lesson, Lesson.id == LessonProgress.lesson_id)
                        .where(LessonProgress.user_id == order.user_id, Lesson.course_id.in_(course_ids))) or 0
    return round(100 * started / total) if total else 0


def eligibility(db: Session, policy: CommercePolicy, order: Order, now: datetime | None = None) -> str | None:
    """Why ``order`` cannot be refunded on request, or ``None`` when it can."""
    now = now or utcnow()
    if order.status != "paid":
        return f"order {order.id} is {order.status}"
    if order.kind == "subscription":
        return "a subscription is cancelled (it runs to the end of the paid period), not refunded"
    paid_at = order.paid_at if order.paid_at.tzinfo else order.paid_at.replace(tzinfo=timezone.utc)
    window = platform_settings.refund_window_days(db, policy.refund_window_days)  # the admin's setting
    if now - paid_at > timedelta(days=window):
        return f"refunds can be asked within {window} days of purchase"
    progress = progress_percent(db, order)
    if progress >= policy.refund_max_progress_percent:
        return f"you completed {progress}% of the course; refunds stop at {policy.refund_max_progress_percent}%"
    return None


def request_refund(db: Session, policy: CommercePolicy, user: User, order_id: int, reason: str,
                   now: datetime | None = None) -> RefundRequest:
    order = db.get(Order, order_id)
    if order is None or order.user_id != user.id:
        raise NotFound(f"no order {order_id}")
    if len(reason or "") > 2000:
        raise InvalidInput("the reason is limited to 2000 characters")
    open_request = db.scalars(select(RefundRequest).where(RefundRequest.order_id == order.id,
                                                          RefundRequest.status == "pending")).first()
    if open_request is not None:
        raise Conflict("a refund request for this order is already waiting for a decision")
    why_not = eligibility(db, policy, order, now)
    if why_not:
        raise InvalidInput(why_not)
    request = RefundRequest(order_id=order.id, user_id=user.id, reason=(reason or "").strip(),
                            progress_percent=progress_percent(db, order))
    db.add(request)
    db.flush()
    return request


def anonymise_requests_of(db: Session, user_id: int) -> None:
    """Erase the free-text reason of a person's refund requests; the requests stay as the
    refund history of orders that are kept."""
    db.execute(update(RefundRequest).where(RefundRequest.user_id == user_id).values(reason="")
               .execution_options(synchronize_session=False))


def can_decide(db: Session, user: User, order: Order) -> bool:
    if permissions.is_admin(user):
        return True
    instructor_ids = set(db.scalars(select(OrderLine.instructor_id).where(OrderLine.order_id == order.id)))
    mine = db.scalars(select(Instructor.id).where(Instructor.user_id == user.id)).first()
    return mine is not None and mine in instructor_ids


def pending_for(db: Session, user: User) -> list[RefundRequest]:
    """Requests ``user`` may decide: all for admins, their courses' for instructors."""
    query = select(RefundRequest).where(RefundRequest.status == "pending").order_by(RefundRequest.created_at)
    if not permissions.is_admin(user):
        mine = db.scalars(select(Instructor.id).where(Instructor.user_id == user.id)).first()
        if mine is None:
            return []
        query = query.where(RefundRequest.order_id.in_(
            select(OrderLine.order_id).where(OrderLine.instructor_id == mine)))
    return list(db.scalars(query))


def decide(db: Session, stripe, policy: CommercePolicy, decider: User, request_id: int, approve: bool) -> RefundRequest:
    request = db.get(RefundRequest, request_id)
    if request is None:
        raise NotFound(f"no refund request {request_id}")
    order = db.get(Order, request.order_id)
    if not can_decide(db, decider, order):
        raise Forbidden("only an instructor of the course or an admin decides refunds")
    if request.status != "pending":
        raise Conflict(f"refund request {request_id} is already {request.status}")
    request.decided_by, request.decided_at = decider.id, utcnow()
    if not approve:
        request.status = "rejected"
        db.flush()
        _audit_decision(db, decider, request, order)
        _tell_buyer(db, decider, request, order)
        return request
    if order.status != "paid" or not order.stripe_payment_intent_id:
        raise Conflict(f"order {order.id} is {order.status}: nothing to refund")
    refund = call(stripe.v1.refunds.create, {"payment_intent": order.stripe_payment_intent_id,
                                             "reason": "requested_by_customer",
                                             "metadata": {"order_id": str(order.id), "refund_request": str(request.id)}},
                  {"idempotency_key": f"lms-refund-request-{request.id}"})
    request.status = "refunded" if refund.get("status") in ("succeeded", "pending") else "approved"
    request.stripe_refund_id = refund["id"]
    if refund.get("status") == "succeeded":
        fulfillment.take_back(db, stripe, policy, order, "refunded", "refund approved")
    db.flush()
    _audit_decision(db, decider, request, order)
    _tell_buyer(db, decider, request, order)
    return request


def _tell_buyer(db: Session, decider: User, request: RefundRequest, order: Order) -> None:
    titles = ", ".join(course_titles(db, order)) or f"order {order.id}"
    approved = request.status != "rejected"
    notifications.notify(
        db, user_ids=[order.user_id], kind="refund_decision", actor_id=decider.id,
        title=f"Your refund for {titles} is approved" if approved else f"Your refund request for {titles} was declined",
        body="The money goes back to your card within a few days." if approved else "",
        url="purchases", dedupe_key=f"refund:{request.id}:decision")


def _audit_decision(db: Session, decider: User, request: RefundRequest, order: Order) -> None:
    approved = request.status != "rejected"
    audit.record(db, decider, "refund.approve" if approved else "refund.reject", "refund_request", request.id,
                 before={"status": "pending"},
                 after={"status": request.status, "order": order.id, "amount_cents": order.total_cents,
                        "currency": order.currency},
                 summary=f"refund of order {order.id} {'approved' if approved else 'rejected'}")


def course_titles(db: Session, order: Order) -> list[str]:
    ids = access.courses_of(db, order)
    return list(db.scalars(select(Course.title).where(Course.id.in_(ids)))) if ids else []
