"""Money arithmetic shared by Checkout and invoices: discounts and tax rates per line."""
from __future__ import annotations

from .store import Store


def coupon_applies(coupon: dict, invoice_number: int, months_elapsed: int) -> bool:
    """Whether a coupon still discounts the ``invoice_number``-th invoice of a subscription (1-based)."""
    if coupon["duration"] == "forever":
        return True
    if coupon["duration"] == "once":
        return invoice_number == 1
    return months_elapsed < (coupon["duration_in_months"] or 0)


def compute_lines(store: Store, items: list[dict], coupons: list[str]) -> dict:
    """``items``: ``{"price", "quantity", "tax_rates"}`` -> amounts per line and totals.

    Discounts are shared out over lines in proportion to their subtotal; exclusive tax rates add
    to the discounted amount, inclusive ones are carved out of it.
    """
    lines = []
    for item in items:
        price = store.objects[item["price"]]
        rates = list(item.get("tax_rates") or [])
        lines.append({"price": price, "quantity": item["quantity"], "subtotal": price["unit_amount"] * item["quantity"],
                      "rates": rates, "discounts": []})
    subtotal = sum(line["subtotal"] for line in lines)
    for coupon_id in coupons:
        coupon = store.objects[coupon_id]
        base = sum(line["subtotal"] - sum(a for _, a in line["discounts"]) for line in lines)
        off = (round(base * coupon["percent_off"] / 100) if coupon["percent_off"] is not None
               else min(coupon["amount_off"], base))
        left = off
        for i, line in enumerate(lines):
            line_base = line["subtotal"] - sum(a for _, a in line["discounts"])
            share = left if i == len(lines) - 1 else (round(off * line_base / base) if base else 0)
            share = min(share, line_base, left)
            left -= share
            line["discounts"].append((coupon_id, share))
    for line in lines:
        line["discount"] = sum(a for _, a in line["discounts"])
        taxable = line["subtotal"] - line["discount"]
        line["taxes"], tax_exclusive = [], 0
        for rate_id in line["rates"]:
            rate = store.objects[rate_id]
            if rate["inclusive"]:
                amount = taxable - round(taxable / (1 + rate["percentage"] / 100))
                taxable_amount = taxable - amount
            else:
                amount = round(taxable * rate["percentage"] / 100)
                taxable_amount = taxable
                tax_exclusive += amount
            line["taxes"].append({"amount": amount, "rate": rate_id, "inclusive": rate["inclusive"],
                                  "taxable_amount": taxable_amount})
        line["tax"] = sum(t["amount"] for t in line["taxes"])
        line["total"] = taxable + tax_exclusive
    return {"lines": lines, "subtotal": subtotal, "discount": sum(line["discount"] for line in lines),
            "tax": sum(line["tax"] for line in lines), "total": sum(line["total"] for line in lines),
            "tax_exclusive": sum(line["total"] - line["subtotal"] + line["discount"] for line in lines)}


