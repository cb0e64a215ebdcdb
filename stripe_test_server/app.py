"""Tornado application: the Stripe API under ``/v1``, hosted pages, and ``/_test`` controls."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets

import tornado.web

from . import api, checkout, control, pages, subscriptions
from .charges import open_dispute
from .errors import StripeError, invalid
from .params import check, decode_form
from .store import API_VERSION, Store
from .webhooks import Dispatcher

log = logging.getLogger("stripe_test_server")


class Server:
    """The state plus the background work around it (scheduled events, webhook delivery)."""

    def __init__(self, *, host="127.0.0.1", port=12111, public_url=None, webhook_url=None, webhook_secret=None,
                 state_file=None, retry_base=5.0, max_attempts=8, dispute_delay=2, async_delay=5, api_key=None):
        if api_key is not None and not (api_key.startswith("sk_test_") and len(api_key) > len("sk_test_")):
            raise ValueError("the secret key must be a test-mode key (sk_test_...)")
        # the one key this server answers to: whoever reaches its port without it can neither
        # read the platform's payments nor refund, pay or expire them
        self.api_key = api_key or f"sk_test_{secrets.token_urlsafe(32)}"
        self.store = Store(state_file)
        self.store.base_url = (public_url or f"http://{host}:{port}").rstrip("/")
        self.store.dispute_delay = dispute_delay
        self.store.async_delay = async_delay
        endpoints = [(webhook_url, webhook_secret)] if webhook_url else []
        if webhook_url and not webhook_secret:
            raise ValueError("--webhook-url needs a webhook secret (whsec_...): STRIPE_WEBHOOK_SECRET or "
                             "--webhook-secret-file")
        self.webhooks = Dispatcher(self.store, endpoints, retry_base=retry_base, max_attempts=max_attempts)
        self.tasks: list[asyncio.Task] = []

    def key_matches(self, key: str | None) -> bool:
        return bool(key) and hmac.compare_digest(key.encode(), self.api_key.encode())

    def commit(self, save: bool = True) -> None:
        """End of an operation: queue its events for delivery and persist."""
        self.webhooks.flush()
        if save:
            self.store.save()

    def tick(self) -> bool:
        """Run work that is due by the (test) clock. Returns whether anything happened."""
        store, now, did = self.store, self.store.now(), False
        for task in sorted([t for t in store.scheduled if t["at"] <= now], key=lambda t: t["at"]):
            store.scheduled.remove(task)
            did = True
            if task["action"] == "dispute":
                charge = store.objects.get(task["id"])
                if charge and not charge["disputed"] and charge["status"] == "succeeded":
                    open_dispute(store, charge)
            elif task["action"] == "settle":
                checkout.settle(store, task)
        for session in store.find("checkout.session", lambda s: s["status"] == "open" and s["expires_at"] <= now):
            checkout.expire_session(store, session)
            did = True
        for _ in range(1000):  # several periods may have passed
            due = store.find("subscription", lambda s: s["status"] in ("active", "past_due")
                             and s["items"]["data"] and s["items"]["data"][0]["current_period_end"] <= now)
            if not due:
                break
            for sub in due:
                subscriptions.renew(store, sub)
            did = True
        if did:
            self.commit()
        return did

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - keep serving; the error is in the log
                log.exception("scheduled work failed")

    def start_background(self) -> None:
        loop = asyncio.get_event_loop()
        self.tasks = [loop.create_task(self.webhooks.run()), loop.create_task(self._ticker())]

    def make_app(self) -> tornado.web.Application:
        return tornado.web.Application([
            (r"/v1/(.*)", ApiHandler, {"server": self}),
            (r"/_test/(.*)", control.ControlHandler, {"server": self}),
            *pages.handlers(self),
            (r"/", IndexHandler, {"server": self}),
            (r"/(.*)", NotFoundHandler),
        ], xsrf_cookies=False)


class BaseJSON(tornado.web.RequestHandler):
    def initialize(self, server: Server):
        self.server = server
        self.store = server.store

    def check_xsrf_cookie(self):
        pass

    def send_json(self, body, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, indent=2))


class ApiHandler(BaseJSON):
    async def get(self, path):
        self.handle("GET", path)

    async def post(self, path):
        self.handle("POST", path)

    async def delete(self, path):
        self.handle("DELETE", path)

    def handle(self, method: str, path: str) -> None:
        request_id = f"req_{secrets.token_hex(7)}"
        self.set_header("Request-Id", request_id)
        self.set_header("Stripe-Version", self.request.headers.get("Stripe-Version", API_VERSION))
        try:
            self.authenticate()
            full_path = "/v1/" + path
            found = api.find_route(method, full_path)
            if found is None:
                raise StripeError(404, "invalid_request_error",
                                  f"Unrecognized request URL ({method}: {full_path}). Please see https://stripe.com/docs "
                                  f"or we can help at https://support.stripe.com/.")
            schema, fn, args = found
            raw = decode_form(self.request.query)
            if method == "POST" and self.request.body:
                ctype = self.request.headers.get("Content-Type", "")
                if "json" in ctype:
                    raise invalid("Invalid request: Stripe's v1 API takes form-encoded parameters "
                                  "(application/x-www-form-urlencoded), not JSON.")
                body = decode_form(self.request.body.decode("utf-8", "replace"))
                raw.update(body)
            params = check(schema, raw)
            account = self.request.headers.get("Stripe-Account")
            if account:
                self.store.get("account", account, "Stripe-Account")
            key = self.request.headers.get("Idempotency-Key") if method == "POST" else None
            if key:
                replay = self.idempotent(key, full_path, raw)
                if replay:
                    return
            try:
                body, status = fn(api.Ctx(self.store, account), params, **args), 200
            except StripeError as exc:
                body, status = exc.body(), exc.status
            if key:
                self.store.idempotency[key] = {"path": full_path, "fingerprint": self._fingerprint(full_path, raw),
                                               "status": status, "body": body, "at": self.store.now()}
            self.server.commit(save=method != "GET")
            self.send_json(body, status)
        except StripeError as exc:
            self.server.commit()
            self.send_json(exc.body(), exc.status)
        except Exception:  # noqa: BLE001 - Stripe answers api_error, never an HTML 500
            log.exception("%s /v1/%s failed", method, path)
            self.server.commit()
            self.send_json({"error": {"type": "api_error", "message": "An unknown error occurred in the Stripe test "
                                      "server (see its log)."}}, 500)

    @staticmethod
    def _fingerprint(path: str, raw: dict) -> str:
        return hashlib.sha256(json.dumps([path, raw], sort_keys=True).encode()).hexdigest()

    def idempotent(self, key: str, path: str, raw: dict) -> bool:
        saved = self.store.idempotency.get(key)
        if not saved or saved["at"] < self.store.now() - 24 * 3600:  # Stripe keeps keys for 24 hours
            return False
        if saved["fingerprint"] != self._fingerprint(path, raw):
            raise StripeError(400, "idempotency_error",
                              "Keys for idempotent requests can only be used with the same parameters they were first "
                              f"used with. Try using a key other than '{key}' if you meant to execute a different "
                              "request.")
        self.set_header("Idempotent-Replayed", "true")
        self.send_json(saved["body"], saved["status"])
        return True

    def authenticate(self) -> None:
        key = request_key(self.request)
        if not key:
            raise StripeError(401, "invalid_request_error",
                              "You did not provide an API key. You need to provide your API key in the Authorization "
                              "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                              "https://stripe.com/docs/api#authentication for details, or we can help at "
                              "https://support.stripe.com/.")
        if not self.server.key_matches(key):
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
            raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {shown}")


def request_key(request) -> str | None:
    """The secret key of a request, sent as Stripe's SDKs do (Bearer) or as curl -u does (Basic)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip() or None
    if header.startswith("Basic "):
        try:
            return base64.b64decode(header[6:]).decode().split(":", 1)[0] or None
        except ValueError:
            return None
    return None


class IndexHandler(BaseJSON):
    def get(self):
        self.send_json({"name": "Stripe test server", "api_version": API_VERSION, "api_base": self.store.base_url,
                        "docs": "stripe_test_server/README.md", "controls": "/_test/"})


class NotFoundHandler(tornado.web.RequestHandler):
    def prepare(self):
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": {"type": "invalid_request_error", "message":
                                          f"Unrecognized request URL ({self.request.method}: {self.request.path})."}}))
