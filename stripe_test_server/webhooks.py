"""Webhook delivery: signed POSTs in the background, retries with backoff, and chaos on demand."""
from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import time

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .store import Store, random_part

log = logging.getLogger("stripe_test_server.webhooks")
STALE_SECONDS = 3600  # beyond stripe.Webhook's default 300 s tolerance
CHAOS_DEFAULTS = {"duplicates": 0, "order": "normal", "hold": False, "delay": 0.0, "bad_signature": False,
                  "stale_timestamp": False}


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value: HMAC-SHA256 of ``"{t}.{payload}"`` with the endpoint secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class Dispatcher:
    def __init__(self, store: Store, static_endpoints=(), retry_base: float = 5.0, max_attempts: int = 8,
                 timeout: float = 10.0):
        self.store = store
        self.static_endpoints = [{"url": u, "secret": s, "enabled_events": ["*"], "_connect": None}
                                 for u, s in static_endpoints]
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.chaos = dict(CHAOS_DEFAULTS)
        self.batch: list[dict] = []
        self.queue: list = []  # heap of (due, seq, delivery)
        self.held: list[dict] = []
        self.attempts: list[dict] = []
        self.inflight = 0
        self.seq = itertools.count()
        self.wakeup: asyncio.Event | None = None
        store.listeners.append(self.batch.append)

    def reset(self) -> None:
        self.chaos = dict(CHAOS_DEFAULTS)
        self.batch.clear()
        self.queue.clear()
        self.held.clear()
        self.attempts.clear()

    def endpoints_for(self, event: dict) -> list[dict]:
        out = []
        for ep in self.static_endpoints + self.store.find("webhook_endpoint", lambda e: e["status"] == "enabled"):
            if "*" not in ep["enabled_events"] and event["type"] not in ep["enabled_events"]:
                continue
            # Connect endpoints get events from connected accounts, the others the platform's own
            if ep.get("_connect") is not None and ep["_connect"] != bool(event.get("account")):
                continue
            out.append(ep)
        return out

    def flush(self) -> None:
        """Queue deliveries for the events emitted by one operation, applying the chaos settings."""
        events, self.batch[:] = list(self.batch), []
        if not events:
            return
        per_endpoint: dict[str, list] = {}
        for event in events:
            for ep in self.endpoints_for(event):
                for copy_no in range(1 + int(self.chaos["duplicates"])):
                    per_endpoint.setdefault(ep["url"], []).append({
                        "id": f"whdel_{random_part(16)}", "event": event, "url": ep["url"], "secret": ep["secret"],
                        "attempt": 0, "copy": copy_no, "bad_signature": self.chaos["bad_signature"],
                        "stale_timestamp": self.chaos["stale_timestamp"]})
                    event["pending_webhooks"] += 1
        due = time.monotonic() + float(self.chaos["delay"])
        for deliveries in per_endpoint.values():
            if self.chaos["order"] == "reverse":
                deliveries.reverse()
            elif self.chaos["order"] == "shuffle":
                random.shuffle(deliveries)
            for d in deliveries:
                if self.chaos["hold"]:
                    self.held.append(d)
                else:
                    self._push(due, d)

    def _push(self, due: float, delivery: dict) -> None:
        heapq.heappush(self.queue, (due, next(self.seq), delivery))
        if self.wakeup:
            self.wakeup.set()

    def release(self, order: str = "fifo", event_ids: list[str] | None = None) -> list[str]:
        """Send held deliveries now: all of them (``fifo``, ``reverse``, ``shuffle``) or the given events in that order."""
        if event_ids:
            chosen = [d for eid in event_ids for d in self.held if d["event"]["id"] == eid]
        else:
            chosen = list(self.held)
            if order == "reverse":
                chosen.reverse()
            elif order == "shuffle":
                random.shuffle(chosen)
        self.held[:] = [d for d in self.held if d not in chosen]
        now = time.monotonic()
        for d in chosen:
            self._push(now, d)
        return [d["event"]["id"] for d in chosen]

    def idle(self) -> bool:
        return not self.queue and not self.inflight and not self.batch

    async def run(self) -> None:
        self.wakeup = asyncio.Event()
        client = AsyncHTTPClient()
        while True:
            if not self.queue:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            due, _, delivery = self.queue[0]
            wait = due - time.monotonic()
            if wait > 0:
                self.wakeup.clear()
                try:
                    await asyncio.wait_for(self.wakeup.wait(), wait)
                except asyncio.TimeoutError:
                    pass
                continue
            heapq.heappop(self.queue)
            self.inflight += 1
            try:
                await self._deliver(client, delivery)
            finally:
                self.inflight -= 1

    async def _deliver(self, client, d: dict) -> None:
        d["attempt"] += 1
        payload = json.dumps(d["event"], indent=2)
        t = int(time.time()) - (STALE_SECONDS if d["stale_timestamp"] else 0)
        secret = ("whsec_wrong" + d["secret"]) if d["bad_signature"] else d["secret"]
        header = sign(payload, secret, t)
        status, error = None, None
        try:
            response = await client.fetch(HTTPRequest(
                d["url"], method="POST", body=payload, request_timeout=self.timeout, follow_redirects=False,
                headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
                         "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                         "Cache-Control": "no-cache", "Accept": "*/*; q=0.5, application/xml"}), raise_error=False)
            status = response.code if response.code != 599 else None
            if status is None:
                error = str(response.error)
        except Exception as exc:  # noqa: BLE001 - a receiver that is down is an outcome to record
            error = str(exc)
        ok = status is not None and 200 <= status < 300
        record = {"delivery": d["id"], "event": d["event"]["id"], "type": d["event"]["type"], "url": d["url"],
                  "attempt": d["attempt"], "copy": d["copy"], "status": status, "error": error, "ok": ok,
                  "at": time.time(), "signature": header, "bad_signature": d["bad_signature"],
                  "stale_timestamp": d["stale_timestamp"]}
        self.attempts.append(record)
        if ok:
            d["event"]["pending_webhooks"] = max(0, d["event"]["pending_webhooks"] - 1)
            return
        if d["attempt"] >= self.max_attempts:
            log.warning("giving up on %s to %s after %d attempts", d["event"]["id"], d["url"], d["attempt"])
            record["gave_up"] = True
            return
        backoff = min(self.retry_base * 2 ** (d["attempt"] - 1), 3600)
        record["next_attempt_in"] = backoff
        self._push(time.monotonic() + backoff, d)
