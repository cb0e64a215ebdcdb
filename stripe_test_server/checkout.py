"""Checkout Sessions: create, totals, payment from the hosted page, expiry."""
from __future__ import annotations

import time

from . import billing, charges, subscriptions
from .cards import lookup
from .catalog import create_customer, create_price, currency as check_currency
from .errors import invalid, missing
from .params import meta
from .store import Store, random_part

SESSION_TTL = 24 * 3600
EXPIRY_LEEWAY = 60


def create_session(store: Store, p: dict) -> dict:
    mode = p.get("mode")
    if not mode:
        raise missing("mode")
    if mode == "setup":
        raise invalid("The Stripe test server does not implement `setup` mode.", "mode")
    if not p.get("success_url"):
        raise missing("success_url")
    if p.get("customer") and p.get("customer_email"):
        raise invalid("You may only specify one of these parameters: customer, customer_email.", "customer")
    customer = store.get("customer", p["customer"], "customer") if p.get("customer") else None
    if not p.get("line_items"):
        raise missing("line_items")
    items, currencies = [], set()
    for i, li in enumerate(p["line_items"]):
        param = f"line_items[{i}]"
        if li.get("price") and li.get("price_data"):
            raise invalid("You may only specify one of these parameters: price, price_data.", f"{param}[price]")
        if li.get("price"):
            price = store.get("price", li["price"], f"{param}[price]")
            if not price["active"]:
                raise invalid(f"The price specified is inactive. This field only accepts active prices.", f"{param}[price]")
        elif li.get("price_data"):
            price = create_price(store, {**li["price_data"], "active": False}, f"{param}[price_data]")
        else:
            raise invalid("You must specify either `price` or `price_data` in each line item.", param)
        quantity = li.get("quantity")
        if quantity is None:
            raise missing(f"{param}[quantity]")
        if quantity < 1:
            raise invalid("Quantity must be at least 1.", f"{param}[quantity]")
        for j, rate_id in enumerate(li.get("tax_rates") or []):
            rate = store.get("tax_rate", rate_id, f"{param}[tax_rates][{j}]")
            if not rate["active"]:
                raise invalid(f"Tax rate {rate_id} is inactive.", f"{param}[tax_rates][{j}]")
        currencies.add(price["currency"])
        items.append({"id": store.new_id("li"), "price": price["id"], "quantity": quantity,
                      "tax_rates": li.get("tax_rates") or [], "metadata": meta(li.get("metadata"))})
    recurring = [store.objects[it["price"]]["recurring"] for it in items]
    if mode == "payment" and any(recurring):
        raise invalid("You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                      "mode or use only one-time prices.", "line_items")
    if mode == "subscription" and not any(recurring):
        raise invalid("You must provide at least one recurring price in `subscription` mode when using prices.",
                      "line_items")
    if len(currencies) > 1:
        raise invalid("All prices on a Checkout Session must have the same currency.", "line_items")
    currency = currencies.pop()
    if p.get("currency") and check_currency(p["currency"]) != currency:
        raise invalid("The currency must match the currency of the prices.", "currency")
    coupons = []
    for i, d in enumerate(p.get("discounts") or []):
        if d.get("promotion_code"):
            raise invalid("The Stripe test server implements `discounts[][coupon]` only.", f"discounts[{i}][promotion_code]")
        if not d.get("coupon"):
            raise missing(f"discounts[{i}][coupon]")
        coupon = store.get("coupon", d["coupon"], f"discounts[{i}][coupon]")
        if coupon["amount_off"] is not None and coupon["currency"] != currency:
            raise invalid(f"The coupon {coupon['id']} is in {coupon['currency']} but the session is in {currency}.",
                          f"discounts[{i}][coupon]")
        coupons.append(coupon["id"])
    if len(coupons) > 1:
        raise invalid("You may only specify one discount.", "discounts")
    if coupons and p.get("allow_promotion_codes"):
        raise invalid("You may only specify one of these parameters: allow_promotion_codes, discounts.", "discounts")
    pid = p.get("payment_intent_data") or {}
    if pid and mode != "payment":
        raise invalid("You can only specify `payment_intent_data` in `payment` mode.", "payment_intent_data")
    if pid.get("transfer_data", {}).get("destination"):
        store.get("account", pid["transfer_data"]["destination"], "payment_intent_data[transfer_data][destination]")
    if p.get("invoice_creation") and mode != "payment":
        raise invalid("You can only specify `invoice_creation` in `payment` mode.", "invoice_creation")
    sd = p.get("subscription_data") or {}
    if sd and mode != "subscription":
        raise invalid("You can only specify `subscription_data` in `subscription` mode.", "subscription_data")
    for j, rate_id in enumerate(sd.get("default_tax_rates") or []):
        store.get("tax_rate", rate_id, f"subscription_data[default_tax_rates][{j}]")
    allowed = p.get("allowed_payment_method_types")
    pm_types = allowed or ["card"]
    for i, t in enumerate(pm_types):
        if t not in ("card", "sepa_debit"):
            raise invalid(f"The payment method type `{t}` is not supported by the Stripe test server.",
                          f"allowed_payment_method_types[{i}]")
    if "sepa_debit" in pm_types and currency != "eur":
        raise invalid("The payment method `sepa_debit` requires currency `eur`.", "allowed_payment_method_types")
    now = store.now()
    # the client computes expires_at from its wall clock; the test clock has moved the server's
    # world forward by clock_offset, so the session's deadline moves with it
    expires_at = p["expires_at"] + store.clock_offset if p.get("expires_at") else now + SESSION_TTL
    # 30 minutes at least, less a minute for the client's clock and the request's way here
    # (a client asking for exactly 30 minutes must not fail when a second ticks in between)
    if not now + 1800 - EXPIRY_LEEWAY <= expires_at <= now + SESSION_TTL:
        raise invalid("The `expires_at` timestamp must be between 30 minutes and 24 hours from now.", "expires_at")
    id_ = f"cs_test_{random_part(58)}"
    computed = billing.compute_lines(store, items, coupons)
    invoice_creation = None
    if mode == "payment":
        ic = p.get("invoice_creation") or {}
        data = ic.get("invoice_data") or {}
        invoice_creation = {"enabled": bool(ic.get("enabled")), "invoice_data": {
            "account_tax_ids": None, "custom_fields": None, "description": data.get("description"),
            "footer": data.get("footer"), "issuer": None, "metadata": meta(data.get("metadata")),
            "rendering_options": None}}
    session = store.put({
        "id": id_, "object": "checkout.session", "adaptive_pricing": {"enabled": False}, "after_expiration": None,
        "allow_promotion_codes": p.get("allow_promotion_codes"), "allowed_payment_method_types": allowed,
        "amount_subtotal": computed["subtotal"],
        "amount_total": computed["total"], "automatic_tax": {"enabled": False, "liability": None, "provider": None,
                                                             "status": None},
        "billing_address_collection": p.get("billing_address_collection"), "cancel_url": p.get("cancel_url"),
        "client_reference_id": p.get("client_reference_id"), "client_secret": None, "collected_information": None,
        "consent": None, "consent_collection": None, "created": now, "currency": currency,
        "custom_fields": [], "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                                             "terms_of_service_acceptance": None},
        "customer": customer["id"] if customer else None,
        "customer_creation": None if customer else (p.get("customer_creation") or (
            "always" if mode == "subscription" else "if_required")),
        "customer_details": None, "customer_email": p.get("customer_email"),
        "discounts": [{"coupon": c, "promotion_code": None} for c in coupons], "expires_at": expires_at,
        "invoice": None, "invoice_creation": invoice_creation, "livemode": False, "locale": p.get("locale"),
        "metadata": meta(p.get("metadata")), "mode": mode, "payment_intent": None, "payment_link": None,
        "payment_method_collection": "always", "payment_method_options": {}, "payment_method_types": pm_types,
        "payment_status": "unpaid", "phone_number_collection": {"enabled": False}, "recovered_from": None,
        "saved_payment_method_options": None, "setup_intent": None, "shipping_address_collection": None,
        "shipping_cost": None, "shipping_options": [], "status": "open", "submit_type": p.get("submit_type"),
        "subscription": None, "success_url": p["success_url"],
        "total_details": {"amount_discount": computed["discount"], "amount_shipping": 0,
                          "amount_tax": computed["tax"]},
        "ui_mode": "hosted", "url": f"{store.base_url}/checkout/{id_}",
        "_line_items": items, "_coupons": coupons, "_payment_intent_data": pid, "_subscription_data": sd})
    return session


def line_items(store: Store, session: dict) -> list[dict]:
    computed = billing.compute_lines(store, session["_line_items"], session["_coupons"])
    out = []
    for item, line in zip(session["_line_items"], computed["lines"]):
        product = store.objects.get(line["price"]["product"], {})
        out.append({
            "id": item["id"], "object": "item", "adjustable_quantity": None,
            "amount_discount": line["discount"], "amount_subtotal": line["subtotal"], "amount_tax": line["tax"],
            "amount_total": line["total"], "currency": session["currency"], "description": product.get("name"),
            "discounts": [{"amount": a, "discount": {"id": f"di_{c}", "object": "discount",
                                                     "coupon": store.render(store.objects[c]),
                                                     "source": {"coupon": c, "type": "coupon"}}}
                          for c, a in line["discounts"]],
            "metadata": item.get("metadata", {}), "price": store.render(line["price"]), "quantity": line["quantity"],
            "taxes": [{"amount": t["amount"], "rate": store.render(store.objects[t["rate"]]),
                       "taxability_reason": None, "taxable_amount": t["taxable_amount"]} for t in line["taxes"]]})
    return out


def render_session(store: Store, session: dict, expand=()) -> dict:
    expand = list(expand or ())
    nested = [e[len("line_items."):] for e in expand if e.startswith("line_items.")]
    out = store.render(session, [e for e in expand if e != "line_items" and not e.startswith("line_items.")])
    if "line_items" in expand or nested:
        items = store.list_object(line_items(store, session), f"/v1/checkout/sessions/{session['id']}/line_items")
        out["line_items"] = store.render(items, nested)
    return out


def expire_session(store: Store, session: dict) -> dict:
    if session["status"] != "open":
        raise invalid(f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session "
                      f"has a status of \"{session['status']}\".", "session", "checkout_session_expired"
                      if session["status"] == "expired" else None)
    session["status"] = "expired"
    store.emit("checkout.session.expired", session)
    return session


def pay(store: Store, session: dict, *, card=None, exp_month=None, exp_year=None, cvc=None, iban=None,
        email=None, name=None, country=None) -> dict:
    """What pressing "Pay" on the hosted page does. Raises a 402 ``card_error`` on declines."""
    if session["status"] != "open":
        raise invalid(f"This Checkout Session is no longer active (status: {session['status']}).", "session",
                      "checkout_session_expired" if session["status"] == "expired" else "checkout_session_completed")
    email = email or session["customer_email"] or (
        store.objects[session["customer"]]["email"] if session["customer"] else None)
    if not email:
        raise invalid("Your email address is required.", "email")
    t = time.gmtime(store.now())
    outcome, details = lookup(card, exp_month, exp_year, cvc, iban, t.tm_year, t.tm_mon,
                              allow_sepa="sepa_debit" in session["payment_method_types"])
    computed = billing.compute_lines(store, session["_line_items"], session["_coupons"])
    address = {"city": None, "country": (country or "US").upper(), "line1": None, "line2": None,
               "postal_code": None, "state": None}
    billing_details = {"address": address, "email": email, "name": name, "phone": None, "tax_id": None}
    customer = store.objects[session["customer"]] if session["customer"] else None
    if customer is None and outcome.result != "declined" and (
            session["customer_creation"] == "always" or session["mode"] == "subscription"
            or (session["invoice_creation"] or {}).get("enabled")):
        customer = create_customer(store, {"email": email, "name": name, "address": address})
    pm = charges.create_payment_method(store, details, billing_details, customer["id"] if customer else None)
    if session["mode"] == "subscription":
        return subscriptions.start_from_checkout(store, session, customer, pm, outcome, computed, billing_details)
    pid = session["_payment_intent_data"]
    pi = store.objects.get(session["payment_intent"]) or charges.payment_intent(
        store, computed["total"], session["currency"], customer["id"] if customer else None, pm,
        metadata=pid.get("metadata"), description=pid.get("description"),
        transfer_group=pid.get("transfer_group"), application_fee_amount=pid.get("application_fee_amount"),
        transfer_data=pid.get("transfer_data"), receipt_email=pid.get("receipt_email"),
        on_behalf_of=pid.get("on_behalf_of"))
    pi.update(payment_method=pm["id"], amount=computed["total"], customer=customer["id"] if customer else None)
    session["payment_intent"] = pi["id"]
    charge = charges.attempt(store, pi, outcome, pm)
    if outcome.result == "declined":
        raise charges.decline_error(outcome, pi, charge)
    session.update(status="complete", customer=customer["id"] if customer else None,
                   customer_details={"address": address, "email": email, "name": name, "phone": None,
                                     "tax_exempt": "none", "tax_ids": []})
    if (session["invoice_creation"] or {}).get("enabled"):
        data = session["invoice_creation"]["invoice_data"]
        invoice = billing.create_invoice(store, customer, session["currency"], computed, "manual",
                                         description=data["description"], metadata=data["metadata"],
                                         footer=data["footer"])
        session["invoice"] = invoice["id"]
        if outcome.result == "succeeded":
            billing.invoice_paid(store, invoice, pi)
    if outcome.result == "succeeded":
        session["payment_status"] = "paid"
    else:
        store.scheduled.append({"at": store.now() + store.async_delay, "action": "settle", "id": pi["id"],
                                "session": session["id"], "ok": outcome.result == "async_succeeded",
                                "card": card, "iban": iban})
    store.emit("checkout.session.completed", session)
    return session


def settle(store: Store, task: dict) -> None:
    """An async payment (our delayed test cards, SEPA test IBANs) finishes."""
    from .cards import CARDS, IBANS

    pi = store.objects[task["id"]]
    charge = store.objects[pi["latest_charge"]]
    session = store.objects.get(task.get("session"))
    outcome = IBANS.get((task.get("iban") or "").replace(" ", "").upper()) or CARDS.get(
        (task.get("card") or "").replace(" ", ""))
    if task["ok"]:
        charges.succeed(store, pi, charge)
    else:
        charges.fail_pending(store, pi, charge, outcome)
    invoice = store.objects.get(session.get("invoice")) if session else None
    if invoice is None and task.get("invoice"):
        invoice = store.objects[task["invoice"]]
    if invoice:
        (billing.invoice_paid if task["ok"] else billing.invoice_failed)(store, invoice, pi)
    if task.get("subscription"):
        subscriptions.settled(store, store.objects[task["subscription"]], task["ok"])
    if session:
        if task["ok"]:
            session["payment_status"] = "paid"
        store.emit("checkout.session.async_payment_succeeded" if task["ok"]
                   else "checkout.session.async_payment_failed", session)
