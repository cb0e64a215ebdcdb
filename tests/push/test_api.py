"""The push subscription API: what a browser may subscribe, who may remove it, what is
refused with a 4xx (never a 500), and its OpenAPI document."""
from __future__ import annotations

import base64
import re

import pytest
from openapi_spec_validator import validate
from lms_extension.errors import InvalidInput
from lms_extension.services import push
from lms_extension.web.api import openapi
from lms_extension.web.api import push as push_api
from tests.factories import make_user
from tests.push.push_server import b64url


def _login(service, name):
    with service.factory() as db:
        make_user(db, name)
        db.commit()
    return service.client(name)


def _subscription(push_service, service):
    return push_service.subscribe(push.application_server_key(service.config)).to_json()


def test_subscribe_list_and_unsubscribe(service, push_service, tag):
    ann, bob = _login(service, f"ann-{tag}"), _login(service, f"bob-{tag}")
    sub = _subscription(push_service, service)
    r = ann.api("POST", "api/v1/me/push-subscriptions", json=sub)
    assert r.status_code == 201 and r.json()["endpoint"] == sub["endpoint"], r.text
    # the same browser again (a page reload re-sends it): still one subscription
    assert ann.api("POST", "api/v1/me/push-subscriptions", json=sub).status_code == 201
    listed = ann.api("GET", "api/v1/me/push-subscriptions").json()
    assert len(listed["subscriptions"]) == 1 and listed["public_key"] == push.application_server_key(service.config)
    assert bob.api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"] == []
    # someone else cannot remove it, and does not learn whether it exists
    r = bob.api("DELETE", "api/v1/me/push-subscriptions", json={"endpoint": sub["endpoint"]})
    assert r.status_code == 404 and r.json()["message"] == "this browser is not subscribed"
    assert ann.api("DELETE", "api/v1/me/push-subscriptions", json={"endpoint": sub["endpoint"]}).status_code == 204
    assert ann.api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"] == []
    assert ann.api("DELETE", "api/v1/me/push-subscriptions", json={"endpoint": sub["endpoint"]}).status_code == 404
    anonymous = service.client(None)
    assert anonymous.api("POST", "api/v1/me/push-subscriptions", json=sub).status_code in (401, 403)
    assert anonymous.api("GET", "api/v1/me/push-subscriptions").status_code in (401, 403)


