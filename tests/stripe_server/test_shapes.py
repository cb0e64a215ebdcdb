"""Every field the server returns is a field of the real object (the SDK's resource classes list them)."""
from __future__ import annotations

import stripe
from stripe._transfer_reversal import TransferReversal

CLASSES = {
    "product": stripe.Product, "price": stripe.Price, "customer": stripe.Customer, "coupon": stripe.Coupon,
    "tax_rate": stripe.TaxRate, "checkout.session": stripe.checkout.Session, "payment_intent": stripe.PaymentIntent,
    "charge": stripe.Charge, "refund": stripe.Refund, "dispute": stripe.Dispute, "invoice": stripe.Invoice,
    "subscription": stripe.Subscription, "account": stripe.Account, "transfer": stripe.Transfer,
    "transfer_reversal": TransferReversal, "webhook_endpoint": stripe.WebhookEndpoint, "event": stripe.Event,
    "balance_transaction": stripe.BalanceTransaction, "payment_method": stripe.PaymentMethod,
}


def fields(cls):
    out = set()
    for klass in cls.__mro__:
        out.update(getattr(klass, "__annotations__", {}))
    return out


def test_rendered_objects_use_real_field_names(client, stripe_server, monthly_price, course_price):
    client.v1.coupons.create({"percent_off": 10, "duration": "forever", "id": "TEN"})
    rate = client.v1.tax_rates.create({"display_name": "VAT", "percentage": 20, "inclusive": False})
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "http://x", "invoice_creation": {"enabled": True},
        "discounts": [{"coupon": "TEN"}], "line_items": [{"price": course_price.id, "quantity": 1,
                                                          "tax_rates": [rate.id]}]})
    pi = stripe_server.pay(session.id, card="4000000000000259", email="s@example.com")["payment_intent"]
    sub_session = client.v1.checkout.sessions.create({"mode": "subscription", "success_url": "http://x",
                                                      "line_items": [{"price": monthly_price.id, "quantity": 1}]})
    stripe_server.pay(sub_session.id, email="s@example.com")
    account = client.v1.accounts.create({"type": "express", "capabilities": {"transfers": {"requested": True}}})
    stripe_server.control("POST", f"accounts/{account.id}/onboard")
    charge = client.v1.payment_intents.retrieve(pi).latest_charge
    client.v1.refunds.create({"charge": charge, "amount": 100})
    transfer = client.v1.transfers.create({"amount": 500, "currency": "usd", "destination": account.id,
                                           "source_transaction": charge})
    client.v1.transfers.reversals.create(transfer.id, {"amount": 100})
    client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/x", "enabled_events": ["*"]})
    stripe_server.control("POST", f"charges/{charge}/dispute")
    store = stripe_server.server.store
    seen = set()
    for obj in list(store.objects.values()):
        kind = obj["object"]
        rendered = store.render(obj)
        extra = set(rendered) - fields(CLASSES[kind]) - {"deleted"}
        assert not extra, f"{kind} has fields the real API does not: {sorted(extra)}"
        seen.add(kind)
    assert seen == set(CLASSES)
