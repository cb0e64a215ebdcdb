"""PaymentIntents, Charges, Refunds and Disputes."""
from __future__ import annotations

from .cards import Outcome, card_error
from .errors import invalid, missing
from .params import meta
from .store import Store, random_part

DISPUTE_FEE = 1500


def stripe_fee(amount: int) -> int:
    """Stripe's US card pricing, 2.9% + 30c, so balance transactions show a realistic ``net``."""
    return round(amount * 0.029) + 30 if amount else 0


def create_payment_method(store: Store, details: dict, billing: dict, customer: str | None) -> dict:
    return store.put({"id": store.new_id("pm"), "object": "payment_method", "allow_redisplay": "unspecified",
                      "billing_details": billing, "created": store.now(), "customer": customer,
                      "livemode": False, "metadata": {}, **details})


def payment_intent(store: Store, amount: int, currency: str, customer: str | None, pm: dict, *,
                   metadata=None, description=None, transfer_group=None, application_fee_amount=None,
                   transfer_data=None, receipt_email=None, on_behalf_of=None) -> dict:
    id_ = store.new_id("pi")
    pi = store.put({
        "id": id_, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_details": {"tip": {}}, "amount_received": 0, "application": None,
        "application_fee_amount": application_fee_amount, "automatic_payment_methods": None,
        "canceled_at": None, "cancellation_reason": None, "capture_method": "automatic_async",
        "client_secret": f"{id_}_secret_{random_part(25)}", "confirmation_method": "automatic",
        "created": store.now(), "currency": currency, "customer": customer, "description": description,
        "last_payment_error": None, "latest_charge": None, "livemode": False, "metadata": meta(metadata),
        "next_action": None, "on_behalf_of": on_behalf_of, "payment_method": pm["id"],
        "payment_method_options": {}, "payment_method_types": [pm["type"]], "processing": None,
        "receipt_email": receipt_email, "review": None, "setup_future_usage": None, "shipping": None,
        "source": None, "statement_descriptor": None, "statement_descriptor_suffix": None,
        "status": "requires_payment_method", "transfer_data": transfer_data, "transfer_group": transfer_group})
    store.emit("payment_intent.created", pi)
    return pi


def attempt(store: Store, pi: dict, outcome: Outcome, pm: dict) -> dict:
    """Confirm ``pi`` with ``pm``: a Charge that succeeded, failed or is pending (async methods)."""
    status = {"succeeded": "succeeded", "declined": "failed"}.get(outcome.result, "pending")
    charge = store.put({
        "id": store.new_id("ch" if pm["type"] == "card" else "py"), "object": "charge", "amount": pi["amount"],
        "amount_captured": pi["amount"] if status != "failed" else 0, "amount_refunded": 0, "application": None,
        "application_fee": None, "application_fee_amount": pi["application_fee_amount"],
        "balance_transaction": None, "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "LMS TEST", "captured": status != "failed", "created": store.now(),
        "currency": pi["currency"], "customer": pi["customer"], "description": pi["description"],
        "disputed": False, "failure_balance_transaction": None,
        "failure_code": outcome.decline_code and outcome.code if status == "failed" else None,
        "failure_message": outcome.message if status == "failed" else None, "fraud_details": {},
        "livemode": False, "metadata": dict(pi["metadata"]), "on_behalf_of": pi["on_behalf_of"],
        "outcome": {"network_status": "declined_by_network" if status == "failed" else "approved_by_network",
                    "reason": outcome.decline_code if status == "failed" else None, "risk_level": "normal",
                    "risk_score": 20, "seller_message": "The bank did not return any further details with this decline."
                    if status == "failed" else "Payment complete.",
                    "type": "issuer_declined" if status == "failed" else "authorized"},
        "paid": status == "succeeded", "payment_intent": pi["id"], "payment_method": pm["id"],
        "payment_method_details": {"type": pm["type"], pm["type"]: pm[pm["type"]]},
        "receipt_email": pi["receipt_email"], "receipt_number": None,
        "receipt_url": f"{store.base_url}/receipts/{pi['id']}", "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False, "url": "/v1/refunds"},
        "review": None, "shipping": None, "source": None, "source_transfer": None,
        "statement_descriptor": None, "statement_descriptor_suffix": None, "status": status,
        "transfer": None, "transfer_data": pi["transfer_data"], "transfer_group": pi["transfer_group"],
        "_dispute_on_success": outcome.dispute})
    pi["latest_charge"] = charge["id"]
    if status == "failed":
        pi["last_payment_error"] = {"charge": charge["id"], "code": outcome.code, "decline_code": outcome.decline_code,
                                    "message": outcome.message, "payment_method": store.render(pm),
                                    "type": "card_error"}
        pi["status"] = "requires_payment_method"
        store.emit("charge.failed", charge)
        store.emit("payment_intent.payment_failed", pi)
    elif status == "pending":
        pi["status"] = "processing"
        store.emit("charge.pending", charge)
        store.emit("payment_intent.processing", pi)
    else:
        succeed(store, pi, charge)
    return charge


