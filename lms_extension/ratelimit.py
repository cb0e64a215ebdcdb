"""Rate limits shared by every replica: Redis when configured, this process otherwise.

One algorithm everywhere, GCRA (a token bucket kept as one timestamp): ``limit`` hits
may come at once, after which one more is allowed every ``window / limit`` seconds.
Each key holds its "theoretical arrival time" (TAT); a hit moves it ``cost`` intervals
into the future and is refused when that would put it more than ``window`` ahead.

Implementations behave the same and are chosen by URL (``limiter_from_url``):

- ``redis://`` / ``rediss://`` / ``unix://``: one Lua script per hit, timed by the Redis
  server's clock, so all replicas (and all their clocks) count as one;
- ``sqlite:///path``: a file that survives restarts, for one host without Redis (the hub's
  login throttle);
- nothing: a dictionary in this process (one replica only).

Nothing here imports Tornado; callers turn a refused ``Decision`` into their own error.
"""
from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger("lms.ratelimit")

DEFAULT_PREFIX = "lms:rl:"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until the same hit would be allowed; 0 when allowed
    remaining: int  # hits still allowed right now after this one

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds for a Retry-After header (at least 1 when refused)."""
        return 0 if self.allowed else max(1, math.ceil(self.retry_after))


def _check(limit: int, window: float, cost: int) -> None:
    # a negative cost is a refund (``RateLimiter.refund``)
    if limit < 1 or window <= 0 or cost == 0:
        raise ValueError("a rate limit needs limit >= 1, window > 0 and cost >= 1")


def _decide(tat: float | None, now: float, *, limit: int, window: float, cost: int) -> tuple[Decision, float]:
    """GCRA step on plain numbers: the decision and the TAT to store (unchanged if refused)."""
    interval = window / limit
    tat = now if tat is None or tat < now else tat
    new_tat = tat + cost * interval
    ahead = new_tat - now
    if ahead > window + 1e-9:
        remaining = max(0, math.floor((window - (tat - now)) / interval + 1e-9))
        return Decision(False, ahead - window, remaining), tat
    return Decision(True, 0.0, max(0, math.floor((window - ahead) / interval + 1e-9))), new_tat


class RateLimiter:
    """Interface: ``hit`` records and decides, ``peek`` only decides, ``refund`` gives back
    hits that turned out not to count, ``reset`` forgets a key."""

    def _step(self, key: str, limit: int, window: float, cost: int, record: bool) -> Decision:
        raise NotImplementedError

    def hit(self, key: str, *, limit: int, window: float, cost: int = 1) -> Decision:
        if cost < 1:
            raise ValueError("cost must be at least 1")
        return self._step(key, limit, window, cost, True)

    def peek(self, key: str, *, limit: int, window: float, cost: int = 1) -> Decision:
        if cost < 1:
            raise ValueError("cost must be at least 1")
        return self._step(key, limit, window, cost, False)

    def refund(self, key: str, *, limit: int, window: float, cost: int = 1) -> None:
        if cost < 1:
            raise ValueError("cost must be at least 1")
        self._step(key, limit, window, -cost, True)

    def reset(self, key: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class InProcessRateLimiter(RateLimiter):
    """The same limits kept in this process: right for one replica, wrong for several."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def _step(self, key: str, limit: int, window: float, cost: int, record: bool) -> Decision:
        _check(limit, window, cost)
        with self._lock:
            now = self._clock()
            decision, tat = _decide(self._tats.get(key), now, limit=limit, window=window, cost=cost)
            if record and decision.allowed:
                if len(self._tats) >= self._max_keys:
                    self._prune(now)
                self._tats[key] = tat
            return decision

    def _prune(self, now: float) -> None:
        # a TAT in the past means a full bucket: forgetting the key changes nothing
        for stale in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[stale]

    def reset(self, key):
        with self._lock:
            self._tats.pop(key, None)


# KEYS[1]: the key; ARGV: interval (ms), window (ms), cost, record (1/0).
# Returns {allowed, retry_after_ms, remaining} as strings (Lua numbers would be truncated).
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + cost * interval
local ahead = new_tat - now
if ahead > window + 0.000001 then
  local remaining = math.max(0, math.floor((window - (tat - now)) / interval + 0.000001))
  return {'0', tostring(ahead - window), tostring(remaining)}
