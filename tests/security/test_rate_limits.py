"""Rate limits are shared by every LMS service process through Redis, and kept per process
when no Redis is configured.

One real platform (hub, proxy, LMS service, Stripe test server) on real Redis, plus a second
``lms service`` process started with the managed service's own environment on another port:
two replicas of the LMS behind one hub, one database and one Redis. Hits alternate between
the replicas and must be limited as one. A third process without ``LMS_REDIS_URL`` shows the
in-process fallback.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import sys
import time

import pytest
import redis
import requests

from tests.e2e.platform import REPO, Platform, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
PAID = "data-analysis-with-pandas"
LIMITS = {"LMS_RATE_LIMIT_QUOTE": "6/60", "LMS_RATE_LIMIT_API_WRITES": "8/60",
          "LMS_RATE_LIMIT_CHECKOUT": "3/60", "LMS_RATE_LIMIT_CODE_RUNS": "4/60"}


def _service_environment(p: Platform) -> dict[str, str]:
    """The environment the hub gave its managed LMS service (what a replica needs to run)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            if b"lms_extension.cli" not in cmdline or b"service" not in cmdline:
                continue
            env = dict(item.split("=", 1) for item in
                       open(f"/proc/{pid}/environ", "rb").read().decode().split("\0") if "=" in item)
        except OSError:
            continue
        if env.get("LMS_PORT") == str(p.port):
            return env
    raise AssertionError("the platform's LMS service process was not found")


class Replica:
    """Another ``lms service`` process of the same platform, on a port of its own."""

    def __init__(self, p: Platform, tmp_path, **env_changes):
        self.port = free_port()
        env = {**_service_environment(p), **env_changes,
               "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{self.port}"}
        env = {k: v for k, v in env.items() if v is not None}
        self.log_path = tmp_path / f"replica-{self.port}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "service"], env=env, cwd=REPO,
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        self.lms = f"http://127.0.0.1:{self.port}/services/lms/"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            try:
                if requests.get(self.lms + "api/v1/courses", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(self.log_path.read_text())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)


@pytest.fixture(scope="module")
def redis_prefix():
    prefix = f"test-{secrets.token_hex(6)}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, redis_prefix):
    tmp = tmp_path_factory.mktemp("rate-limits")
    p = Platform(tmp / "data", extra_env={"LMS_REDIS_URL": REDIS_URL, "LMS_REDIS_PREFIX": redis_prefix,
                                          **LIMITS}).start()
    second = Replica(p, tmp)
    # the first replica is the hub-managed one, reached directly like the second
    yield p, [f"http://127.0.0.1:{p.service_port}/services/lms/", second.lms], tmp
    second.stop()
    p.stop()


def _spread(urls, n, send):
    """``n`` requests alternating between the replicas; their responses in order."""
    return [send(urls[i % len(urls)]) for i in range(n)]


def _assert_limited(responses, allowed):
    statuses = [r.status_code for r in responses]
    assert all(s != 429 for s in statuses[:allowed]), statuses
    limited = responses[allowed]
    assert limited.status_code == 429, statuses
    assert int(limited.headers["Retry-After"]) >= 1
    body = limited.json()
    assert body["error"] == "too_many_requests" and "try again in" in body["message"], body
    return statuses


def test_quote_limit_is_shared_by_the_replicas(replicas):
    p, urls, _ = replicas
    responses = _spread(urls, 7, lambda url: requests.post(url + "api/v1/payments/quote",
                                                           json={"course": PAID, "country": "DE"}))
    assert [r.status_code for r in responses[:6]] == [200] * 6
    _assert_limited(responses, 6)


def test_api_writes_limit_is_shared_by_the_replicas(replicas):
    p, urls, _ = replicas
    token = p.token("rl-writer")
    responses = _spread(urls, 9, lambda url: requests.put(url + f"api/v1/me/wishlist/{PAID}",
                                                          headers={"Authorization": f"token {token}"}))
    assert {r.status_code for r in responses[:8]} <= {200, 201}, [r.text for r in responses]
    _assert_limited(responses, 8)
    # per user: another user is not held back
    other = p.token("rl-other-writer")
    assert requests.put(urls[1] + f"api/v1/me/wishlist/{PAID}",
                        headers={"Authorization": f"token {other}"}).status_code in (200, 201)


