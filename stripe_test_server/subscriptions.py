"""Subscriptions: started by Checkout, renewed when the test clock passes the period end, cancelled."""
from __future__ import annotations

import calendar
import copy
from datetime import datetime, timezone

from . import billing, charges
from .cards import CARDS, lookup
from .errors import invalid
from .params import meta
from .store import Store


def period_end(start: int, interval: str, count: int) -> int:
    d = datetime.fromtimestamp(start, timezone.utc)
    if interval in ("day", "week"):
        return start + count * (86400 if interval == "day" else 7 * 86400)
    months = count * (12 if interval == "year" else 1)
    y, m = divmod(d.month - 1 + months, 12)
    y, m = d.year + y, m + 1
    day = min(d.day, calendar.monthrange(y, m)[1])
    return int(d.replace(year=y, month=m, day=day).timestamp())


def _recurring_items(store: Store, session: dict, sd: dict) -> list[dict]:
    items = []
    for item in session["_line_items"]:
        price = store.objects[item["price"]]
        rates = item["tax_rates"] or sd.get("default_tax_rates") or []
        items.append({**item, "tax_rates": rates, "recurring": bool(price["recurring"])})
    return items


def start_from_checkout(store: Store, session: dict, customer: dict | None, pm: dict, outcome, computed: dict,
                        billing_details: dict) -> dict:
    if outcome.result == "declined":
        raise charges.card_error(outcome.message, outcome.code, None, outcome.decline_code)
    sd = session["_subscription_data"]
    now = store.now()
    items = _recurring_items(store, session, sd)
    first = next(store.objects[i["price"]]["recurring"] for i in items if i["recurring"])
    end = period_end(now, first["interval"], first["interval_count"])
    sub_id = store.new_id("sub")
    sub_items = []
    for item in items:
        if not item["recurring"]:
            continue
        sub_items.append({
            "id": store.new_id("si", 14), "object": "subscription_item", "billing_thresholds": None,
            "created": now, "current_period_end": end, "current_period_start": now, "discounts": [],
            "metadata": {}, "price": store.render(store.objects[item["price"]]), "quantity": item["quantity"],
            "subscription": sub_id, "tax_rates": [store.render(store.objects[r]) for r in item["tax_rates"]]})
    coupons = session["_coupons"]
    sub = store.put({
        "id": sub_id, "object": "subscription", "application": None, "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now, "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"}, "billing_thresholds": None, "cancel_at": None,
        "cancel_at_period_end": False, "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically", "created": now, "currency": session["currency"],
        "customer": customer["id"], "days_until_due": None, "default_payment_method": pm["id"],
        "default_source": None, "default_tax_rates": [], "description": sd.get("description"),
        "discounts": [f"di_{c}" for c in coupons], "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": sub_items, "has_more": False, "total_count": len(sub_items),
                  "url": f"/v1/subscription_items?subscription={sub_id}"},
        "latest_invoice": None, "livemode": False, "metadata": meta(sd.get("metadata")),
        "next_pending_invoice_item_invoice": None, "on_behalf_of": None, "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
        "schedule": None, "start_date": now, "status": "incomplete", "test_clock": None, "transfer_data": None,
        "trial_end": None, "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
        "_items": [{"price": i["price"], "quantity": i["quantity"], "tax_rates": i["tax_rates"]}
                   for i in items if i["recurring"]],
        "_coupons": coupons, "_invoices": 0, "_card": None})
    sub["_card"] = _card_number(pm)
    computed = billing.compute_lines(store, items, coupons)
    invoice = billing.create_invoice(store, customer, session["currency"], computed, "subscription_create",
                                     subscription=sub, period=(now, now))
    sub["_invoices"] = 1
    sub["latest_invoice"] = invoice["id"]
    pi = charges.payment_intent(store, invoice["total"], session["currency"], customer["id"], pm,
                                description="Subscription creation")
    charges.attempt(store, pi, outcome, pm)
    session.update(status="complete", customer=customer["id"], subscription=sub_id, invoice=invoice["id"],
                   customer_details={"address": billing_details["address"], "email": billing_details["email"],
                                     "name": billing_details["name"], "phone": None, "tax_exempt": "none",
                                     "tax_ids": []})
    if outcome.result == "succeeded":
        sub["status"] = "active"
        store.emit("customer.subscription.created", sub)
        billing.invoice_paid(store, invoice, pi)
        session["payment_status"] = "paid"
    else:
        store.emit("customer.subscription.created", sub)
        store.scheduled.append({"at": store.now() + store.async_delay, "action": "settle", "id": pi["id"],
                                "session": session["id"], "ok": outcome.result == "async_succeeded",
                                "subscription": sub_id, "card": sub["_card"]})
    store.emit("checkout.session.completed", session)
    return session


def _card_number(pm: dict) -> str | None:
    """The test card behind a payment method (the number itself is not kept on real objects)."""
    if pm["type"] != "card":
        return None
    last4 = pm["card"]["last4"]
    matches = [n for n in CARDS if n.endswith(last4) and CARDS[n].brand == pm["card"]["brand"]]
    return matches[0] if matches else "4242424242424242"


