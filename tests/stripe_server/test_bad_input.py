"""Random bad input on every endpoint and control gets a Stripe-shaped 4xx, never a 500."""
from __future__ import annotations

import random
import re

import requests

from stripe_test_server import api

VALUES = ["", "x", "-1", "0", "99999999999999999999", "true", "price_x", "acct_x", "cs_test_x", "http://x", "1.5",
          "usd", "*"]
KEYS = ["name", "amount", "currency", "expand[0]", "expand[]", "limit", "starting_after", "ending_before",
        "line_items[0][price]", "line_items[0][quantity]", "line_items[0][price_data][currency]",
        "line_items[0][price_data][unit_amount]", "line_items[0][price_data][product_data][name]",
        "line_items[0][tax_rates][0]", "mode", "success_url", "discounts[0][coupon]", "metadata[a]", "metadata",
        "created[gte]", "created", "destination", "charge", "payment_intent", "type", "account",
        "capabilities[transfers][requested]", "enabled_events[0]", "url", "percent_off", "amount_off", "duration",
        "duration_in_months", "unit_amount", "product", "recurring[interval]", "cancel_at_period_end",
        "evidence[uncategorized_text]", "display_name", "percentage", "inclusive", "customer", "customer_email",
        "source_transaction", "invoice_creation[enabled]", "payment_intent_data[transfer_data][destination]",
        "subscription_data[default_tax_rates][0]", "expires_at", "allowed_payment_method_types[0]", "status"]


def test_random_bad_input_never_500(stripe_server, client):
    rng = random.Random(20261126)
    product = client.v1.products.create({"name": "p"})
    price = client.v1.prices.create({"product": product.id, "unit_amount": 100, "currency": "usd"})
    values = VALUES + [product.id, price.id]
    http = requests.Session()
    http.auth = (stripe_server.api_key, "")
    failures = []
    for method, regex, _schema, _fn in api.ROUTES:
        for _ in range(15):
            path = re.sub(r"\(\?P<\w+>\[\^/\]\+\)", lambda m: rng.choice(["x_1", price.id, product.id]),
                          regex.pattern.strip("^$"))
            data = {rng.choice(KEYS): rng.choice(values) for _ in range(rng.randint(0, 6))}
            if method == "POST":
                r = http.post(stripe_server.url + path, data=data)
            else:
                r = http.request(method, stripe_server.url + path, params=data)
            if r.status_code >= 500 or (r.status_code >= 400 and "error" not in r.json()):
                failures.append((method, path, data, r.status_code, r.text[:200]))
    for path in ["clock/advance", f"checkout/sessions/x/pay", "webhooks/chaos", "webhooks/release",
                 "charges/x/dispute", "disputes/x/close", "accounts/x/onboard", "subscriptions/x/card", "balance"]:
        for body in [{}, {"seconds": "a"}, {"card": "1"}, {"order": "zz"}, {"event_ids": "abc"}, {"outcome": "x"},
                     {"duplicates": -1}, {"amount": "q"}, {"delay": "soon"}]:
            r = http.post(f"{stripe_server.url}/_test/{path}", json=body)
            if r.status_code >= 500:
                failures.append(("control", path, body, r.status_code, r.text[:200]))
    for body in [{}, {"card_number": "x", "expiry": "99/99"}, {"email": "a@b", "card_number": "4242424242424242",
                                                               "expiry": "13 / 40", "cvc": "1"}]:
        r = http.post(f"{stripe_server.url}/checkout/cs_test_missing", data=body)
        assert r.status_code == 404
    assert failures == []