def test_checkout_limit_is_shared_by_the_replicas(replicas):
    p, urls, _ = replicas
    token = p.token("rl-buyer")
    responses = _spread(urls, 4, lambda url: requests.post(
        url + "api/v1/payments/checkout", json={"course": PAID, "country": "DE"},
        headers={"Authorization": f"token {token}"}))
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    _assert_limited(responses, 3)


def test_code_run_limit_is_shared_by_the_replicas(replicas):
    p, urls, _ = replicas
    token = p.token("rl-coder")
    run = {"language_id": 71, "source_code": "print(6 * 7)"}
    responses = _spread(urls, 5, lambda url: requests.post(
        url + "api/judge0/submissions?wait=true", json=run, headers={"Authorization": f"token {token}"}))
    assert [r.status_code for r in responses[:4]] == [201] * 4, [r.text for r in responses]
    assert all(r.json()["stdout"] == "42\n" for r in responses[:4])
    limited = responses[4]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1, limited.text


def test_without_redis_one_process_limits_itself(replicas):
    """The fallback: a replica without LMS_REDIS_URL keeps its own counts, and enforces them."""
    p, _, tmp = replicas
    alone = Replica(p, tmp, LMS_REDIS_URL=None)
    try:
        responses = [requests.post(alone.lms + "api/v1/payments/quote", json={"course": PAID})
                     for _ in range(7)]
        assert [r.status_code for r in responses[:6]] == [200] * 6
        _assert_limited(responses, 6)
    finally:
        alone.stop()


def test_login_throttle_lives_in_redis(replicas, redis_prefix):
    """The hub counts failed logins in the same Redis, so hub replicas and restarts share them."""
    p, _, _ = replicas
    s = requests.Session()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', s.get(f"{p.url}/hub/login").text).group(1)

    def login(password):
        return s.post(f"{p.url}/hub/login", allow_redirects=False,
                      data={"username": "student2", "password": password, "_xsrf": xsrf})

    assert [login("wrong-password-42").status_code for _ in range(5)] == [403] * 5
    assert login(p.demo_password).status_code == 429
    key = f"{redis_prefix}login:user:{hashlib.sha256(b'student2').hexdigest()}"
    assert redis.Redis.from_url(REDIS_URL).exists(key)


@pytest.fixture(params=["in-process", "redis", "sqlite"])
def limiter(request, redis_prefix, tmp_path):
    from lms_extension.ratelimit import limiter_from_url

    url = {"in-process": None, "redis": REDIS_URL, "sqlite": f"sqlite:///{tmp_path / 'limits.sqlite'}"}[request.param]
    made = limiter_from_url(url, prefix=redis_prefix + "unit:")
    yield made
    made.close()


def test_the_implementations_count_alike(limiter):
    """Same answers from each implementation: a burst of `limit`, then one every window/limit."""
    key = "k" + secrets.token_hex(4)
    decisions = [limiter.hit(key, limit=3, window=30) for _ in range(4)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert 9 < decisions[-1].retry_after <= 10 and decisions[-1].retry_after_seconds == 10
    assert not limiter.peek(key, limit=3, window=30).allowed
    limiter.refund(key, limit=3, window=30)  # a hit that did not count after all
    assert limiter.hit(key, limit=3, window=30).allowed
    assert not limiter.hit(key, limit=3, window=30, cost=2).allowed  # all or nothing
    limiter.reset(key)
    assert limiter.hit(key, limit=3, window=30, cost=3).allowed
    other = "o" + secrets.token_hex(4)
    assert [limiter.hit(other, limit=2, window=0.4).allowed for _ in range(3)] == [True, True, False]
    time.sleep(0.25)  # one interval (0.2 s) later, one more
    assert limiter.hit(other, limit=2, window=0.4).allowed