def create_invoice(store: Store, customer: dict, currency: str, computed: dict, billing_reason: str, *,
                   subscription: dict | None = None, period: tuple[int, int] | None = None,
                   description=None, metadata=None, footer=None) -> dict:
    now = store.now()
    start, end = period or (now, now)
    store.invoice_counter += 1
    customer["next_invoice_sequence"] = customer.get("next_invoice_sequence", 1) + 1
    id_ = store.new_id("in")
    lines = []
    for line in computed["lines"]:
        price = line["price"]
        sub_item = next((si for si in (subscription or {}).get("items", {}).get("data", [])
                         if si["price"]["id"] == price["id"]), None)
        product = store.objects.get(price["product"], {})
        lines.append({
            "id": store.new_id("il"), "object": "line_item", "amount": line["subtotal"], "currency": currency,
            "description": f"{line['quantity']} × {product.get('name', '')}" + (
                f" (at {price['unit_amount'] / 100:.2f} / {price['recurring']['interval']})" if price["recurring"] else ""),
            "discount_amounts": [{"amount": a, "discount": f"di_{c}"} for c, a in line["discounts"]],
            "discountable": True, "discounts": [], "invoice": id_, "livemode": False, "metadata": {},
            "parent": ({"type": "subscription_item_details", "invoice_item_details": None,
                        "subscription_item_details": {"invoice_item": None, "proration": False,
                                                      "proration_details": {"credited_items": None},
                                                      "subscription": subscription["id"],
                                                      "subscription_item": sub_item["id"] if sub_item else None}}
                       if subscription else None),
            "period": {"start": start, "end": end},
            "pretax_credit_amounts": [{"amount": a, "discount": f"di_{c}", "type": "discount"}
                                      for c, a in line["discounts"]],
            "pricing": {"type": "price_details", "price_details": {"price": price["id"], "product": price["product"]},
                        "unit_amount_decimal": str(price["unit_amount"])},
            "quantity": line["quantity"],
            "taxes": [{"amount": t["amount"], "tax_behavior": "inclusive" if t["inclusive"] else "exclusive",
                       "tax_rate_details": {"tax_rate": t["rate"]}, "taxability_reason": "standard_rated",
                       "taxable_amount": t["taxable_amount"], "type": "tax_rate_details"} for t in line["taxes"]],
        })
    total_taxes: dict[str, dict] = {}
    for line in lines:
        for t in line["taxes"]:
            agg = total_taxes.setdefault(t["tax_rate_details"]["tax_rate"], {**t, "amount": 0, "taxable_amount": 0})
            agg["amount"] += t["amount"]
            agg["taxable_amount"] += t["taxable_amount"]
    discounts: dict[str, int] = {}
    for line in computed["lines"]:
        for c, a in line["discounts"]:
            discounts[c] = discounts.get(c, 0) + a
    invoice = store.put({
        "id": id_, "object": "invoice", "account_country": "US", "account_name": "Stripe test server",
        "account_tax_ids": None, "amount_due": computed["total"], "amount_overpaid": 0, "amount_paid": 0,
        "amount_remaining": computed["total"], "amount_shipping": 0, "application": None, "attempt_count": 0,
        "attempted": False, "auto_advance": False,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                          "status": None},
        "billing_reason": billing_reason, "collection_method": "charge_automatically", "created": now,
        "currency": currency, "customer": customer["id"], "customer_address": customer.get("address"),
        "customer_email": customer.get("email"), "customer_name": customer.get("name"), "customer_phone": None,
        "customer_shipping": None, "customer_tax_exempt": "none", "customer_tax_ids": [],
        "default_payment_method": None, "default_source": None, "default_tax_rates": [],
        "description": description, "discounts": [f"di_{c}" for c in discounts], "due_date": None,
        "effective_at": now, "ending_balance": 0, "footer": footer,
        "hosted_invoice_url": f"{store.base_url}/invoices/{id_}", "invoice_pdf": None,
        "issuer": {"type": "self"}, "last_finalization_error": None, "latest_revision": None,
        "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines),
                  "url": f"/v1/invoices/{id_}/lines"},
        "livemode": False, "metadata": metadata or {}, "next_payment_attempt": None,
        "number": f"{customer['invoice_prefix']}-{customer['next_invoice_sequence'] - 1:04d}",
        "on_behalf_of": None,
        "parent": ({"type": "subscription_details", "quote_details": None,
                    "subscription_details": {"metadata": dict(subscription.get("metadata") or {}),
                                             "subscription": subscription["id"]}} if subscription else None),
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "payments": {"object": "list", "data": [], "has_more": False, "url": "/v1/invoice_payments"},
        "period_end": end if subscription else now, "period_start": start if subscription else now,
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0, "receipt_number": None,
        "rendering": None, "shipping_cost": None, "shipping_details": None, "starting_balance": 0,
        "statement_descriptor": None, "status": "open",
        "status_transitions": {"finalized_at": now, "marked_uncollectible_at": None, "paid_at": None,
                               "voided_at": None},
        "subtotal": computed["subtotal"], "subtotal_excluding_tax": computed["subtotal"] - sum(
            t["amount"] for t in total_taxes.values() if t["tax_behavior"] == "inclusive"),
        "test_clock": None, "total": computed["total"],
        "total_discount_amounts": [{"amount": a, "discount": f"di_{c}"} for c, a in discounts.items()],
        "total_excluding_tax": computed["total"] - computed["tax"],
        "total_pretax_credit_amounts": [{"amount": a, "discount": f"di_{c}", "type": "discount"}
                                        for c, a in discounts.items()],
        "total_taxes": list(total_taxes.values()), "webhooks_delivered_at": now})
    store.emit("invoice.created", invoice)
    store.emit("invoice.finalized", invoice)
    return invoice


def invoice_paid(store: Store, invoice: dict, pi: dict) -> None:
    now = store.now()
    invoice["payments"]["data"].append({
        "id": store.new_id("inpay"), "object": "invoice_payment", "amount_paid": pi["amount"],
        "amount_requested": pi["amount"], "created": now, "currency": pi["currency"], "invoice": invoice["id"],
        "is_default": True, "livemode": False, "payment": {"type": "payment_intent", "payment_intent": pi["id"]},
        "status": "paid", "status_transitions": {"canceled_at": None, "paid_at": now}})
    invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, attempted=True,
                   attempt_count=invoice["attempt_count"] + 1)
    invoice["status_transitions"]["paid_at"] = now
    store.emit("invoice.paid", invoice)
    store.emit("invoice.payment_succeeded", invoice)


def invoice_failed(store: Store, invoice: dict, pi: dict) -> None:
    invoice["payments"]["data"].append({
        "id": store.new_id("inpay"), "object": "invoice_payment", "amount_paid": None,
        "amount_requested": pi["amount"], "created": store.now(), "currency": pi["currency"], "invoice": invoice["id"],
        "is_default": True, "livemode": False, "payment": {"type": "payment_intent", "payment_intent": pi["id"]},
        "status": "open", "status_transitions": {"canceled_at": None, "paid_at": None}})
    invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1,
                   next_payment_attempt=store.now() + 3 * 86400)
    store.emit("invoice.payment_failed", invoice)
