"""Connect: Express accounts, onboarding links, Transfers and reversals, balances."""
from __future__ import annotations

import secrets

from .catalog import currency as check_currency
from .charges import money
from .errors import StripeError, invalid, missing
from .params import meta
from .store import Store, random_part

REQUIREMENTS = ["business_profile.mcc", "business_profile.url", "external_account", "individual.dob.day",
                "individual.first_name", "individual.last_name", "tos_acceptance.date", "tos_acceptance.ip"]
LINK_TTL = 300


def create_account(store: Store, p: dict) -> dict:
    if not p.get("type"):
        raise invalid("You must specify either `type` or `controller` when creating an account.", "type")
    capabilities = {name: "inactive" for name, c in (p.get("capabilities") or {}).items() if c.get("requested")}
    if p["type"] == "express" and "transfers" not in capabilities:
        raise invalid("Express accounts must request the `transfers` capability (capabilities[transfers][requested]=true).",
                      "capabilities")
    bp = p.get("business_profile") or {}
    account = store.put({
        "id": f"acct_1{random_part(15)}", "object": "account",
        "business_profile": {"annual_revenue": None, "estimated_worker_count": None, "mcc": bp.get("mcc"),
                             "name": bp.get("name"), "product_description": bp.get("product_description"),
                             "support_address": None, "support_email": None, "support_phone": None,
                             "support_url": None, "url": bp.get("url")},
        "business_type": p.get("business_type"), "capabilities": capabilities, "charges_enabled": False,
        "controller": {"fees": {"payer": "application"}, "is_controller": True,
                       "losses": {"payments": "application"}, "requirement_collection": "stripe",
                       "stripe_dashboard": {"type": p["type"] if p["type"] != "custom" else "none"},
                       "type": "application"},
        "country": (p.get("country") or "US").upper(), "created": store.now(),
        "default_currency": p.get("default_currency") or "usd", "details_submitted": False,
        "email": p.get("email"),
        "external_accounts": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                              "url": "/v1/accounts/external_accounts"},
        "future_requirements": _requirements([]), "metadata": meta(p.get("metadata")), "payouts_enabled": False,
        "requirements": _requirements(REQUIREMENTS, "requirements.past_due"),
        "settings": {"payouts": {"debit_negative_balances": True, "schedule": {"delay_days": 2, "interval": "daily"},
                                 "statement_descriptor": None}},
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None}, "type": p["type"],
        "_balance": 0})
    return account


def _requirements(due: list, disabled_reason: str | None = None) -> dict:
    return {"alternatives": [], "current_deadline": None, "currently_due": list(due), "disabled_reason": disabled_reason,
            "errors": [], "eventually_due": list(due), "past_due": list(due), "pending_verification": []}


def update_account(store: Store, id_: str, p: dict) -> dict:
    account = store.get("account", id_)
    previous = {}
    if "email" in p:
        previous["email"] = account["email"]
        account["email"] = p["email"]
    if p.get("business_profile"):
        previous["business_profile"] = dict(account["business_profile"])
        account["business_profile"].update(p["business_profile"])
    if "metadata" in p:
        previous["metadata"] = dict(account["metadata"])
        for k, v in p["metadata"].items():
            if v in ("", None):
                account["metadata"].pop(k, None)
            else:
                account["metadata"][k] = v
    store.emit("account.updated", account, previous, account=account["id"])
    return account


def complete_onboarding(store: Store, account: dict, business_name: str | None = None) -> dict:
    if account["details_submitted"]:
        return account
    previous = {"charges_enabled": False, "payouts_enabled": False, "details_submitted": False,
                "capabilities": dict(account["capabilities"]), "requirements": account["requirements"]}
    now = store.now()
    account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True,
                   capabilities={name: "active" for name in account["capabilities"]},
                   requirements=_requirements([]))
    account["tos_acceptance"].update(date=now, ip="127.0.0.1")
    if business_name:
        account["business_profile"]["name"] = business_name
    bank = {"id": store.new_id("ba"), "object": "bank_account", "account": account["id"],
            "account_holder_name": business_name, "account_holder_type": "individual", "bank_name": "STRIPE TEST BANK",
            "country": account["country"], "currency": account["default_currency"], "default_for_currency": True,
            "last4": "6789", "routing_number": "110000000", "status": "new"}
    account["external_accounts"].update(data=[bank], total_count=1)
    store.emit("account.updated", account, previous, account=account["id"])
    return account


def create_account_link(store: Store, p: dict) -> dict:
    if not p.get("account"):
        raise missing("account")
    if not p.get("type"):
        raise missing("type")
    account = store.get("account", p["account"], "account")
    if p["type"] == "account_update" and not account["details_submitted"]:
        raise invalid("You cannot create `account_update` type Account Links for accounts that have not completed "
                      "onboarding.", "type")
    token = secrets.token_urlsafe(18)
    now = store.now()
    store.links[token] = {"account": account["id"], "return_url": p.get("return_url"),
                          "refresh_url": p.get("refresh_url"), "expires_at": now + LINK_TTL, "used": False}
    return {"object": "account_link", "created": now, "expires_at": now + LINK_TTL,
            "url": f"{store.base_url}/connect/onboarding/{token}"}


def create_login_link(store: Store, account: dict) -> dict:
    if not account["details_submitted"]:
        raise invalid("Cannot create a login link for an account that has not completed onboarding.", "account")
    # like Stripe's, the link is a secret of its own: an account id (which the platform shows
    # around) does not open the account's dashboard
    token = secrets.token_urlsafe(18)
    store.links[token] = {"kind": "login", "account": account["id"], "expires_at": store.now() + LINK_TTL,
                          "used": False}
    return {"object": "login_link", "created": store.now(), "url": f"{store.base_url}/connect/express/{token}"}