def succeed(store: Store, pi: dict, charge: dict) -> None:
    previous = {"status": charge["status"]} if charge["status"] == "pending" else None
    charge.update(status="succeeded", paid=True)
    txn = store.transaction(charge["amount"], charge["currency"], "charge", charge["id"], stripe_fee(charge["amount"]),
                            pi["description"])
    charge["balance_transaction"] = txn["id"]
    if pi["transfer_data"] and pi["transfer_data"].get("destination"):
        from .connect import destination_transfer
        destination_transfer(store, pi, charge)
    pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None)
    store.emit("charge.updated" if previous else "charge.succeeded", charge, previous)
    if previous:
        store.emit("charge.succeeded", charge)
    store.emit("payment_intent.succeeded", pi)
    if charge.pop("_dispute_on_success", False):
        store.scheduled.append({"at": store.now() + store.dispute_delay, "action": "dispute", "id": charge["id"]})


def fail_pending(store: Store, pi: dict, charge: dict, outcome: Outcome) -> None:
    charge.update(status="failed", paid=False, captured=False, failure_code=outcome.code,
                  failure_message=outcome.message)
    pi.update(status="requires_payment_method", last_payment_error={
        "charge": charge["id"], "code": outcome.code, "decline_code": outcome.decline_code,
        "message": outcome.message, "type": "card_error"})
    store.emit("charge.failed", charge)
    store.emit("payment_intent.payment_failed", pi)


def decline_error(outcome: Outcome, pi: dict | None, charge: dict | None) -> Exception:
    extra = {}
    if charge:
        extra["charge"] = charge["id"]
    return card_error(outcome.message, outcome.code, None, outcome.decline_code, extra)


# -- refunds ------------------------------------------------------------------------------------
def money(amount: int, currency: str) -> str:
    return f"{'$' if currency == 'usd' else currency.upper() + ' '}{amount / 100:.2f}"


def create_refund(store: Store, p: dict) -> dict:
    if p.get("charge") and p.get("payment_intent"):
        raise invalid("You may only specify one of these parameters: charge, payment_intent.", "charge")
    if p.get("payment_intent"):
        pi = store.get("payment_intent", p["payment_intent"], "payment_intent")
        if not pi["latest_charge"] or pi["status"] != "succeeded":
            raise invalid(f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                          "payment_intent", "charge_not_refundable" if pi["latest_charge"] else "payment_intent_unexpected_state")
        charge = store.get("charge", pi["latest_charge"])
    elif p.get("charge"):
        charge = store.get("charge", p["charge"], "charge")
    else:
        raise invalid("One of the following params should be provided for this request: payment_intent or charge.",
                      "charge", "parameter_missing")
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} cannot be refunded because its status is {charge['status']}.",
                      "charge", "charge_not_refundable")
    if charge["disputed"]:
        raise invalid(f"Charge {charge['id']} has been charged back; cannot issue a refund.", "charge", "charge_disputed")
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid(f"Charge {charge['id']} has already been refunded.", "charge", "charge_already_refunded")
    amount = p.get("amount", remaining)
    if amount is None:
        amount = remaining
    if amount <= 0:
        raise invalid("Invalid positive integer", "amount")
    if amount > remaining:
        raise invalid(f"Refund amount ({money(amount, charge['currency'])}) is greater than unrefunded amount "
                      f"on charge ({money(remaining, charge['currency'])})", "amount", "amount_too_large")
    txn = store.transaction(-amount, charge["currency"], "refund", "", 0)
    refund = store.put({
        "id": store.new_id("re"), "object": "refund", "amount": amount, "balance_transaction": txn["id"],
        "charge": charge["id"], "created": store.now(), "currency": charge["currency"],
        "destination_details": {"type": "card", "card": {"reference": None, "reference_status": "pending",
                                                         "reference_type": "acquirer_reference_number",
                                                         "type": "refund"}},
        "metadata": meta(p.get("metadata")), "payment_intent": charge["payment_intent"], "reason": p.get("reason"),
        "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded", "transfer_reversal": None})
    txn["source"] = refund["id"]
    if p.get("reverse_transfer") and charge.get("transfer"):
        from .connect import reverse_for_refund
        refund["transfer_reversal"] = reverse_for_refund(store, charge, amount)
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, store.render(refund))
    store.emit("refund.created", refund)
    store.emit("charge.refunded", charge, previous)
    return refund