end
if ARGV[4] == '1' then
  redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.max(1, math.ceil(ahead)))
end
return {'1', '0', tostring(math.max(0, math.floor((window - ahead) / interval + 0.000001)))}
"""


class RedisRateLimiter(RateLimiter):
    """Limits in Redis, shared by every process that uses the same server and prefix.

    If Redis does not answer, the hit is allowed and logged: an outage of the limiter
    must not take the platform down with it.
    """

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, client=None):
        import redis  # only needed when Redis is configured

        self.prefix = prefix
        self._redis_errors = (redis.RedisError, OSError)
        self._client = client or redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30)
        self._script = self._client.register_script(_GCRA_LUA)

    def _step(self, key: str, limit: int, window: float, cost: int, record: bool) -> Decision:
        _check(limit, window, cost)
        interval_ms = window * 1000.0 / limit
        try:
            allowed, retry_ms, remaining = self._script(
                keys=[self.prefix + key],
                args=[repr(interval_ms), repr(window * 1000.0), cost, "1" if record else "0"])
        except self._redis_errors as exc:
            log.error("rate limiter: Redis unavailable, allowing %s: %s", key, exc)
            return Decision(True, 0.0, limit)
        return Decision(allowed in (b"1", "1"), float(retry_ms) / 1000.0, int(float(remaining)))

    def reset(self, key):
        try:
            self._client.delete(self.prefix + key)
        except self._redis_errors as exc:
            log.error("rate limiter: Redis unavailable, could not reset %s: %s", key, exc)

    def close(self):
        self._client.close()


class SQLiteRateLimiter(RateLimiter):
    """Limits in a SQLite file: they survive restarts of a single-host process.

    Timed by the wall clock (a monotonic clock restarts with the process). Each step is
    one ``BEGIN IMMEDIATE`` transaction, so several processes on the host count as one.
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=5.0, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS rate_limits "
                           "(key TEXT PRIMARY KEY, tat REAL NOT NULL, expires REAL NOT NULL)")
        self._steps = 0

    def _step(self, key: str, limit: int, window: float, cost: int, record: bool) -> Decision:
        _check(limit, window, cost)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock()
                row = conn.execute("SELECT tat FROM rate_limits WHERE key = ?", (key,)).fetchone()
                decision, tat = _decide(row[0] if row else None, now, limit=limit, window=window, cost=cost)
                if record and decision.allowed:
                    conn.execute("INSERT INTO rate_limits (key, tat, expires) VALUES (?, ?, ?) "
                                 "ON CONFLICT (key) DO UPDATE SET tat = excluded.tat, expires = excluded.expires",
                                 (key, tat, tat))
                    self._steps += 1
                    if self._steps % 1000 == 0:
                        conn.execute("DELETE FROM rate_limits WHERE expires < ?", (now,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return decision

    def reset(self, key):
        with self._lock:
            self._conn.execute("DELETE FROM rate_limits WHERE key = ?", (key,))

    def close(self):
        self._conn.close()


def limiter_from_url(url: str | None, *, prefix: str = DEFAULT_PREFIX) -> RateLimiter:
    """The limiter for ``url``: Redis (``redis://``, ``rediss://``, ``unix://``), a SQLite
    file (``sqlite:///path``), or this process when ``url`` is empty."""
    if not url:
        return InProcessRateLimiter()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(url, prefix=prefix)
    if url.startswith("sqlite:///"):
        return SQLiteRateLimiter(url[len("sqlite:///"):])
    raise ValueError(f"rate limiter URL must start with redis://, rediss://, unix:// or sqlite:///, not {url!r}")


def parse_rate(spec: str | None) -> tuple[int, float] | None:
    """``"COUNT/SECONDS"`` (``"300/60"``) as ``(count, seconds)``; ``None`` for ``""`` or ``"0"`` (no limit)."""
    spec = (spec or "").strip()
    if spec in ("", "0"):
        return None
    count, sep, seconds = spec.partition("/")
    try:
        limit, window = int(count), float(seconds if sep else "60")
    except ValueError:
        raise ValueError(f"a rate must look like COUNT/SECONDS (e.g. 300/60), not {spec!r}") from None
    if limit < 1 or window <= 0:
        raise ValueError(f"a rate needs COUNT >= 1 and SECONDS > 0, not {spec!r}")
    return limit, window