# -- transfers -------------------------------------------------------------------------------------
def _destination(store: Store, id_: str, param: str = "destination") -> dict:
    account = store.get("account", id_, param)
    if account["capabilities"].get("transfers") != "active":
        raise invalid("Your destination account needs to have at least one of the following capabilities enabled: "
                      "transfers, crypto_transfers, legacy_payments", param, "insufficient_capabilities_for_transfer")
    return account


def _transfer(store: Store, account: dict, amount: int, currency: str, *, transfer_group=None,
              source_transaction=None, description=None, metadata=None) -> dict:
    id_ = store.new_id("tr")
    txn = store.transaction(-amount, currency, "transfer", id_)
    transfer = store.put({
        "id": id_, "object": "transfer", "amount": amount, "amount_reversed": 0, "balance_transaction": txn["id"],
        "created": store.now(), "currency": currency, "description": description, "destination": account["id"],
        "destination_payment": f"py_{random_part(24)}", "livemode": False, "metadata": meta(metadata),
        "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                      "url": f"/v1/transfers/{id_}/reversals"},
        "reversed": False, "source_transaction": source_transaction, "source_type": "card",
        "transfer_group": transfer_group})
    account["_balance"] = account.get("_balance", 0) + amount
    store.emit("transfer.created", transfer)
    return transfer


def create_transfer(store: Store, p: dict) -> dict:
    for name in ("amount", "currency", "destination"):
        if p.get(name) is None:
            raise missing(name)
    if p["amount"] <= 0:
        raise invalid("Invalid positive integer", "amount")
    cur = check_currency(p["currency"])
    account = _destination(store, p["destination"])
    group = p.get("transfer_group")
    if p.get("source_transaction"):
        charge = store.get("charge", p["source_transaction"], "source_transaction")
        if charge["currency"] != cur:
            raise invalid("The currency of source_transaction's balance transaction must match the transfer currency.",
                          "currency")
        used = sum(t["amount"] - t["amount_reversed"] for t in store.find(
            "transfer", lambda t: t["source_transaction"] == charge["id"]))
        if p["amount"] > charge["amount"] - charge["amount_refunded"] - used:
            raise invalid("The amount of the transfer exceeds the remaining amount of the source_transaction.",
                          "amount")
        group = group or charge["transfer_group"]
    elif store.balance.get(cur, 0) < p["amount"]:
        raise StripeError(400, "invalid_request_error",
                          "You have insufficient available funds in your Stripe account. Try adding funds directly "
                          "to your available balance by creating Charges using the 4000000000000077 test card. See: "
                          "https://stripe.com/docs/testing#available-balance", code="balance_insufficient")
    return _transfer(store, account, p["amount"], cur, transfer_group=group,
                     source_transaction=p.get("source_transaction"), description=p.get("description"),
                     metadata=p.get("metadata"))


def destination_transfer(store: Store, pi: dict, charge: dict) -> None:
    """A destination charge (``transfer_data[destination]``) moves the amount less the application fee."""
    account = store.objects[pi["transfer_data"]["destination"]]
    amount = pi["transfer_data"].get("amount") or charge["amount"] - (pi["application_fee_amount"] or 0)
    transfer = _transfer(store, account, amount, charge["currency"], transfer_group=pi["transfer_group"],
                         source_transaction=charge["id"])
    charge["transfer"] = transfer["id"]


def create_reversal(store: Store, transfer_id: str, p: dict) -> dict:
    transfer = store.get("transfer", transfer_id)
    remaining = transfer["amount"] - transfer["amount_reversed"]
    amount = p.get("amount")
    amount = remaining if amount is None else amount
    if remaining <= 0:
        raise invalid(f"Transfer {transfer_id} has already been fully reversed.", "id", "transfer_already_reversed")
    if amount <= 0:
        raise invalid("Invalid positive integer", "amount")
    if amount > remaining:
        raise invalid(f"Amount ({money(amount, transfer['currency'])}) must be less than or equal to the amount "
                      f"remaining to be reversed ({money(remaining, transfer['currency'])}).", "amount")
    id_ = store.new_id("trr")
    txn = store.transaction(amount, transfer["currency"], "transfer_cancel", id_)
    reversal = store.put({
        "id": id_, "object": "transfer_reversal", "amount": amount, "balance_transaction": txn["id"],
        "created": store.now(), "currency": transfer["currency"],
        "destination_payment_refund": f"pyr_{random_part(24)}", "metadata": meta(p.get("metadata")),
        "source_refund": None, "transfer": transfer_id})
    previous = {"amount_reversed": transfer["amount_reversed"], "reversed": transfer["reversed"]}
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    transfer["reversals"]["data"].insert(0, store.render(reversal))
    transfer["reversals"]["total_count"] += 1
    store.objects[transfer["destination"]]["_balance"] -= amount
    store.emit("transfer.reversed", transfer, previous)
    return reversal


def reverse_for_refund(store: Store, charge: dict, refund_amount: int) -> str:
    transfer = store.objects[charge["transfer"]]
    share = min(round(transfer["amount"] * refund_amount / charge["amount"]),
                transfer["amount"] - transfer["amount_reversed"])
    return create_reversal(store, transfer["id"], {"amount": share})["id"] if share > 0 else None


def balance(store: Store, account_id: str | None = None) -> dict:
    if account_id:
        account = store.get("account", account_id)
        funds = {account["default_currency"]: account.get("_balance", 0)}
    else:
        funds = store.balance or {"usd": 0}
    return {"object": "balance", "livemode": False, "connect_reserved": [{"amount": 0, "currency": c} for c in funds],
            "available": [{"amount": a, "currency": c, "source_types": {"card": a}} for c, a in funds.items()],
            "pending": [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in funds]}
