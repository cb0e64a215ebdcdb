"""The ``/v1`` endpoints: one route per Stripe endpoint the platform uses, each with its parameter tree."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from . import catalog, charges, checkout, connect, schemas as S, subscriptions
from .errors import invalid, missing
from .params import meta
from .store import Store

ROUTES: list = []


@dataclass
class Ctx:
    store: Store
    account: str | None = None  # Stripe-Account header


def route(method: str, pattern: str, schema: dict):
    def register(fn):
        regex = re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", pattern) + "$")
        ROUTES.append((method, regex, schema, fn))
        return fn
    return register


def out(ctx: Ctx, obj: dict, p: dict) -> dict:
    return ctx.store.render(obj, p.get("expand"))


def listed(ctx: Ctx, object_type: str, p: dict, url: str, **equal) -> dict:
    """A list filtered by equality on the given fields (those present in ``p``)."""
    wanted = {field: p[param] for param, field in equal.items() if p.get(param) is not None}
    page = ctx.store.page(object_type, p, url, lambda o: all(o.get(f) == v for f, v in wanted.items()))
    return ctx.store.render(page, p.get("expand"))


def simple_resource(path: str, object_type: str, list_schema: dict, filters: dict | None = None):
    @route("GET", f"/v1/{path}", list_schema)
    def _list(ctx, p):
        return listed(ctx, object_type, p, f"/v1/{path}", **(filters or {}))

    @route("GET", f"/v1/{path}/{{id}}", S.RETRIEVE)
    def _get(ctx, p, id):
        return out(ctx, ctx.store.get(object_type, id), p)


# -- catalog --------------------------------------------------------------------------------------
route("POST", "/v1/products", S.PRODUCT_CREATE)(lambda ctx, p: out(ctx, catalog.create_product(ctx.store, p), p))
route("POST", "/v1/products/{id}", S.PRODUCT_UPDATE)(
    lambda ctx, p, id: out(ctx, catalog.update_product(ctx.store, id, p), p))
route("DELETE", "/v1/products/{id}", {})(lambda ctx, p, id: catalog.delete(ctx.store, "product", id, "product.deleted"))
simple_resource("products", "product", S.PRODUCT_LIST, {"active": "active"})

route("POST", "/v1/prices", S.PRICE_CREATE)(lambda ctx, p: out(ctx, catalog.create_price(ctx.store, p), p))
simple_resource("prices", "price", S.PRICE_LIST, {"active": "active", "currency": "currency", "product": "product",
                                                  "type": "type"})


@route("POST", "/v1/prices/{id}", S.PRICE_UPDATE)
def update_price(ctx, p, id):
    price = ctx.store.get("price", id)
    previous = catalog.update_fields(price, p, ("active", "nickname", "lookup_key"))
    ctx.store.emit("price.updated", price, previous)
    return out(ctx, price, p)


route("POST", "/v1/customers", S.CUSTOMER_CREATE)(lambda ctx, p: out(ctx, catalog.create_customer(ctx.store, p), p))
route("POST", "/v1/customers/{id}", S.CUSTOMER_UPDATE)(
    lambda ctx, p, id: out(ctx, catalog.update_customer(ctx.store, id, p), p))
route("DELETE", "/v1/customers/{id}", {})(
    lambda ctx, p, id: catalog.delete(ctx.store, "customer", id, "customer.deleted"))
simple_resource("customers", "customer", S.CUSTOMER_LIST, {"email": "email"})

route("POST", "/v1/coupons", S.COUPON_CREATE)(lambda ctx, p: out(ctx, catalog.create_coupon(ctx.store, p), p))
route("DELETE", "/v1/coupons/{id}", {})(lambda ctx, p, id: catalog.delete(ctx.store, "coupon", id, "coupon.deleted"))
simple_resource("coupons", "coupon", S.LISTED)


@route("POST", "/v1/coupons/{id}", S.COUPON_UPDATE)
def update_coupon(ctx, p, id):
    coupon = ctx.store.get("coupon", id)
    previous = catalog.update_fields(coupon, p, ("name",))
    ctx.store.emit("coupon.updated", coupon, previous)
    return out(ctx, coupon, p)


route("POST", "/v1/tax_rates", S.TAX_RATE_CREATE)(lambda ctx, p: out(ctx, catalog.create_tax_rate(ctx.store, p), p))
simple_resource("tax_rates", "tax_rate", S.TAX_RATE_LIST, {"active": "active", "inclusive": "inclusive"})


@route("POST", "/v1/tax_rates/{id}", S.TAX_RATE_UPDATE)
def update_tax_rate(ctx, p, id):
    rate = ctx.store.get("tax_rate", id)
    previous = catalog.update_fields(rate, p, ("display_name", "active", "country", "state", "jurisdiction",
                                               "description"))
    ctx.store.emit("tax_rate.updated", rate, previous)
    return out(ctx, rate, p)


# -- checkout --------------------------------------------------------------------------------------
def session_out(ctx, session, p):
    return checkout.render_session(ctx.store, session, p.get("expand"))


route("POST", "/v1/checkout/sessions", S.SESSION_CREATE)(
    lambda ctx, p: session_out(ctx, checkout.create_session(ctx.store, p), p))
route("GET", "/v1/checkout/sessions/{id}", S.RETRIEVE)(
    lambda ctx, p, id: session_out(ctx, ctx.store.get("checkout.session", id), p))
route("POST", "/v1/checkout/sessions/{id}/expire", S.SESSION_EXPIRE)(
    lambda ctx, p, id: session_out(ctx, checkout.expire_session(ctx.store, ctx.store.get("checkout.session", id)), p))


@route("POST", "/v1/checkout/sessions/{id}", S.SESSION_UPDATE)
def update_session(ctx, p, id):
    session = ctx.store.get("checkout.session", id)
    catalog.update_fields(session, p, ())
    return session_out(ctx, session, p)


@route("GET", "/v1/checkout/sessions", S.SESSION_LIST)
def list_sessions(ctx, p):
    wanted = {k: p[k] for k in ("payment_intent", "subscription", "customer", "status", "client_reference_id")
              if p.get(k) is not None}
    page = ctx.store.page("checkout.session", p, "/v1/checkout/sessions",
                          lambda s: all(s.get(k) == v for k, v in wanted.items()))
    expand = p.get("expand") or []
    page["data"] = [checkout.render_session(ctx.store, s, [e[5:] for e in expand if e.startswith("data.")])
                    for s in page["data"]]
    return page


@route("GET", "/v1/checkout/sessions/{id}/line_items", S.PAGE)
def session_line_items(ctx, p, id):
    session = ctx.store.get("checkout.session", id)
    items = checkout.line_items(ctx.store, session)
    limit = p.get("limit") or 10
    ids = [i["id"] for i in items]
    if p.get("starting_after") in ids:
        items = items[ids.index(p["starting_after"]) + 1:]
    page = ctx.store.list_object(items[:limit], f"/v1/checkout/sessions/{id}/line_items", len(items) > limit)
    return ctx.store.render(page, p.get("expand"))


# -- payments -------------------------------------------------------------------------------------------
simple_resource("payment_intents", "payment_intent", S.PAYMENT_INTENT_LIST, {"customer": "customer"})
simple_resource("charges", "charge", S.CHARGE_LIST, {"customer": "customer", "payment_intent": "payment_intent",
                                                     "transfer_group": "transfer_group"})
simple_resource("payment_methods", "payment_method", S.PAGE)
simple_resource("refunds", "refund", S.REFUND_LIST, {"charge": "charge", "payment_intent": "payment_intent"})
simple_resource("disputes", "dispute", S.DISPUTE_LIST, {"charge": "charge", "payment_intent": "payment_intent"})
simple_resource("balance_transactions", "balance_transaction", S.BALANCE_TRANSACTION_LIST,
                {"source": "source", "type": "type", "currency": "currency"})


def metadata_update(object_type, names, event):
    def update(ctx, p, id):
        obj = ctx.store.get(object_type, id)
        previous = catalog.update_fields(obj, p, names)
        if event:
            ctx.store.emit(event, obj, previous)
        return out(ctx, obj, p)
    return update


route("POST", "/v1/payment_intents/{id}", S.PAYMENT_INTENT_UPDATE)(
    metadata_update("payment_intent", ("description",), None))
route("POST", "/v1/charges/{id}", S.CHARGE_UPDATE)(metadata_update("charge", ("description",), "charge.updated"))
route("POST", "/v1/refunds", S.REFUND_CREATE)(lambda ctx, p: out(ctx, charges.create_refund(ctx.store, p), p))
route("POST", "/v1/refunds/{id}", S.REFUND_UPDATE)(metadata_update("refund", (), "refund.updated"))
route("POST", "/v1/disputes/{id}", S.DISPUTE_UPDATE)(
    lambda ctx, p, id: out(ctx, charges.update_dispute(ctx.store, id, p), p))
route("POST", "/v1/disputes/{id}/close", S.RETRIEVE)(
    lambda ctx, p, id: out(ctx, charges.close_dispute(ctx.store, ctx.store.get("dispute", id), "lost"), p))

# -- billing -------------------------------------------------------------------------------------------


@route("GET", "/v1/invoices", S.INVOICE_LIST)
def list_invoices(ctx, p):
    sub = p.get("subscription")
    page = ctx.store.page("invoice", p, "/v1/invoices", lambda i: (
        (not p.get("customer") or i["customer"] == p["customer"]) and (not p.get("status") or i["status"] == p["status"])
        and (not sub or (i["parent"] or {}).get("subscription_details", {}).get("subscription") == sub)))
    return ctx.store.render(page, p.get("expand"))


route("GET", "/v1/invoices/{id}", S.RETRIEVE)(lambda ctx, p, id: out(ctx, ctx.store.get("invoice", id), p))
route("GET", "/v1/invoices/{id}/lines", S.PAGE)(
    lambda ctx, p, id: ctx.store.render(ctx.store.get("invoice", id)["lines"], p.get("expand")))


@route("GET", "/v1/subscriptions", S.SUBSCRIPTION_LIST)
def list_subscriptions(ctx, p):
    status = p.get("status")

    def keep(s):
        if status is None:
            ok = s["status"] != "canceled"
        elif status == "all":
            ok = True
        elif status == "ended":
            ok = s["status"] in ("canceled", "incomplete_expired")
        else:
            ok = s["status"] == status
        return ok and (not p.get("customer") or s["customer"] == p["customer"]) and (
            not p.get("price") or any(i["price"] == p["price"] for i in s["_items"]))
    return ctx.store.render(ctx.store.page("subscription", p, "/v1/subscriptions", keep), p.get("expand"))


route("GET", "/v1/subscriptions/{id}", S.RETRIEVE)(lambda ctx, p, id: out(ctx, ctx.store.get("subscription", id), p))
route("POST", "/v1/subscriptions/{id}", S.SUBSCRIPTION_UPDATE)(
    lambda ctx, p, id: out(ctx, subscriptions.update(ctx.store, id, p), p))
route("DELETE", "/v1/subscriptions/{id}", S.SUBSCRIPTION_CANCEL)(
    lambda ctx, p, id: out(ctx, subscriptions.cancel(ctx.store, id, p), p))

# -- connect ---------------------------------------------------------------------------------------------
route("POST", "/v1/accounts", S.ACCOUNT_CREATE)(lambda ctx, p: out(ctx, connect.create_account(ctx.store, p), p))
route("POST", "/v1/accounts/{id}", S.ACCOUNT_UPDATE)(
    lambda ctx, p, id: out(ctx, connect.update_account(ctx.store, id, p), p))
route("DELETE", "/v1/accounts/{id}", {})(lambda ctx, p, id: catalog.delete(ctx.store, "account", id))
route("POST", "/v1/accounts/{id}/login_links", S.LOGIN_LINK_CREATE)(
    lambda ctx, p, id: connect.create_login_link(ctx.store, ctx.store.get("account", id)))
route("POST", "/v1/account_links", S.ACCOUNT_LINK_CREATE)(lambda ctx, p: connect.create_account_link(ctx.store, p))
simple_resource("accounts", "account", S.LISTED)


@route("GET", "/v1/account", S.RETRIEVE)
def own_account(ctx, p):
    if ctx.account:
        return out(ctx, ctx.store.get("account", ctx.account), p)
    return {"id": "acct_platform", "object": "account", "business_profile": {"name": "Stripe test server"},
            "charges_enabled": True, "country": "US", "default_currency": "usd", "details_submitted": True,
            "payouts_enabled": True, "type": "standard"}


route("POST", "/v1/transfers", S.TRANSFER_CREATE)(lambda ctx, p: out(ctx, connect.create_transfer(ctx.store, p), p))
route("POST", "/v1/transfers/{id}", S.TRANSFER_UPDATE)(metadata_update("transfer", ("description",), "transfer.updated"))
simple_resource("transfers", "transfer", S.TRANSFER_LIST, {"destination": "destination",
                                                           "transfer_group": "transfer_group"})
route("POST", "/v1/transfers/{id}/reversals", S.REVERSAL_CREATE)(
    lambda ctx, p, id: out(ctx, connect.create_reversal(ctx.store, id, p), p))


@route("GET", "/v1/transfers/{id}/reversals", S.PAGE)
def list_reversals(ctx, p, id):
    ctx.store.get("transfer", id)
    return listed(ctx, "transfer_reversal", {**p, "transfer": id}, f"/v1/transfers/{id}/reversals",
                  transfer="transfer")


@route("GET", "/v1/transfers/{id}/reversals/{rid}", S.RETRIEVE)
def get_reversal(ctx, p, id, rid):
    reversal = ctx.store.get("transfer_reversal", rid)
    if reversal["transfer"] != id:
        raise invalid(f"No such transfer_reversal: '{rid}'", "id", "resource_missing", status=404)
    return out(ctx, reversal, p)


route("GET", "/v1/balance", S.RETRIEVE)(lambda ctx, p: connect.balance(ctx.store, ctx.account))

# -- webhook endpoints and events ------------------------------------------------------------------------
EVENT_TYPES = {
    "account.updated", "balance.available", "charge.captured", "charge.dispute.closed", "charge.dispute.created",
    "charge.dispute.funds_reinstated", "charge.dispute.funds_withdrawn", "charge.dispute.updated", "charge.failed",
    "charge.pending", "charge.refund.updated", "charge.refunded", "charge.succeeded", "charge.updated",
    "checkout.session.async_payment_failed", "checkout.session.async_payment_succeeded",
    "checkout.session.completed", "checkout.session.expired", "coupon.created", "coupon.deleted", "coupon.updated",
    "customer.created", "customer.deleted", "customer.updated", "customer.subscription.created",
    "customer.subscription.deleted", "customer.subscription.updated", "invoice.created", "invoice.finalized",
    "invoice.paid", "invoice.payment_failed", "invoice.payment_succeeded", "invoice.updated",
    "payment_intent.created", "payment_intent.payment_failed", "payment_intent.processing",
    "payment_intent.succeeded", "price.created", "price.updated", "product.created", "product.deleted",
    "product.updated", "refund.created", "refund.updated", "tax_rate.created", "tax_rate.updated",
    "transfer.created", "transfer.reversed", "transfer.updated"}


def _enabled_events(events: list) -> list:
    if not events:
        raise missing("enabled_events")
    for i, name in enumerate(events):
        if name != "*" and name not in EVENT_TYPES:
            raise invalid(f"Invalid enabled_events[{i}]: must be one of the event types the server emits or '*' "
                          f"(got {name!r})", f"enabled_events[{i}]")
    return events


@route("POST", "/v1/webhook_endpoints", S.WEBHOOK_CREATE)
def create_webhook_endpoint(ctx, p):
    if not p.get("url"):
        raise missing("url")
    if not re.match(r"^https?://", p["url"]):
        raise invalid("Invalid URL: URL must be publicly accessible and use http or https.", "url", "url_invalid")
    endpoint = ctx.store.put({
        "id": ctx.store.new_id("we"), "object": "webhook_endpoint", "api_version": p.get("api_version"),
        "application": None, "_connect": bool(p.get("connect")), "created": ctx.store.now(),
        "description": p.get("description"), "enabled_events": _enabled_events(p.get("enabled_events")),
        "livemode": False, "metadata": meta(p.get("metadata")), "secret": f"whsec_{secrets.token_hex(32)}",
        "status": "enabled", "url": p["url"]})
    return ctx.store.render(endpoint, p.get("expand"))


def _hide_secret(obj: dict) -> dict:
    obj.pop("secret", None)
    return obj


@route("POST", "/v1/webhook_endpoints/{id}", S.WEBHOOK_UPDATE)
def update_webhook_endpoint(ctx, p, id):
    endpoint = ctx.store.get("webhook_endpoint", id)
    if "enabled_events" in p:
        _enabled_events(p["enabled_events"])
    catalog.update_fields(endpoint, p, ("url", "enabled_events", "description"))
    if p.get("disabled") is not None:
        endpoint["status"] = "disabled" if p["disabled"] else "enabled"
    return _hide_secret(out(ctx, endpoint, p))


route("GET", "/v1/webhook_endpoints/{id}", S.RETRIEVE)(
    lambda ctx, p, id: _hide_secret(out(ctx, ctx.store.get("webhook_endpoint", id), p)))
route("DELETE", "/v1/webhook_endpoints/{id}", {})(
    lambda ctx, p, id: catalog.delete(ctx.store, "webhook_endpoint", id))


@route("GET", "/v1/webhook_endpoints", S.PAGE)
def list_webhook_endpoints(ctx, p):
    page = listed(ctx, "webhook_endpoint", p, "/v1/webhook_endpoints")
    page["data"] = [_hide_secret(e) for e in page["data"]]
    return page


@route("GET", "/v1/events", S.EVENT_LIST)
def list_events(ctx, p):
    patterns = ([p["type"]] if p.get("type") else []) + (p.get("types") or [])

    def match(event):
        if p.get("delivery_success") is not None and (event["pending_webhooks"] == 0) != p["delivery_success"]:
            return False
        return not patterns or any(event["type"] == pat or (pat.endswith("*") and event["type"].startswith(pat[:-1]))
                                   for pat in patterns)
    return ctx.store.render(ctx.store.page("event", p, "/v1/events", match), p.get("expand"))


route("GET", "/v1/events/{id}", S.RETRIEVE)(lambda ctx, p, id: out(ctx, ctx.store.get("event", id), p))


def find_route(method: str, path: str):
    """(schema, function, path arguments), or ``None`` when no endpoint has that method and path."""
    for m, regex, schema, fn in ROUTES:
        match = regex.match(path)
        if match and m == method:
            return schema, fn, match.groupdict()
    return None

