"""Webhook delivery: real signatures, retries after 5xx, and the chaos controls."""
from __future__ import annotations

import time

import pytest
import stripe

from stripe_test_server.testing import WebhookReceiver, running_server


def make_customer(client, n=1):
    return [client.v1.customers.create({"email": f"w{i}@example.com"}).id for i in range(n)]


def test_signature_verifies_with_the_sdk(client, stripe_server, receiver):
    make_customer(client)
    event = receiver.wait_for("customer.created")[0]
    assert event["object"] == "event" and event["livemode"] is False and event["api_version"]
    assert event["id"].startswith("evt_") and event["data"]["object"]["object"] == "customer"
    request = receiver.requests[-1]
    header = request["headers"]["Stripe-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    verified = stripe.Webhook.construct_event(request["body"], header, receiver.secret)
    assert verified.id == event["id"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(request["body"], header, "whsec_other")
    assert client.v1.events.retrieve(event["id"]).type == "customer.created"
    assert event["id"] in [e.id for e in client.v1.events.list({"type": "customer.*"}).data]


def test_5xx_then_retry_succeeds(client, stripe_server, receiver):
    receiver.fail_next(2, status=503)
    make_customer(client)
    receiver.wait_for("customer.created")
    stripe_server.wait_idle()
    attempts = stripe_server.deliveries(type="customer.created")
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 503), (2, 503), (3, 200)]
    assert attempts[1]["at"] - attempts[0]["at"] >= 0.1 and attempts[2]["at"] - attempts[1]["at"] >= 0.2
    event_id = attempts[0]["event"]
    assert client.v1.events.retrieve(event_id).pending_webhooks == 0


def test_unreachable_endpoint_is_retried_then_given_up():
    with running_server(webhook_url="http://127.0.0.1:9/hook", webhook_secret="whsec_x", retry_base=0.05,
                        max_attempts=3) as srv:
        srv.client().v1.customers.create({})
        srv.wait_idle()
        attempts = srv.deliveries(type="customer.created")
        assert [a["status"] for a in attempts] == [None, None, None] and attempts[-1]["gave_up"]
        assert srv.client().v1.events.list({"delivery_success": False}).data


def test_duplicates(client, stripe_server, receiver):
    stripe_server.chaos(duplicates=2)
    make_customer(client)
    events = receiver.wait_for("customer.created", count=3)
    assert len({e["id"] for e in events}) == 1


def test_reverse_and_shuffle_within_a_batch(client, stripe_server, receiver, course_price):
    session = client.v1.checkout.sessions.create({"mode": "payment", "success_url": "http://x",
                                                  "line_items": [{"price": course_price.id, "quantity": 1}]})
    stripe_server.wait_idle()
    receiver.clear()
    stripe_server.chaos(order="reverse")
    stripe_server.pay(session.id, email="r@example.com")
    stripe_server.wait_idle()
    types = receiver.types()
    assert types[0] == "checkout.session.completed" and types[-1] == "payment_intent.created"
    stripe_server.chaos(order="shuffle")
    assert stripe_server.chaos()["order"] == "normal"  # no settings: reset


def test_hold_and_release_in_a_chosen_order(client, stripe_server, receiver):
    stripe_server.chaos(hold=True)
    first, second = make_customer(client, 2)
    stripe_server.wait_idle()
    assert receiver.types() == []
    held = stripe_server.control("GET", "webhooks/held")["held"]
    assert len(held) == 2
    stripe_server.chaos(hold=False)
    stripe_server.release(event_ids=[held[1]])
    receiver.wait_for("customer.created")
    assert receiver.events[0]["data"]["object"]["id"] == second
    stripe_server.release()
    events = receiver.wait_for("customer.created", count=2)
    assert [e["data"]["object"]["id"] for e in events] == [second, first]


def test_delay(client, stripe_server, receiver):
    stripe_server.chaos(delay=0.8)
    start = time.monotonic()
    make_customer(client)
    receiver.wait_for("customer.created")
    assert time.monotonic() - start >= 0.7


@pytest.mark.parametrize("setting", ["bad_signature", "stale_timestamp"])
def test_bad_signatures_are_rejected_and_retried(client, stripe_server, receiver, setting):
    stripe_server.chaos(**{setting: True})
    make_customer(client)
    stripe_server.wait_idle()
    assert receiver.events == [] and len(receiver.rejected) == 5  # every attempt refused by construct_event
    assert all(a["status"] == 400 for a in stripe_server.deliveries())
    reason = "No signatures found matching" if setting == "bad_signature" else "Timestamp outside the tolerance zone"
    assert reason in receiver.rejected[0]


def test_api_created_endpoints_get_their_own_secret_and_event_filter(client, stripe_server, course_price):
    with WebhookReceiver() as other:
        endpoint = client.v1.webhook_endpoints.create({"url": other.url,
                                                       "enabled_events": ["checkout.session.completed"]})
        assert endpoint.id.startswith("we_") and endpoint.secret.startswith("whsec_")
        assert "secret" not in client.v1.webhook_endpoints.retrieve(endpoint.id).to_dict()
        other.secret = endpoint.secret
        session = client.v1.checkout.sessions.create({"mode": "payment", "success_url": "http://x",
                                                      "line_items": [{"price": course_price.id, "quantity": 1}]})
        stripe_server.pay(session.id, email="e@example.com")
        stripe_server.wait_idle()
        assert other.types() == ["checkout.session.completed"] and other.rejected == []
        assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]
        client.v1.webhook_endpoints.delete(endpoint.id)
        assert client.v1.webhook_endpoints.list().data == []
        with pytest.raises(stripe.InvalidRequestError) as err:
            client.v1.webhook_endpoints.create({"url": other.url, "enabled_events": ["charge.exploded"]})
        assert err.value.param == "enabled_events[0]"


def test_connect_endpoints_only_get_connected_account_events(client, stripe_server):
    with WebhookReceiver() as platform, WebhookReceiver() as connect:
        p = client.v1.webhook_endpoints.create({"url": platform.url, "enabled_events": ["*"]})
        c = client.v1.webhook_endpoints.create({"url": connect.url, "enabled_events": ["*"], "connect": True})
        platform.secret, connect.secret = p.secret, c.secret
        account = client.v1.accounts.create({"type": "express", "capabilities": {"transfers": {"requested": True}}})
        stripe_server.control("POST", f"accounts/{account.id}/onboard")
        make_customer(client)
        stripe_server.wait_idle()
        assert connect.types() == ["account.updated"] and platform.types() == ["customer.created"]
