"""Run slots shared fairly between users, with per-user queues and rates."""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__("queue is full")
        self.retry_after = retry_after


class RunPool:
    """At most ``workers`` runs at once, shared fairly between users.

    Waiting runs queue per user and are started round-robin, so one user's batch of
    fifty never delays another user's single run by more than one turn. Each user may
    have ``per_user_queue`` runs waiting and start ``per_user_per_minute`` runs a minute
    (a token bucket); beyond those, or beyond ``queue_size`` waiting in all,
    ``QueueFull`` says when to retry.
    """

    def __init__(self, workers: int, queue_size: int, *, per_user_queue: int | None = None,
                 per_user_per_minute: float | None = None, clock: Callable[[], float] = time.monotonic,
                 limiter: Any = None):
        self.workers = workers
        self.limiter = limiter
        self.queue_size = queue_size
        self.per_user_queue = per_user_queue
        self.per_user_per_minute = per_user_per_minute
        self.clock = clock
        self.reserved = 0  # accepted, not yet started (queued or about to queue)
        self.running = 0
        self._average_seconds = 1.0
        self._queues: collections.OrderedDict[str | None, collections.deque[asyncio.Future]] = collections.OrderedDict()
        self._reserved_by: collections.Counter[str | None] = collections.Counter()
        self._buckets: dict[str | None, tuple[float, float]] = {}  # owner -> (tokens, updated)

    @property
    def waiting(self) -> int:
        return self.reserved

    def _take_tokens(self, owner: str | None, count: int) -> float:
        """Spend ``count`` tokens of ``owner``'s bucket; 0, or seconds until they exist."""
        if self.per_user_per_minute is None:
            return 0.0
        rate = self.per_user_per_minute / 60.0
        capacity = max(self.per_user_per_minute, 1.0)
        if self.limiter is not None:  # the same bucket, shared: GCRA with burst = capacity
            decision = self.limiter.hit(f"runs:{owner}", limit=int(capacity), window=int(capacity) / rate, cost=count)
            return 0.0 if decision.allowed else max(decision.retry_after, 1e-3)
        now = self.clock()
        tokens, updated = self._buckets.get(owner, (capacity, now))
        tokens = min(capacity, tokens + (now - updated) * rate)
        if tokens < count:
            self._buckets[owner] = (tokens, now)
            return (count - tokens) / rate
        self._buckets[owner] = (tokens - count, now)
        return 0.0

    def reserve(self, count: int = 1, owner: str | None = None) -> None:
        """Claim places for ``count`` runs of ``owner``, or raise QueueFull (nothing claimed)."""
        start_now = max(self.workers - self.running, 0)
        if self.reserved + count - start_now > self.queue_size:
            ahead = self.reserved + self.running
            raise QueueFull(max(1, math.ceil(ahead * self._average_seconds / self.workers)))
        if owner is None:
            pass  # anonymous: only the global queue applies
        elif self.per_user_queue is not None and self._reserved_by[owner] + count > self.per_user_queue:
            mine = self._reserved_by[owner]
            raise QueueFull(max(1, math.ceil(mine * self._average_seconds / self.workers)))
        wait = self._take_tokens(owner, count) if owner is not None else 0.0
        if wait:
            raise QueueFull(max(1, math.ceil(wait)))
        self.reserved += count
        self._reserved_by[owner] += count

    def release(self, count: int, owner: str | None = None) -> None:
        """Give back places reserved for runs that were not started after all."""
        self.reserved -= count
        self._reserved_by[owner] -= count

    async def run(self, work: Callable[[], Awaitable[Any]], owner: str | None = None) -> Any:
        """Run ``work`` in a slot when it is ``owner``'s turn; the place must be reserved."""
        turn = asyncio.get_running_loop().create_future()
        self._queues.setdefault(owner, collections.deque()).append(turn)
        self._dispatch()
        try:
            await turn
        except BaseException:
            if not turn.done() or turn.cancelled():
                self._forget(owner, turn)
            else:  # the slot was given to us as we were cancelled: pass it on
                self.running -= 1
                self._dispatch()
            raise
        started = time.monotonic()
        try:
            return await work()
        finally:
            self.running -= 1
            elapsed = time.monotonic() - started
            self._average_seconds = 0.8 * self._average_seconds + 0.2 * elapsed
            self._dispatch()

    def _forget(self, owner: str | None, turn: asyncio.Future) -> None:
        queue = self._queues.get(owner)
        if queue is not None and turn in queue:
            queue.remove(turn)
            self.reserved -= 1
            self._reserved_by[owner] -= 1

    def _dispatch(self) -> None:
        """Start waiting runs while slots are free, one per user in turn (round-robin)."""
        while self.running < self.workers and self._queues:
            owner, queue = next(iter(self._queues.items()))
            turn = queue.popleft()
            if queue:
                self._queues.move_to_end(owner)  # next user's turn
            else:
                del self._queues[owner]
            self.reserved -= 1
            self._reserved_by[owner] -= 1
            if not self._reserved_by[owner]:
                del self._reserved_by[owner]
            self.running += 1
            turn.set_result(None)
