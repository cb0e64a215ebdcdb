"""Web push for real: a browser subscribes through the API, a notification is made with
``notify``, ``lms worker``'s delivery sends it with pywebpush, and the local push service
checks the VAPID JWT and decrypts the payload (RFC 8291) before recording it."""
from __future__ import annotations

import asyncio
import base64
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from lms_extension.models.push import DEAD, FAILED, QUEUED, SENT, PushOutbox, PushSubscription
from lms_extension.services import notifications, push
from tests.factories import make_user
from tests.push.push_server import b64url


def _user(service, name):
    with service.factory() as db:
        uid = make_user(db, name).id
        db.commit()
    return uid


def _browser(service, push_service, name):
    """A browser of ``name`` that subscribed on the preferences page (through the API)."""
    api = service.client(name)
    info = api.api("GET", "api/v1/me/push-subscriptions")
    assert info.status_code == 200, info.text
    sub = push_service.subscribe(info.json()["public_key"])
    r = api.api("POST", "api/v1/me/push-subscriptions", json=sub.to_json(),
                headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"})
    assert r.status_code == 201, r.text
    return sub


def _notify(service, user_ids, *, title="New answer", body="Ann answered your question", url="courses/py/threads/7",
            kind="reply", dedupe_key=None):
    with service.factory() as db:
        made = notifications.notify(db, user_ids=user_ids, kind=kind, title=title, body=body, url=url,
                                    dedupe_key=dedupe_key)
        db.commit()
    return made


def _deliver(service, policy=push.DeliveryPolicy(), **overrides):
    settings = push.PushSettings.from_config(service.config)
    if overrides:
        settings = push.PushSettings(**{**settings.__dict__, **overrides})
    return push.deliver_due(service.factory, settings, "test-worker", policy)


def _rows(service, user_id):
    with service.factory() as db:
        return list(db.scalars(select(PushOutbox).where(PushOutbox.user_id == user_id).order_by(PushOutbox.id)))


def test_a_notification_reaches_the_browser_encrypted_and_signed(service, push_service, tag):
    name = f"ann-{tag}"
    uid = _user(service, name)
    laptop, phone = _browser(service, push_service, name), _browser(service, push_service, name)
    made = _notify(service, [uid], title="New answer to “Loops”", body="Bob: use range(len(x)) ✓",
                   dedupe_key=f"post:{tag}")
    assert made["push"] == 2  # one per browser
    # the same event reported again: no second push (once per user and channel)
    assert _notify(service, [uid], dedupe_key=f"post:{tag}")["push"] == 0

    report = _deliver(service)
    assert (report.claimed, report.sent) == (2, 2), report
    assert push_service.rejected == []
    base = service.config.public_url + service.config.service_prefix
    for browser in (laptop, phone):
        [message] = push_service.messages_for(browser)
        assert message["title"] == "New answer to “Loops”"
        assert message["body"] == "Bob: use range(len(x)) ✓"
        assert message["url"] == base + "courses/py/threads/7"
        assert message["kind"] == "reply"
    got = push_service.received[0]
    assert got.claims["aud"] == push_service.origin and got.claims["sub"].startswith("mailto:")
    assert got.ttl == push.TTL_SECONDS and got.urgency == "normal"
    assert [r.status for r in _rows(service, uid)] == [SENT, SENT]
    assert _deliver(service).claimed == 0  # nothing twice
    listed = service.client(name).api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"]
    assert len(listed) == 2 and all(s["last_success_at"] for s in listed)
    assert "Firefox" in listed[0]["user_agent"] and "p256dh" not in listed[0]


def test_push_follows_the_preferences(service, push_service, tag):
    name = f"pref-{tag}"
    uid = _user(service, name)
    _browser(service, push_service, name)
    with service.factory() as db:
        notifications.set_preference(db, uid, "reply", notifications.PUSH, False)
        db.commit()
    assert _notify(service, [uid], kind="reply")["push"] == 0
    assert _notify(service, [uid], kind="mention", title="You were mentioned")["push"] == 1
    _deliver(service)
    assert [m.payload["title"] for m in push_service.received] == ["You were mentioned"]
    # a user without a subscribed browser gets nothing queued
    other = _user(service, f"nobrowser-{tag}")
    assert _notify(service, [other])["push"] == 0


def test_a_gone_subscription_is_removed(service, push_service, tag):
    name = f"gone-{tag}"
    uid = _user(service, name)
    kept, gone = _browser(service, push_service, name), _browser(service, push_service, name)
    push_service.answer(gone, 410)
    _notify(service, [uid], title="first")
    _notify(service, [uid], title="second")
    report = _deliver(service)
    assert report.sent == 2 and report.expired == 1, report
    with service.factory() as db:
        endpoints = db.scalars(select(PushSubscription.endpoint).where(PushSubscription.user_id == uid)).all()
    assert endpoints == [kept.endpoint]
    # the second message for the gone browser went with it, never tried again
    assert push_service.hits[gone.token] == 1
    assert [m["title"] for m in push_service.messages_for(kept)] == ["first", "second"]
    assert all(r.status == SENT for r in _rows(service, uid))
    # a subscription the push service never heard of (404) goes the same way
    stranger = push_service.subscribe(kept.application_server_key)
    del push_service.subscriptions[stranger.token]
    api = service.client(name)
    assert api.api("POST", "api/v1/me/push-subscriptions", json=stranger.to_json()).status_code == 201
    _notify(service, [uid], title="third")
    assert _deliver(service).expired == 1
    assert len(api.api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"]) == 1


def test_a_server_error_is_retried_later_with_backoff(service, push_service, tag):
    name = f"retry-{tag}"
    uid = _user(service, name)
    browser = _browser(service, push_service, name)
    push_service.answer(browser, 500, 503, 201)
    _notify(service, [uid], title="eventually")
    policy = push.DeliveryPolicy(retry_seconds=0.3, max_attempts=5)
    first = _deliver(service, policy)
    assert (first.sent, first.retried) == (0, 1), first
    [row] = _rows(service, uid)
    assert row.status == QUEUED and row.attempts == 1 and "500" in row.last_error
    assert _deliver(service, policy).claimed == 0  # not before its backoff
    time.sleep(0.4)
    assert _deliver(service, policy).retried == 1  # 503: the second wait is twice as long
    time.sleep(0.4)
    assert _deliver(service, policy).claimed == 0
    time.sleep(0.35)
    assert _deliver(service, policy).sent == 1
    [row] = _rows(service, uid)
    assert row.status == SENT and row.attempts == 3
    assert [m["title"] for m in push_service.messages_for(browser)] == ["eventually"]


def test_timeouts_and_refused_connections_are_temporary_and_end_dead(service, push_service, tag):
    name = f"down-{tag}"
    uid = _user(service, name)
    _browser(service, push_service, name)
    _notify(service, [uid], title="nobody listens")
    push_service.stop()  # the push service is down: connections are refused
    policy = push.DeliveryPolicy(retry_seconds=0.01, max_attempts=2)
    assert _deliver(service, policy).retried == 1
    time.sleep(0.05)
    assert _deliver(service, policy).dead == 1
    [row] = _rows(service, uid)
    assert row.status == DEAD and "Connection" in row.last_error


def test_a_wrong_vapid_key_is_refused_by_the_push_service_and_not_retried(service, push_service, tag):
    name = f"vapid-{tag}"
    uid = _user(service, name)
    browser = _browser(service, push_service, name)
    _notify(service, [uid])
    other = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big")
    report = _deliver(service, vapid_private_key=b64url(other))
    assert report.failed == 1, report
    assert push_service.rejected and "application server key" in push_service.rejected[0][2]
    [row] = _rows(service, uid)
    assert row.status == FAILED and row.last_error.startswith("401")
    assert push_service.messages_for(browser) == []


def test_the_address_is_checked_again_when_sending(service, push_service, tag):
    """Stored while local endpoints were allowed; a worker that allows only public ones refuses
    the connection (no request reaches 127.0.0.1)."""
    name = f"ssrf-{tag}"
    uid = _user(service, name)
    browser = _browser(service, push_service, name)
    _notify(service, [uid])
    assert _deliver(service, allow_local=False).failed == 1
    [row] = _rows(service, uid)
    assert row.status == FAILED and row.last_error.startswith("refused: the endpoint must be an https://")
    assert push_service.hits.get(browser.token, 0) == 0


def test_the_guarded_connection_refuses_a_name_that_resolves_inward(push_service):
    """Below check_endpoint: the socket itself is checked, so a DNS answer that changed after
    the check cannot lead the POST inward."""
    import requests

    http = push._guarded_session(allow_local=False)
    with pytest.raises(requests.ConnectionError) as caught:
        http.mount("http://", http.get_adapter("https://"))  # as if http:// had passed the URL check
        http.post(push_service.origin + "/push/x", data=b"", timeout=5)
    assert any(isinstance(e, push.RefusedAddress) for e in push._causes(caught.value))
    assert push_service.hits == {}


def test_the_worker_loop_delivers(service, push_service, tag):
    name = f"loop-{tag}"
    uid = _user(service, name)
    browser = _browser(service, push_service, name)
    _notify(service, [uid], title="from the loop")

    async def run():
        stopping = asyncio.Event()
        task = asyncio.ensure_future(push.deliver_forever(service.factory, service.config, "loop-worker", stopping))
        for _ in range(100):
            if push_service.messages_for(browser):
                break
            await asyncio.sleep(0.05)
        stopping.set()
        return await task

    assert asyncio.run(run()) == 1
    assert push_service.messages_for(browser)[0]["title"] == "from the loop"


def test_concurrent_notifies_of_one_event_push_once(service, push_service, tag):
    name = f"race-{tag}"
    uid = _user(service, name)
    _browser(service, push_service, name)
    errors = []

    def report():
        try:
            _notify(service, [uid], dedupe_key=f"race:{tag}")
        except Exception as exc:  # noqa: BLE001 - a lost race must not be an error
            errors.append(exc)

    threads = [threading.Thread(target=report) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] or all("locked" in str(e) for e in errors)
    assert len(_rows(service, uid)) == 1


def test_payload_is_small_enough_for_every_push_service(service, push_service, tag):
    name = f"long-{tag}"
    uid = _user(service, name)
    browser = _browser(service, push_service, name)
    _notify(service, [uid], title="T" * 300, body="é" * 5000)
    assert _deliver(service).sent == 1
    [message] = push_service.messages_for(browser)
    assert len(message["title"]) == 200 and len(message["body"]) == push.MAX_BODY_CHARS
    assert push_service.rejected == []


def test_key_helpers_agree(service):
    key = push.application_server_key(service.config)
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
