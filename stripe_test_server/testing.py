"""Helpers for tests: the server in a background thread, and a webhook receiver that verifies signatures.

    with running_server(webhook_url=receiver.url, webhook_secret=receiver.secret, retry_base=0.1) as srv:
        client = srv.client()                  # a configured stripe.StripeClient
        session = client.v1.checkout.sessions.create({...})
        srv.pay(session.id)                    # or a real form POST to session.url
        srv.wait_idle()                        # every webhook delivered (or given up)
"""
from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import secrets
import socket
import threading
import time

import requests

from .app import Server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    def __init__(self, server: Server, url: str):
        self.server = server
        self.url = url
        self.api_key = server.api_key
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {server.api_key}"

    def client(self, **kwargs):
        """A ``stripe.StripeClient`` pointed at this server."""
        import stripe

        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url, "connect": self.url,
                                                                 "files": self.url}, **kwargs)

    @contextlib.contextmanager
    def configure_module(self):
        """Point the module-level ``stripe.api_key`` / ``stripe.api_base`` here for the block."""
        import stripe

        saved = stripe.api_key, stripe.api_base, stripe.connect_api_base
        stripe.api_key, stripe.api_base, stripe.connect_api_base = self.api_key, self.url, self.url
        try:
            yield stripe
        finally:
            stripe.api_key, stripe.api_base, stripe.connect_api_base = saved

    def control(self, method: str, path: str, **body) -> dict:
        """Call a ``/_test/`` control; raises on an error status."""
        r = self.http.request(method, f"{self.url}/_test/{path.lstrip('/')}", json=body if body else None, timeout=30)
        if r.status_code >= 400:
            raise ControlError(r.status_code, r.json())
        return r.json()

    def advance(self, seconds: int) -> dict:
        return self.control("POST", "clock/advance", seconds=seconds)

    def pay(self, session_id: str, card: str = "4242424242424242", **details) -> dict:
        return self.control("POST", f"checkout/sessions/{session_id}/pay", card=card, **details)

    def chaos(self, **settings) -> dict:
        return self.control("POST", "webhooks/chaos", **settings) if settings else self.control("DELETE", "webhooks/chaos")

    def release(self, order: str = "fifo", event_ids: list[str] | None = None) -> list[str]:
        body = {"order": order}
        if event_ids:
            body["event_ids"] = event_ids
        return self.control("POST", "webhooks/release", **body)["released"]

    def deliveries(self, **filters) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.control("GET", f"webhooks/deliveries?{query}")["deliveries"]

    def wait_idle(self, timeout: float = 10) -> None:
        """Wait until no webhook delivery is queued or in flight (held ones do not count)."""
        if not self.control("GET", f"webhooks/idle?wait={timeout}")["idle"]:
            raise TimeoutError("webhook deliveries still pending")

    def close_dispute(self, dispute_id: str, outcome: str) -> dict:
        return self.control("POST", f"disputes/{dispute_id}/close", outcome=outcome)

    def reset(self) -> None:
        self.control("POST", "reset")


class ControlError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@contextlib.contextmanager
def running_server(webhook_url: str | None = None, webhook_secret: str | None = None, **opts):
    """Start the server on a free port in a background thread; yields a :class:`RunningServer`.

    ``opts`` are :class:`~stripe_test_server.app.Server` keywords: ``state_file``, ``retry_base``,
    ``max_attempts``, ``dispute_delay``, ``async_delay``, ``port``, ``host``, ``api_key`` (default: a
    random one, in ``.api_key`` of the result).
    """
    host = opts.pop("host", "127.0.0.1")
    port = opts.pop("port", None) or free_port()
    opts.setdefault("retry_base", 0.2)
    server = Server(host=host, port=port, webhook_url=webhook_url, webhook_secret=webhook_secret, **opts)
    ready = threading.Event()
    state: dict = {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        state["loop"] = loop

        async def start():
            state["http"] = server.make_app().listen(port, address=host)
            server.start_background()
            ready.set()
        loop.run_until_complete(start())
        loop.run_forever()
        for task in server.tasks:
            task.cancel()
        state["http"].stop()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    thread = threading.Thread(target=run, name=f"stripe-test-server:{port}", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("Stripe test server did not start")
    try:
        yield RunningServer(server, f"http://{host}:{port}")
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(10)


class WebhookReceiver:
    """A tiny HTTP endpoint that verifies ``Stripe-Signature`` with ``stripe.Webhook.construct_event``.

    ``fail_next(n, status=500)`` makes the next ``n`` requests fail; ``events`` holds verified
    events in arrival order; ``rejected`` holds the errors of requests that failed verification.
    """

    def __init__(self, secret: str | None = None):
        self.secret = secret or f"whsec_{secrets.token_hex(16)}"
        self.events: list[dict] = []
        self.rejected: list[str] = []
        self.requests: list[dict] = []
        self._fail: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                import stripe

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                header = self.headers.get("Stripe-Signature", "")
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    status = receiver._fail.pop(0) if receiver._fail else None
                if status is None:
                    try:
                        event = stripe.Webhook.construct_event(body, header, receiver.secret)
                        with receiver.lock:
                            receiver.events.append(json.loads(body))
                        status = 200 if event else 400
                    except (stripe.SignatureVerificationError, ValueError) as exc:
                        with receiver.lock:
                            receiver.rejected.append(str(exc))
                        status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stripe/webhook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def fail_next(self, n: int, status: int = 500) -> None:
        with self.lock:
            self._fail.extend([status] * n)

    def types(self) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.events]

    def wait_for(self, event_type: str, timeout: float = 10, count: int = 1) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [e for e in self.events if e["type"] == event_type]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"no {event_type} webhook within {timeout}s (got {self.types()})")

    def clear(self) -> None:
        with self.lock:
            self.events.clear()
            self.rejected.clear()
            self.requests.clear()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
