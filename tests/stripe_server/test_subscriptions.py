"""Subscription mode: Checkout starts it, the test clock renews it, cancellation ends it."""
from __future__ import annotations

import pytest
import stripe

DAY = 86400


def subscribe(client, stripe_server, price, **extra):
    session = client.v1.checkout.sessions.create({
        "mode": "subscription", "success_url": "http://lms.test/ok", "customer_email": "sub@example.com",
        "line_items": [{"price": price.id, "quantity": 1}], **extra})
    stripe_server.pay(session.id)
    session = client.v1.checkout.sessions.retrieve(session.id)
    return session, client.v1.subscriptions.retrieve(session.subscription)


def test_checkout_starts_an_active_subscription(client, stripe_server, receiver, monthly_price):
    session, sub = subscribe(client, stripe_server, monthly_price,
                             subscription_data={"metadata": {"plan": "all-access"}})
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert sub.id.startswith("sub_") and sub.status == "active" and sub.customer == session.customer
    assert sub.metadata["plan"] == "all-access" and not sub.cancel_at_period_end
    item = sub["items"].data[0]
    assert item.price.id == monthly_price.id and item.current_period_end - item.current_period_start >= 28 * DAY
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (invoice.status, invoice.total, invoice.amount_paid, invoice.billing_reason) == (
        "paid", 2000, 2000, "subscription_create")
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.lines.data[0].pricing.price_details.price == monthly_price.id
    stripe_server.wait_idle()
    assert {"customer.subscription.created", "invoice.paid", "checkout.session.completed"} <= set(receiver.types())


def test_renewal_when_the_clock_passes_the_period(client, stripe_server, receiver, monthly_price):
    _, sub = subscribe(client, stripe_server, monthly_price)
    end = sub["items"].data[0].current_period_end
    stripe_server.advance(32 * DAY)
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed.status == "active" and renewed["items"].data[0].current_period_start == end
    invoices = client.v1.invoices.list({"subscription": sub.id}).data
    assert [i.billing_reason for i in invoices] == ["subscription_cycle", "subscription_create"]
    assert invoices[0].status == "paid" and invoices[0].total == 2000 and renewed.latest_invoice == invoices[0].id
    assert len(client.v1.charges.list({"customer": sub.customer}).data) == 2
    stripe_server.wait_idle()
    assert len(receiver.wait_for("invoice.paid", count=2)) == 2
    updated = receiver.wait_for("customer.subscription.updated")[-1]["data"]
    assert "items" in updated["previous_attributes"]


def test_coupon_once_only_discounts_the_first_invoice(client, stripe_server, monthly_price):
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "once"})
    _, sub = subscribe(client, stripe_server, monthly_price, discounts=[{"coupon": coupon.id}])
    assert client.v1.invoices.retrieve(sub.latest_invoice).total == 1000
    stripe_server.advance(32 * DAY)
    assert client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice).total == 2000


def test_cancel_at_period_end(client, stripe_server, receiver, monthly_price):
    _, sub = subscribe(client, stripe_server, monthly_price)
    pending = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert pending.cancel_at_period_end and pending.status == "active"
    assert pending.cancel_at == sub["items"].data[0].current_period_end
    stripe_server.advance(32 * DAY)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at == pending.cancel_at
    assert len(client.v1.invoices.list({"subscription": sub.id}).data) == 1  # no renewal invoice
    stripe_server.wait_idle()
    assert receiver.wait_for("customer.subscription.deleted")[0]["data"]["object"]["id"] == sub.id
    previous = receiver.wait_for("customer.subscription.updated")[0]["data"]["previous_attributes"]
    assert previous["cancel_at_period_end"] is False


def test_cancel_immediately(client, stripe_server, receiver, monthly_price):
    _, sub = subscribe(client, stripe_server, monthly_price)
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.canceled_at
    assert client.v1.subscriptions.list({"customer": sub.customer}).data == []
    assert [s.id for s in client.v1.subscriptions.list({"status": "canceled"}).data] == [sub.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(sub.id)
    receiver.wait_for("customer.subscription.deleted")


def test_failed_renewal_makes_it_past_due(client, stripe_server, receiver, monthly_price):
    _, sub = subscribe(client, stripe_server, monthly_price)
    stripe_server.control("POST", f"subscriptions/{sub.id}/card", card="4000000000000002")
    stripe_server.advance(32 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    failed = receiver.wait_for("invoice.payment_failed")[0]["data"]["object"]
    assert failed["status"] == "open" and failed["amount_paid"] == 0
    stripe_server.control("POST", f"subscriptions/{sub.id}/card", card="4242424242424242")
    stripe_server.advance(31 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_subscription_update_rejects_unknown_params(client, stripe_server, monthly_price):
    _, sub = subscribe(client, stripe_server, monthly_price)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscriptions.update(sub.id, {"cancel_at_end": True})
    assert err.value.param == "cancel_at_end"
