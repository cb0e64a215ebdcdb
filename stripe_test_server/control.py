"""``/_test/...``: controls for tests and demos. Not part of Stripe's API (documented in README.md)."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import tornado.web

from . import checkout, connect, subscriptions
from .charges import close_dispute, open_dispute
from .errors import StripeError, invalid
from .webhooks import CHAOS_DEFAULTS

log = logging.getLogger("stripe_test_server")

CONTROLS = {
    "GET /_test/clock": "the test clock: {now, offset}",
    "POST /_test/clock/advance {seconds}": "move the clock forward; renews subscriptions, expires sessions, "
                                           "opens scheduled disputes, settles async payments",
    "POST /_test/tick": "run work that is due now",
    "POST /_test/checkout/sessions/{id}/pay {card|iban, exp_month, exp_year, cvc, email, name, country}":
        "pay a Checkout Session without the browser (402 card_error on decline)",
    "GET|POST|DELETE /_test/webhooks/chaos {duplicates, order, hold, delay, bad_signature, stale_timestamp}":
        "webhook delivery chaos (DELETE resets)",
    "GET /_test/webhooks/held": "event ids held back by chaos hold",
    "POST /_test/webhooks/release {order: fifo|reverse|shuffle, event_ids: [...]}": "deliver held events",
    "GET /_test/webhooks/deliveries ?event=&type=&url=": "every delivery attempt with its status code",
    "GET /_test/webhooks/idle ?wait=SECONDS": "whether no delivery is queued or in flight (waits up to wait)",
    "POST /_test/charges/{id}/dispute {reason}": "open a dispute on a charge now",
    "POST /_test/disputes/{id}/close {outcome: won|lost}": "close a dispute",
    "POST /_test/accounts/{id}/onboard {business_name}": "finish Connect onboarding without the page",
    "POST /_test/subscriptions/{id}/card {card}": "the card future renewals are charged to",
    "POST /_test/balance {amount, currency}": "add funds to the platform's available balance",
    "POST /_test/reset": "forget all state (objects, events, clock, chaos, delivery log)",
}


class ControlHandler(tornado.web.RequestHandler):
    def initialize(self, server):
        self.server = server
        self.store = server.store

    def check_xsrf_cookie(self):
        pass

    def body_params(self) -> dict:
        raw = self.request.body.decode("utf-8", "replace").strip()
        if not raw:
            return {}
        if raw.startswith("{"):
            try:
                return json.loads(raw)
            except ValueError:
                raise invalid("Invalid JSON body") from None
        return {k: v[-1].decode() for k, v in self.request.body_arguments.items()}

    def send(self, body, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, indent=2))

    async def get(self, path):
        await self.dispatch("GET", path)

    async def post(self, path):
        await self.dispatch("POST", path)

    async def delete(self, path):
        await self.dispatch("DELETE", path)

    async def dispatch(self, method, path):
        from .app import request_key

        if not self.server.key_matches(request_key(self.request)):
            # the controls pay, refund, expire and rewind anything: only the key holder may use them
            self.send({"error": {"type": "invalid_request_error", "message": "The test controls need the server's "
                                 "secret key: 'Authorization: Bearer sk_test_...'."}}, 401)
            return
        try:
            result = await self.route(method, path, self.body_params())
            self.server.commit()
            self.send(result)
        except StripeError as exc:
            self.server.commit()
            self.send(exc.body(), exc.status)
        except Exception:  # noqa: BLE001 - answer JSON, keep the details in the log
            log.exception("%s /_test/%s failed", method, path)
            self.server.commit()
            self.send({"error": {"type": "api_error", "message": "test control failed (see the server log)"}}, 500)

    async def route(self, method, path, b):
        store, hooks = self.store, self.server.webhooks
        q = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        m = re.fullmatch(r"(\w+(?:/sessions)?)/([^/]+)/(\w+)", path)
        kind, id_, action = m.groups() if m else (None, None, None)
        if path in ("", "/") and method == "GET":
            return {"controls": CONTROLS}
        if path == "clock" and method == "GET":
            return {"now": store.now(), "offset": store.clock_offset}
        if path == "clock/advance" and method == "POST":
            seconds = _int(b.get("seconds"), "seconds")
            if seconds < 0:
                raise invalid("The test clock only moves forward.", "seconds")
            store.clock_offset += seconds
            self.server.tick()
            return {"now": store.now(), "offset": store.clock_offset}
        if path == "tick" and method == "POST":
            return {"did_work": self.server.tick()}
        if kind == "checkout/sessions" and action == "pay" and method == "POST":
            session = store.get("checkout.session", id_)
            t = time.gmtime(store.now())
            session = checkout.pay(
                store, session, card=b.get("card"), iban=b.get("iban"),
                exp_month=_int(b.get("exp_month", 12), "exp_month"),
                exp_year=_int(b.get("exp_year", t.tm_year + 3), "exp_year"), cvc=str(b.get("cvc", "123")),
                email=b.get("email"), name=b.get("name"), country=b.get("country"))
            return checkout.render_session(store, session)
        if path == "webhooks/chaos":
            if method == "DELETE":
                hooks.chaos = dict(CHAOS_DEFAULTS)
            elif method == "POST":
                for key, value in b.items():
                    if key not in CHAOS_DEFAULTS:
                        raise invalid(f"Unknown chaos setting: {key}", key)
                    hooks.chaos[key] = _chaos_value(key, value)
            return hooks.chaos
        if path == "webhooks/held" and method == "GET":
            return {"held": [d["event"]["id"] for d in hooks.held]}
        if path == "webhooks/release" and method == "POST":
            order = b.get("order", "fifo")
            if order not in ("fifo", "reverse", "shuffle"):
                raise invalid("order must be fifo, reverse or shuffle", "order")
            return {"released": hooks.release(order, b.get("event_ids"))}
        if path == "webhooks/deliveries" and method == "GET":
            rows = [a for a in hooks.attempts if all(a.get(k) == v for k, v in q.items() if k in
                                                     ("event", "type", "url"))]
            return {"deliveries": rows}
        if path == "webhooks/idle" and method == "GET":
            deadline = time.monotonic() + float(q.get("wait", 0))
            while not hooks.idle() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return {"idle": hooks.idle(), "queued": len(hooks.queue), "held": len(hooks.held)}
        if kind == "charges" and action == "dispute" and method == "POST":
            return store.render(open_dispute(store, store.get("charge", id_), b.get("reason", "fraudulent")))
        if kind == "disputes" and action == "close" and method == "POST":
            outcome = b.get("outcome")
            if outcome not in ("won", "lost"):
                raise invalid("outcome must be won or lost", "outcome")
            return store.render(close_dispute(store, store.get("dispute", id_), outcome))
        if kind == "accounts" and action == "onboard" and method == "POST":
            return store.render(connect.complete_onboarding(store, store.get("account", id_), b.get("business_name")))
        if kind == "subscriptions" and action == "card" and method == "POST":
            if not b.get("card"):
                raise invalid("card is required", "card")
            return store.render(subscriptions.set_card(store, store.get("subscription", id_), str(b["card"])))
        if path == "balance" and method == "POST":
            currency = str(b.get("currency", "usd")).lower()
            store.credit(currency, _int(b.get("amount"), "amount"))
            return {"available": store.balance}
        if path == "reset" and method == "POST":
            base_url, dispute_delay, async_delay = store.base_url, store.dispute_delay, store.async_delay
            store.clear()
            store.base_url, store.dispute_delay, store.async_delay = base_url, dispute_delay, async_delay
            hooks.reset()
            return {"reset": True}
        raise StripeError(404, "invalid_request_error", f"Unrecognized test control ({method}: /_test/{path}). "
                                                        "GET /_test/ lists them.")


def _int(value, name) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"{name} must be an integer", name) from None


def _chaos_value(key, value):
    kind = type(CHAOS_DEFAULTS[key])
    if kind is bool:
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes", "on")
        return bool(value)
    if key == "order":
        if value not in ("normal", "reverse", "shuffle"):
            raise invalid("order must be normal, reverse or shuffle", "order")
        return value
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise invalid(f"{key} must be a number", key) from None
    if value < 0:
        raise invalid(f"{key} must not be negative", key)
    return value
