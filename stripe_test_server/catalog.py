"""Products, prices, customers, coupons and tax rates."""
from __future__ import annotations

import re

from .errors import invalid, missing
from .params import meta
from .store import Store, random_part


def currency(value, param="currency") -> str:
    if not value:
        raise missing(param)
    value = value.lower()
    if not re.fullmatch(r"[a-z]{3}", value):
        raise invalid(f"Invalid currency: {value}. Stripe currently supports these currencies: usd, eur, gbp, ...", param)
    return value


def create_product(store: Store, p: dict) -> dict:
    if not p.get("name"):
        raise missing("name")
    id_ = p.get("id") or store.new_id("prod", 14)
    if id_ in store.objects:
        raise invalid(f"Product already exists.", "id", "resource_already_exists")
    now = store.now()
    product = store.put({
        "id": id_, "object": "product", "active": p.get("active", True), "created": now, "updated": now,
        "default_price": None, "description": p.get("description"), "images": p.get("images") or [],
        "livemode": False, "marketing_features": [], "metadata": meta(p.get("metadata")), "name": p["name"],
        "package_dimensions": None, "shippable": None, "statement_descriptor": None,
        "tax_code": p.get("tax_code"), "unit_label": None, "url": p.get("url")})
    if p.get("default_price_data"):
        price = create_price(store, {**p["default_price_data"], "product": id_}, "default_price_data")
        product["default_price"] = price["id"]
    store.emit("product.created", product)
    return product


def update_product(store: Store, id_: str, p: dict) -> dict:
    product = store.get("product", id_)
    if p.get("default_price"):
        price = store.get("price", p["default_price"], "default_price")
        if price["product"] != id_:
            raise invalid("The price must belong to this product.", "default_price")
    previous = update_fields(product, p, ("name", "active", "description", "images", "url", "default_price"))
    product["updated"] = store.now()
    store.emit("product.updated", product, previous)
    return product


def update_fields(obj: dict, p: dict, names) -> dict:
    """Apply ``p`` to ``obj`` (``metadata`` merged, empty values unset); returns previous attributes."""
    previous = {}
    for name in names:
        if name in p:
            previous[name] = obj.get(name)
            obj[name] = p[name]
    if "metadata" in p:
        previous["metadata"] = dict(obj.get("metadata") or {})
        if p["metadata"] == {}:
            obj["metadata"] = {}
        for k, v in p["metadata"].items():
            if v in ("", None):
                obj["metadata"].pop(k, None)
            else:
                obj["metadata"][k] = v
    return previous


def create_price(store: Store, p: dict, prefix: str = "") -> dict:
    def name(n):
        return f"{prefix}[{n}]" if prefix else n

    cur = currency(p.get("currency"), name("currency"))
    if p.get("unit_amount") is None:
        raise missing(name("unit_amount"))
    if p["unit_amount"] < 0:
        raise invalid("This value must be greater than or equal to 0.", name("unit_amount"))
    if p.get("product") and p.get("product_data"):
        raise invalid("You may only specify one of these parameters: product, product_data.", name("product"))
    if p.get("product"):
        product_id = store.get("product", p["product"], name("product"))["id"]
    elif p.get("product_data"):
        product_id = create_product(store, p["product_data"])["id"]
    else:
        raise missing(name("product"))
    recurring = None
    if p.get("recurring"):
        if not p["recurring"].get("interval"):
            raise missing(name("recurring") + "[interval]")
        recurring = {"interval": p["recurring"]["interval"], "interval_count": p["recurring"].get("interval_count") or 1,
                     "meter": None, "trial_period_days": None, "usage_type": "licensed"}
    price = store.put({
        "id": store.new_id("price"), "object": "price", "active": p.get("active", True),
        "billing_scheme": "per_unit", "created": store.now(), "currency": cur, "custom_unit_amount": None,
        "livemode": False, "lookup_key": p.get("lookup_key"), "metadata": meta(p.get("metadata")),
        "nickname": p.get("nickname"), "product": product_id, "recurring": recurring,
        "tax_behavior": p.get("tax_behavior") or "unspecified", "tiers_mode": None, "transform_quantity": None,
        "type": "recurring" if recurring else "one_time", "unit_amount": p["unit_amount"],
        "unit_amount_decimal": str(p["unit_amount"])})
    store.emit("price.created", price)
    return price