# -- disputes --------------------------------------------------------------------------------------
def open_dispute(store: Store, charge: dict, reason: str = "fraudulent") -> dict:
    if charge["disputed"]:
        raise invalid(f"Charge {charge['id']} is already disputed.", "charge")
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} has not succeeded.", "charge")
    now = store.now()
    dispute = store.put({
        "id": store.new_id("du"), "object": "dispute", "amount": charge["amount"] - charge["amount_refunded"],
        "balance_transactions": [], "charge": charge["id"], "created": now, "currency": charge["currency"],
        "enhanced_eligibility_types": [], "evidence": {"access_activity_log": None, "customer_email_address": None,
                                                       "product_description": None, "uncategorized_text": None},
        "evidence_details": {"due_by": now + 7 * 86400, "enhanced_eligibility": {}, "has_evidence": False,
                             "past_due": False, "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {},
        "payment_intent": charge["payment_intent"], "payment_method_details": {"type": "card", "card": {
            "brand": charge["payment_method_details"].get("card", {}).get("brand", "visa"),
            "case_type": "chargeback", "network_reason_code": "10.4"}},
        "reason": reason, "status": "needs_response"})
    txn = store.transaction(-dispute["amount"], charge["currency"], "adjustment", dispute["id"], DISPUTE_FEE,
                            f"Chargeback withdrawal for {charge['id']}")
    dispute["balance_transactions"].append(store.render(txn))
    charge["disputed"] = True
    store.emit("charge.dispute.created", dispute)
    store.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def close_dispute(store: Store, dispute: dict, outcome: str) -> dict:
    if dispute["status"] in ("won", "lost"):
        raise invalid(f"This dispute is already closed ({dispute['status']}).", "dispute")
    previous = {"status": dispute["status"]}
    dispute["status"] = outcome
    if outcome == "won":
        txn = store.transaction(dispute["amount"], dispute["currency"], "adjustment", dispute["id"], 0,
                                f"Chargeback reversal for {dispute['charge']}")
        dispute["balance_transactions"].append(store.render(txn))
        store.emit("charge.dispute.funds_reinstated", dispute)
    store.emit("charge.dispute.closed", dispute, previous)
    return dispute


def update_dispute(store: Store, id_: str, p: dict) -> dict:
    """Stripe's documented test evidence: ``winning_evidence`` wins, ``losing_evidence`` loses."""
    dispute = store.get("dispute", id_)
    if dispute["status"] in ("won", "lost"):
        raise invalid("This dispute is already closed.", "evidence")
    for k, v in (p.get("evidence") or {}).items():
        dispute["evidence"][k] = v
    for k, v in (p.get("metadata") or {}).items():
        if v in ("", None):
            dispute["metadata"].pop(k, None)
        else:
            dispute["metadata"][k] = v
    if p.get("evidence"):
        dispute["evidence_details"]["has_evidence"] = True
    text = dispute["evidence"].get("uncategorized_text")
    if p.get("submit", True) and p.get("evidence"):
        dispute["evidence_details"]["submission_count"] += 1
        dispute["status"] = "under_review"
        store.emit("charge.dispute.updated", dispute, {"status": "needs_response"})
        if text in ("winning_evidence", "losing_evidence"):
            close_dispute(store, dispute, "won" if text == "winning_evidence" else "lost")
    return dispute


def required(p: dict, *names):
    for name in names:
        if p.get(name) in (None, ""):
            raise missing(name)