def test_a_browser_that_logs_in_as_someone_else_moves_to_them(service, push_service, tag):
    ann, bob = _login(service, f"ann-{tag}"), _login(service, f"bob-{tag}")
    sub = _subscription(push_service, service)
    ann.api("POST", "api/v1/me/push-subscriptions", json=sub)
    assert bob.api("POST", "api/v1/me/push-subscriptions", json=sub).status_code == 201
    assert ann.api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"] == []
    assert len(bob.api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"]) == 1


def test_a_user_keeps_at_most_ten_browsers_the_oldest_going(service, push_service, tag):
    ann = _login(service, f"ann-{tag}")
    subs = [_subscription(push_service, service) for _ in range(push.MAX_PER_USER + 2)]
    for sub in subs:
        assert ann.api("POST", "api/v1/me/push-subscriptions", json=sub).status_code == 201
    listed = [s["endpoint"] for s in ann.api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"]]
    assert listed == [s["endpoint"] for s in subs[2:]]


def _with(sub, **changes):
    bad = {"endpoint": sub["endpoint"], "keys": dict(sub["keys"])}
    for key, value in changes.items():
        if key in ("p256dh", "auth"):
            bad["keys"][key] = value
        else:
            bad[key] = value
    return bad


def test_bad_subscriptions_get_a_clear_4xx(service, push_service, tag):
    ann = _login(service, f"ann-{tag}")
    sub = _subscription(push_service, service)
    not_on_curve = b64url(b"\x04" + b"\x01" * 64)
    cases = {
        "no endpoint": _with(sub, endpoint=""),
        "javascript: endpoint": _with(sub, endpoint="javascript:alert(1)"),
        "file: endpoint": _with(sub, endpoint="file:///etc/passwd"),
        "credentials in the endpoint": _with(sub, endpoint="https://user:pw@push.example/x"),
        "endpoint too long": _with(sub, endpoint="https://push.example/" + "a" * 1100),
        "space in the endpoint": _with(sub, endpoint="https://push.example/a b"),
        "endpoint not a string": _with(sub, endpoint=["https://push.example/x"]),
        "no keys": {"endpoint": sub["endpoint"]},
        "keys not an object": _with(sub, keys="p256dh"),
        "oversized p256dh": _with(sub, p256dh="A" * 5000),
        "oversized auth": _with(sub, auth="A" * 5000),
        "short p256dh": _with(sub, p256dh=b64url(b"\x04" + b"\x00" * 10)),
        "p256dh not on the curve": _with(sub, p256dh=not_on_curve),
        "auth of 15 bytes": _with(sub, auth=b64url(b"x" * 15)),
        "auth not base64": _with(sub, auth="!!!!!!!!!!!!!!!!!!!!!!"),
        "p256dh a number": _with(sub, p256dh=12345),
    }
    for what, body in cases.items():
        r = ann.api("POST", "api/v1/me/push-subscriptions", json=body)
        assert r.status_code == 400, (what, r.status_code, r.text)
        assert r.json()["message"], what
    assert ann.api("POST", "api/v1/me/push-subscriptions", json=["x"]).status_code == 400
    assert ann.api("POST", "api/v1/me/push-subscriptions", data=b"{not json").status_code == 400
    huge = _with(sub, padding="x" * (service.config.max_body_bytes + 10))
    assert ann.api("POST", "api/v1/me/push-subscriptions", json=huge).status_code == 413
    assert ann.api("DELETE", "api/v1/me/push-subscriptions", json={}).status_code == 400
    assert ann.api("GET", "api/v1/me/push-subscriptions").json()["subscriptions"] == []  # nothing was stored


@pytest.mark.parametrize("endpoint", [
    "http://push.example/x",            # not https
    "https://127.0.0.1/push/x",         # loopback
    "https://localhost:8443/push/x",
    "https://[::1]/push/x",
    "https://[::ffff:127.0.0.1]/push/x",  # loopback in IPv6 clothing
    "https://10.1.2.3/push/x",          # private networks
    "https://192.168.0.1/push/x",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
    "https://0.0.0.0/x",
    "https://224.0.0.1/x",               # multicast
])
def test_without_allow_local_only_https_to_public_hosts(endpoint):
    with pytest.raises(InvalidInput):
        push.check_endpoint(endpoint, allow_local=False)


def test_public_addresses_pass_the_check():
    # an address literal needs no DNS (this machine has no outside network)
    assert push.check_endpoint("https://8.8.8.8/push/abc") == "https://8.8.8.8/push/abc"
    assert push.check_endpoint("http://127.0.0.1:8/x", allow_local=True) == "http://127.0.0.1:8/x"


def test_openapi_documents_exactly_the_push_routes():
    doc = openapi.document("/services/lms/", [push_api])
    validate(doc)
    documented = {re.sub(r"\{[^}]+\}", "{}", "/api/v1" + p) for p in doc["paths"]}
    routed = {"/" + pattern for pattern, _ in push_api.default_handlers}
    assert documented == routed
    ops = doc["paths"]["/me/push-subscriptions"]
    assert set(ops) == {"get", "post", "delete"} and all(op["security"] for op in ops.values())
    assert "400" in ops["post"]["responses"] and "404" in ops["delete"]["responses"]


def test_a_mismatched_vapid_pair_is_refused_at_start(tmp_path):
    from lms_extension.config import ConfigError, LMSConfig

    config = LMSConfig(data_dir=str(tmp_path))
    other = LMSConfig(data_dir=str(tmp_path / "other"))
    assert push.application_server_key(config) == config.vapid_public_key
    mixed = LMSConfig(data_dir=str(tmp_path), vapid_public_key=other.vapid_public_key)
    with pytest.raises(ConfigError, match="not the public key"):
        push.application_server_key(mixed)
    with pytest.raises(ConfigError, match="P-256"):
        push.application_server_key(LMSConfig(data_dir=str(tmp_path), vapid_private_key="short"))
    # the key is generated once and kept: a second start reads the same one
    assert LMSConfig(data_dir=str(tmp_path)).vapid_private_key == config.vapid_private_key
    assert len(base64.urlsafe_b64decode(config.vapid_private_key + "=")) == 32
    assert (tmp_path / "lms_vapid_private_key").stat().st_mode & 0o077 == 0