def settled(store: Store, sub: dict, ok: bool) -> None:
    previous = {"status": sub["status"]}
    sub["status"] = "active" if ok else "incomplete_expired"
    if not ok:
        sub["ended_at"] = store.now()
    store.emit("customer.subscription.updated", sub, previous)


def renew(store: Store, sub: dict) -> None:
    """The period ended: cancel if asked to, otherwise invoice the next period and charge the saved card."""
    now = sub["items"]["data"][0]["current_period_end"]
    if sub["cancel_at_period_end"] or (sub["cancel_at"] and sub["cancel_at"] <= now):
        end_subscription(store, sub, "cancellation_requested", at=now)
        return
    previous_items = copy.deepcopy(store.render(sub)["items"])
    previous_invoice = sub["latest_invoice"]
    price = store.objects[sub["_items"][0]["price"]]
    end = period_end(now, price["recurring"]["interval"], price["recurring"]["interval_count"])
    for si in sub["items"]["data"]:
        si.update(current_period_start=now, current_period_end=end)
    sub["_invoices"] += 1
    months = (datetime.fromtimestamp(now, timezone.utc).year - datetime.fromtimestamp(sub["start_date"], timezone.utc).year) * 12 + (
        datetime.fromtimestamp(now, timezone.utc).month - datetime.fromtimestamp(sub["start_date"], timezone.utc).month)
    coupons = [c for c in sub["_coupons"] if billing.coupon_applies(store.objects[c], sub["_invoices"], months)]
    if not coupons:
        sub["discounts"] = []
    customer = store.objects[sub["customer"]]
    computed = billing.compute_lines(store, sub["_items"], coupons)
    invoice = billing.create_invoice(store, customer, sub["currency"], computed, "subscription_cycle",
                                     subscription=sub, period=(now, end))
    sub["latest_invoice"] = invoice["id"]
    pm = store.objects[sub["default_payment_method"]]
    pi = charges.payment_intent(store, invoice["total"], sub["currency"], customer["id"], pm,
                                description="Subscription update")
    number = sub["_card"] or "4242424242424242"
    outcome = CARDS.get(number, CARDS["4242424242424242"])
    if outcome.result.startswith("async"):
        outcome = CARDS["4242424242424242"]
    charges.attempt(store, pi, outcome, pm)
    previous = {"items": previous_items, "latest_invoice": previous_invoice}
    if outcome.result == "succeeded":
        billing.invoice_paid(store, invoice, pi)
        if sub["status"] == "past_due":
            previous["status"] = "past_due"
            sub["status"] = "active"
    else:
        billing.invoice_failed(store, invoice, pi)
        if sub["status"] != "past_due":
            previous["status"] = sub["status"]
            sub["status"] = "past_due"
    store.emit("customer.subscription.updated", sub, previous)


def end_subscription(store: Store, sub: dict, reason: str, at: int | None = None) -> dict:
    now = at or store.now()
    sub.update(status="canceled", ended_at=now, canceled_at=sub["canceled_at"] or now)
    sub["cancellation_details"]["reason"] = reason
    store.emit("customer.subscription.deleted", sub)
    return sub


def update(store: Store, id_: str, p: dict) -> dict:
    sub = store.get("subscription", id_)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.", "subscription")
    previous = {}
    if "cancel_at_period_end" in p and p["cancel_at_period_end"] is not None and \
            p["cancel_at_period_end"] != sub["cancel_at_period_end"]:
        previous.update(cancel_at_period_end=sub["cancel_at_period_end"], cancel_at=sub["cancel_at"],
                        canceled_at=sub["canceled_at"])
        if p["cancel_at_period_end"]:
            sub.update(cancel_at_period_end=True, cancel_at=sub["items"]["data"][0]["current_period_end"],
                       canceled_at=store.now())
        else:
            sub.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
    for key in ("comment", "feedback"):
        if key in (p.get("cancellation_details") or {}):
            previous.setdefault("cancellation_details", dict(sub["cancellation_details"]))
            sub["cancellation_details"][key] = p["cancellation_details"][key]
    if "description" in p:
        previous["description"] = sub["description"]
        sub["description"] = p["description"]
    if "metadata" in p:
        previous["metadata"] = dict(sub["metadata"])
        for k, v in p["metadata"].items():
            if v in ("", None):
                sub["metadata"].pop(k, None)
            else:
                sub["metadata"][k] = v
    if previous:
        store.emit("customer.subscription.updated", sub, previous)
    return sub


def cancel(store: Store, id_: str, p: dict) -> dict:
    sub = store.get("subscription", id_)
    if sub["status"] == "canceled":
        raise invalid(f"No such subscription: '{id_}'", "id", "resource_missing", status=404)
    for key in ("comment", "feedback"):
        if key in (p.get("cancellation_details") or {}):
            sub["cancellation_details"][key] = p["cancellation_details"][key]
    return end_subscription(store, sub, "cancellation_requested")


def set_card(store: Store, sub: dict, number: str) -> dict:
    """Test control: the card the next renewals are charged to (e.g. 4000000000000002 to make them fail)."""
    number = number.replace(" ", "")
    lookup(number, 12, 2099, "123")  # rejects numbers that are not test cards
    sub["_card"] = number
    return sub