def create_customer(store: Store, p: dict) -> dict:
    customer = store.put({
        "id": store.new_id("cus", 14), "object": "customer", "address": p.get("address"), "balance": 0,
        "created": store.now(), "currency": None, "default_source": None, "delinquent": False,
        "description": p.get("description"), "email": p.get("email"), "invoice_prefix": random_part(8).upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": meta(p.get("metadata")), "name": p.get("name"), "next_invoice_sequence": 1,
        "phone": p.get("phone"), "preferred_locales": [], "shipping": None, "tax_exempt": "none",
        "test_clock": None})
    store.emit("customer.created", customer)
    return customer


def update_customer(store: Store, id_: str, p: dict) -> dict:
    customer = store.get("customer", id_)
    previous = update_fields(customer, p, ("email", "name", "description", "phone", "address"))
    store.emit("customer.updated", customer, previous)
    return customer


def delete(store: Store, object_type: str, id_: str, event: str | None = None) -> dict:
    obj = store.get(object_type, id_)
    if event:
        store.emit(event, obj)
    obj["deleted"] = True
    return {"id": id_, "object": object_type, "deleted": True}


def create_coupon(store: Store, p: dict) -> dict:
    pct, amt = p.get("percent_off"), p.get("amount_off")
    if (pct is None) == (amt is None):
        raise invalid("You must pass exactly one of percent_off or amount_off.", "percent_off")
    if pct is not None and not 0 < pct <= 100:
        raise invalid("percent_off must be between 0 and 100.", "percent_off")
    if amt is not None and not p.get("currency"):
        raise invalid("You must pass currency when passing amount_off.", "currency")
    duration = p.get("duration") or "once"
    if duration == "repeating" and not p.get("duration_in_months"):
        raise invalid("You must pass duration_in_months when duration is repeating.", "duration_in_months")
    id_ = p.get("id") or random_part(8)
    if id_ in store.objects and not store.objects[id_].get("deleted"):
        raise invalid("Coupon already exists.", "id", "resource_already_exists")
    coupon = store.put({
        "id": id_, "object": "coupon", "amount_off": amt, "created": store.now(),
        "currency": currency(p["currency"]) if amt is not None else None, "duration": duration,
        "duration_in_months": p.get("duration_in_months") if duration == "repeating" else None,
        "livemode": False, "max_redemptions": p.get("max_redemptions"), "metadata": meta(p.get("metadata")),
        "name": p.get("name"), "percent_off": pct, "redeem_by": p.get("redeem_by"), "times_redeemed": 0,
        "valid": True})
    store.emit("coupon.created", coupon)
    return coupon


def create_tax_rate(store: Store, p: dict) -> dict:
    for name in ("display_name", "percentage"):
        if p.get(name) is None:
            raise missing(name)
    if p.get("inclusive") is None:
        raise missing("inclusive")
    if not 0 <= p["percentage"] <= 100:
        raise invalid("percentage must be between 0 and 100.", "percentage")
    rate = store.put({
        "id": store.new_id("txr"), "object": "tax_rate", "active": p.get("active", True),
        "country": p.get("country"), "created": store.now(), "description": p.get("description"),
        "display_name": p["display_name"], "effective_percentage": p["percentage"], "flat_amount": None,
        "inclusive": p["inclusive"], "jurisdiction": p.get("jurisdiction"), "jurisdiction_level": None,
        "livemode": False, "metadata": meta(p.get("metadata")), "percentage": p["percentage"],
        "rate_type": "percentage", "state": p.get("state"), "tax_type": p.get("tax_type")})
    store.emit("tax_rate.created", rate)
    return rate
