"""Catalog objects, errors, auth and idempotency through the official stripe SDK."""
from __future__ import annotations

import pytest
import requests
import stripe


def test_catalog_objects(client):
    product = client.v1.products.create({"name": "Intro to ML", "description": "Eight notebooks",
                                         "metadata": {"course_slug": "intro-ml"}})
    assert product.id.startswith("prod_") and product.object == "product" and product.active
    assert product.metadata["course_slug"] == "intro-ml" and product.livemode is False
    price = client.v1.prices.create({"product": product.id, "unit_amount": 4900, "currency": "EUR"})
    assert (price.id[:6], price.type, price.currency, price.recurring) == ("price_", "one_time", "eur", None)
    yearly = client.v1.prices.create({"product_data": {"name": "Yearly pass"}, "unit_amount": 9900,
                                      "currency": "usd", "recurring": {"interval": "year"}})
    assert yearly.recurring.interval == "year" and yearly.recurring.interval_count == 1
    assert client.v1.prices.retrieve(yearly.id, {"expand": ["product"]}).product.name == "Yearly pass"
    customer = client.v1.customers.create({"email": "ada@example.com", "name": "Ada"})
    assert customer.id.startswith("cus_") and customer.email == "ada@example.com"
    updated = client.v1.customers.update(customer.id, {"metadata": {"lms_user": "7"}})
    assert updated.metadata["lms_user"] == "7"
    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "once", "id": "LAUNCH25"})
    assert (coupon.id, coupon.percent_off, coupon.duration) == ("LAUNCH25", 25, "once")
    off = client.v1.coupons.create({"amount_off": 500, "currency": "usd", "duration": "forever"})
    assert off.amount_off == 500 and off.percent_off is None
    rate = client.v1.tax_rates.create({"display_name": "VAT", "percentage": 19, "inclusive": False, "country": "DE"})
    assert rate.id.startswith("txr_") and rate.percentage == 19 and rate.inclusive is False
    listed = client.v1.prices.list({"product": product.id})
    assert [p.id for p in listed.data] == [price.id]
    assert client.v1.customers.list({"email": "ada@example.com"}).data[0].id == customer.id


def test_pagination_newest_first(client):
    ids = [client.v1.customers.create({"email": f"c{i}@example.com"}).id for i in range(7)]
    page = client.v1.customers.list({"limit": 3})
    assert [c.id for c in page.data] == ids[::-1][:3] and page.has_more
    assert [c.id for c in page.auto_paging_iter()] == ids[::-1]


def test_unknown_parameters_are_rejected(client):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.products.create({"name": "x", "colour": "red"})
    assert err.value.param == "colour" and "Received unknown parameter: colour" in err.value.user_message
    assert err.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create({"mode": "payment", "success_url": "http://x",
                                            "line_items": [{"price": "price_x", "quantity": 1, "qty": 2}]})
    assert err.value.param == "line_items[0][qty]"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.prices.create({"product": "prod_x", "currency": "usd", "unit_amount": "ten"})
    assert "Invalid integer: ten" in err.value.user_message


def test_missing_objects_and_params(client):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.retrieve("cus_nope")
    assert err.value.http_status == 404 and err.value.code == "resource_missing"
    assert "No such customer: 'cus_nope'" in err.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.prices.create({"unit_amount": 100, "product": "prod_x"})
    assert err.value.param == "currency" and err.value.code == "parameter_missing"


def test_api_keys(stripe_server):
    with pytest.raises(stripe.AuthenticationError) as err:
        stripe.StripeClient("sk_live_123456789012345", base_addresses={"api": stripe_server.url}).v1.customers.list()
    assert "Invalid API Key provided" in err.value.user_message
    r = requests.get(f"{stripe_server.url}/v1/customers")
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    r = requests.get(f"{stripe_server.url}/v1/no_such_thing", auth=(stripe_server.api_key, ""))
    assert r.status_code == 404 and "Unrecognized request URL" in r.json()["error"]["message"]


def test_idempotency_keys(client, stripe_server):
    first = client.v1.customers.create({"email": "same@example.com"}, {"idempotency_key": "key-1"})
    again = client.v1.customers.create({"email": "same@example.com"}, {"idempotency_key": "key-1"})
    assert first.id == again.id
    assert len(client.v1.customers.list({"email": "same@example.com"}).data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "other@example.com"}, {"idempotency_key": "key-1"})
    stripe_server.advance(24 * 3600 + 1)  # keys expire after 24 hours
    assert client.v1.customers.create({"email": "other@example.com"}, {"idempotency_key": "key-1"}).id != first.id


def test_module_level_configuration(stripe_server):
    with stripe_server.configure_module() as module:
        product = module.Product.create(name="Legacy style")
        assert module.Product.retrieve(product.id).name == "Legacy style"
        with pytest.raises(module.InvalidRequestError):
            module.Customer.create(emial="typo@example.com")


def test_bad_form_input_is_a_4xx_not_a_500(stripe_server):
    auth = (stripe_server.api_key, "")
    for body in ("metadata[a]=1&metadata=2", "line_items[0]=x&line_items[0][price]=y", "a[b=1", "name[]=x"):
        r = requests.post(f"{stripe_server.url}/v1/products", data=body, auth=auth,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert 400 <= r.status_code < 500, (body, r.text)
        assert r.json()["error"]["type"] == "invalid_request_error"
    r = requests.post(f"{stripe_server.url}/v1/products", json={"name": "x"}, auth=auth)
    assert r.status_code == 400
