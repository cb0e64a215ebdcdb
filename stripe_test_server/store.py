"""In-memory state: objects by id, the test clock, events, scheduled work, JSON persistence.

Everything runs on the server's single IOLoop thread, so no locking. Objects are plain dicts in
Stripe's shapes; related objects are stored as ids and expanded on output. Keys that start with
``_`` are private (never rendered).
"""
from __future__ import annotations

import copy
import json
import os
import secrets
import string
import time
from pathlib import Path

from .errors import invalid, no_such
from .params import in_range

API_VERSION = "2026-10-28.endive"
_ALPHABET = string.ascii_letters + string.digits


def random_part(n: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


class Store:
    def __init__(self, state_file: str | None = None):
        self.state_file = Path(state_file) if state_file else None
        self.listeners: list = []  # called with each new event
        self.base_url = "http://127.0.0.1:12111"  # set by the server: hosted pages' URLs
        self.dispute_delay = 2  # seconds from a 0259 payment to its dispute
        self.async_delay = 5  # seconds until a delayed payment settles
        self.clear()
        if self.state_file and self.state_file.exists():
            self.load()

    def clear(self) -> None:
        self.objects: dict[str, dict] = {}
        self.order: dict[str, int] = {}  # id -> insertion sequence (ties in ``created``)
        self.seq = 0
        self.clock_offset = 0
        self.idempotency: dict[str, dict] = {}
        self.scheduled: list[dict] = []  # {"at": ts, "action": str, "id": str, ...}
        self.balance: dict[str, int] = {}  # currency -> available amount
        self.invoice_counter = 0
        self.links: dict[str, dict] = {}  # onboarding link token -> {account, return_url, refresh_url, expires_at}

    # -- time and ids ---------------------------------------------------------------
    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def new_id(self, prefix: str, n: int = 24) -> str:
        while True:
            id_ = f"{prefix}_{random_part(n)}"
            if id_ not in self.objects:
                return id_

    # -- objects --------------------------------------------------------------------
    def put(self, obj: dict) -> dict:
        if obj["id"] not in self.order:
            self.seq += 1
            self.order[obj["id"]] = self.seq
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_type: str, id_, param: str = "id") -> dict:
        obj = self.objects.get(id_) if isinstance(id_, str) else None
        if obj is None or obj.get("object") != object_type or obj.get("deleted"):
            raise no_such(object_type, str(id_), param)
        return obj

    def find(self, object_type: str, pred=lambda o: True) -> list[dict]:
        return [o for o in self.objects.values()
                if o.get("object") == object_type and not o.get("deleted") and pred(o)]

    def page(self, object_type: str, params: dict, url: str, pred=lambda o: True) -> dict:
        """Stripe list: newest first, ``limit`` (1..100), ``starting_after`` / ``ending_before``."""
        limit = params.get("limit") or 10
        if not 1 <= limit <= 100:
            raise invalid("This value must be between 1 and 100 (it currently is %d)." % limit, "limit")
        items = self.find(object_type, lambda o: pred(o) and in_range(o.get("created", 0), params.get("created")))
        items.sort(key=lambda o: (o.get("created", 0), self.order.get(o["id"], 0)), reverse=True)
        ids = [o["id"] for o in items]
        for key in ("starting_after", "ending_before"):
            cursor = params.get(key)
            if cursor and cursor not in ids:
                raise no_such(object_type, cursor, key)
        if params.get("starting_after"):
            items = items[ids.index(params["starting_after"]) + 1:]
            return self.list_object(items[:limit], url, len(items) > limit)
        if params.get("ending_before"):
            items = items[:ids.index(params["ending_before"])]
            return self.list_object(items[-limit:], url, len(items) > limit)
        return self.list_object(items[:limit], url, len(items) > limit)

    @staticmethod
    def list_object(items: list, url: str, has_more: bool = False) -> dict:
        return {"object": "list", "data": items, "has_more": has_more, "url": url}

    # -- rendering ------------------------------------------------------------------
    def render(self, obj, expand=()) -> dict:
        out = _public(copy.deepcopy(obj))
        for path in expand or ():
            self._expand(out, path.split("."), path)
        return out

    def _expand(self, node, parts, full):
        if not parts or not isinstance(node, dict):
            return
        key, rest = parts[0], parts[1:]
        if key == "data" and node.get("object") == "list":
            for item in node["data"]:
                self._expand(item, rest, full)
            return
        value = node.get(key, _MISSING)
        if value is _MISSING:
            raise invalid(f"This property cannot be expanded ({full}).", "expand")
        if isinstance(value, str) and value in self.objects:
            node[key] = value = _public(copy.deepcopy(self.objects[value]))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str) and item in self.objects:
                    value[i] = _public(copy.deepcopy(self.objects[item]))
                self._expand(value[i], rest, full)
            return
        self._expand(value, rest, full)

    # -- events -----------------------------------------------------------------------
    def emit(self, type_: str, obj: dict, previous: dict | None = None, request: dict | None = None,
             account: str | None = None) -> dict:
        event = {
            "id": self.new_id("evt"), "object": "event", "api_version": API_VERSION, "created": self.now(),
            "data": {"object": self.render(obj)}, "livemode": False, "pending_webhooks": 0,
            "request": request or {"id": None, "idempotency_key": None}, "type": type_,
        }
        if previous:
            event["data"]["previous_attributes"] = copy.deepcopy(previous)
        if account:
            event["account"] = account
        self.put(event)
        for listener in self.listeners:
            listener(event)
        return event

    # -- balance ------------------------------------------------------------------------
    def credit(self, currency: str, amount: int) -> None:
        self.balance[currency] = self.balance.get(currency, 0) + amount

    def transaction(self, amount: int, currency: str, type_: str, source: str, fee: int = 0,
                    description: str | None = None) -> dict:
        now = self.now()
        txn = {"id": self.new_id("txn"), "object": "balance_transaction", "amount": amount, "available_on": now,
               "created": now, "currency": currency, "description": description, "exchange_rate": None,
               "fee": fee, "fee_details": ([{"amount": fee, "application": None, "currency": currency,
                                             "description": "Stripe processing fees", "type": "stripe_fee"}]
                                           if fee else []),
               "net": amount - fee, "reporting_category": {"charge": "charge", "refund": "refund",
                                                           "transfer": "transfer",
                                                           "transfer_cancel": "transfer_reversal",
                                                           "adjustment": "dispute"}.get(type_, type_),
               "source": source, "status": "available", "type": type_}
        self.credit(currency, amount - fee)
        return self.put(txn)

    # -- persistence ----------------------------------------------------------------
    def snapshot(self) -> dict:
        return {"objects": list(self.objects.values()), "clock_offset": self.clock_offset,
                "scheduled": self.scheduled, "balance": self.balance, "invoice_counter": self.invoice_counter,
                "links": self.links}

    def save(self) -> None:
        if not self.state_file:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps(self.snapshot()))
        os.replace(tmp, self.state_file)

    def load(self) -> None:
        data = json.loads(self.state_file.read_text())
        for obj in data["objects"]:
            self.put(obj)
        self.clock_offset = data.get("clock_offset", 0)
        self.scheduled = data.get("scheduled", [])
        self.balance = data.get("balance", {})
        self.invoice_counter = data.get("invoice_counter", 0)
        self.links = data.get("links", {})


_MISSING = object()


def _public(value):
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value
