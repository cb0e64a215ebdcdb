"""The Stripe webhook: verify, record the event id once, re-fetch, act.

The event body is only trusted for its type and the id of the object it is about; what to do
is decided from the object Stripe returns now (``fulfillment``). A failure to reach Stripe
leaves the event unprocessed and answers 503 so Stripe delivers it again.
"""
from __future__ import annotations

import json
import logging

import stripe as stripe_sdk
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...errors import InvalidInput
from ...models.base import utcnow
from ...models.commerce import StripeEvent
from . import fulfillment
from .policy import CommercePolicy

log = logging.getLogger("lms.payments")
MAX_BODY = 256 * 1024
TOLERANCE_SECONDS = 300


def verify(payload: bytes, signature: str | None, secret: str, tolerance: int = TOLERANCE_SECONDS) -> dict:
    """The event, if ``payload`` carries a valid ``Stripe-Signature`` made within ``tolerance`` seconds."""
    if not secret:
        raise InvalidInput("the webhook secret is not configured")
    if len(payload) > MAX_BODY:
        raise InvalidInput("webhook body too large")
    if not signature:
        raise InvalidInput("missing Stripe-Signature header")
    try:
        stripe_sdk.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance)
        event = json.loads(payload)
    except stripe_sdk.SignatureVerificationError as exc:
        raise InvalidInput(f"bad webhook signature: {exc.user_message or exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("webhook body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidInput("webhook body is not a Stripe event")
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        raise InvalidInput("webhook event has no object")
    return event


def handle(db: Session, stripe, policy: CommercePolicy, event: dict) -> str:
    """Act on a verified event once. Returns 'processed', 'duplicate' or 'ignored'."""
    obj = event["data"]["object"]
    obj_id = str(obj.get("id", ""))[:255]
    row = db.get(StripeEvent, event["id"][:255])
    if row is not None and row.processed_at is not None:
        return "duplicate"
    if row is None:
        try:
            with db.begin_nested():
                row = StripeEvent(id=event["id"][:255], type=event["type"][:100], object_id=obj_id)
                db.add(row)
        except IntegrityError:  # the same event delivered concurrently: the other delivery acts
            return "duplicate"
    row.attempts = (row.attempts or 0) + 1
    outcome = dispatch(db, stripe, policy, event["type"], obj_id)
    row.processed_at = utcnow()
    db.flush()
    return outcome


def dispatch(db: Session, stripe, policy: CommercePolicy, kind: str, obj_id: str) -> str:
    match kind:
        case ("checkout.session.completed" | "checkout.session.async_payment_succeeded"
              | "checkout.session.expired"):
            found = fulfillment.sync_session(db, stripe, policy, obj_id)
        case "checkout.session.async_payment_failed":
            found = fulfillment.mark_async_failed(db, stripe, policy, obj_id)
        case "charge.refunded" | "charge.refund.updated" | "charge.succeeded" | "charge.dispute.funds_withdrawn":
            found = fulfillment.sync_charge(db, stripe, policy, obj_id) if obj_id.startswith(("ch_", "py_")) else None
        case "refund.created" | "refund.updated":
            refund = fulfillment.lookup(stripe.v1.refunds.retrieve, obj_id)
            found = fulfillment.sync_charge(db, stripe, policy, fulfillment._id(refund.get("charge"))) if refund else None
        case "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed":
            found = fulfillment.sync_dispute(db, stripe, policy, obj_id)
        case "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted":
            found = fulfillment.sync_subscription(db, stripe, policy, obj_id)
        case "invoice.paid" | "invoice.payment_succeeded":
            found = fulfillment.sync_invoice(db, stripe, policy, obj_id)
        case _:
            return "ignored"
    return "processed" if found is not None else "ignored"
