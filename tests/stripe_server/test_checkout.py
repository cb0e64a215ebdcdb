"""Checkout Sessions in payment mode: totals, the hosted page, the test cards, disputes and refunds."""
from __future__ import annotations

import re

import pytest
import requests
import stripe

from stripe_test_server.testing import ControlError

SUCCESS = "http://lms.test/purchases/done?session_id={CHECKOUT_SESSION_ID}"


def make_session(client, price, **extra):
    params = {"mode": "payment", "success_url": SUCCESS, "cancel_url": "http://lms.test/courses/py-ds",
              "line_items": [{"price": price.id, "quantity": 1}], "metadata": {"course_id": "42", "user_id": "7"},
              "client_reference_id": "user-7", "customer_email": "student@example.com"}
    params.update(extra)
    return client.v1.checkout.sessions.create(params)


def pay_on_page(session, card, country="US", expiry="12 / 34", email="student@example.com"):
    return requests.post(session.url, data={"email": email, "card_number": card, "expiry": expiry, "cvc": "123",
                                            "name": "Ada Lovelace", "country": country}, allow_redirects=False)


def test_totals_with_discount_and_exclusive_tax(client, course_price):
    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "once"})
    vat = client.v1.tax_rates.create({"display_name": "VAT", "percentage": 19, "inclusive": False})
    session = make_session(client, course_price, discounts=[{"coupon": coupon.id}],
                           line_items=[{"price": course_price.id, "quantity": 2, "tax_rates": [vat.id]}])
    assert session.id.startswith("cs_test_") and session.status == "open" and session.payment_status == "unpaid"
    assert session.url.endswith(f"/checkout/{session.id}")
    assert (session.amount_subtotal, session.total_details.amount_discount, session.total_details.amount_tax,
            session.amount_total) == (10000, 2500, 1425, 8925)
    assert session.metadata["course_id"] == "42" and session.client_reference_id == "user-7"
    assert session.payment_intent is None  # created when the buyer pays, as with Stripe
    expanded = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    item = expanded.line_items.data[0]
    assert (item.object, item.quantity, item.amount_subtotal, item.amount_discount, item.amount_tax,
            item.amount_total) == ("item", 2, 10000, 2500, 1425, 8925)
    assert item.price.id == course_price.id and item.taxes[0].rate.id == vat.id
    assert client.v1.checkout.sessions.line_items.list(session.id).data[0].id == item.id
    deep = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items.data.price.product"]})
    assert deep.line_items.data[0].price.product.name == "Python for Data Science"
    listed = client.v1.checkout.sessions.line_items.list(session.id, {"expand": ["data.price.product"]})
    assert listed.data[0].price.product.metadata["course"] == "py-ds"


def test_inclusive_tax_and_price_data(client):
    rate = client.v1.tax_rates.create({"display_name": "VAT", "percentage": 20, "inclusive": True, "country": "GB"})
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": SUCCESS,
        "line_items": [{"quantity": 1, "tax_rates": [rate.id], "price_data": {
            "currency": "gbp", "unit_amount": 5000, "product_data": {"name": "Deep Learning"}}}]})
    assert (session.amount_subtotal, session.total_details.amount_tax, session.amount_total) == (5000, 833, 5000)


def test_hosted_page_pays_with_4242(client, stripe_server, receiver, course_price):
    session = make_session(client, course_price, invoice_creation={"enabled": True})
    page = requests.get(session.url)
    assert page.status_code == 200
    assert "Python for Data Science" in page.text and "$50.00" in page.text and "student@example.com" in page.text
    assert 'href="http://lms.test/courses/py-ds"' in page.text.replace("'", '"')  # the cancel link
    r = pay_on_page(session, "4242 4242 4242 4242")
    assert r.status_code == 303
    assert r.headers["Location"] == f"http://lms.test/purchases/done?session_id={session.id}"
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent.latest_charge", "invoice"]})
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.customer_details.email == "student@example.com"
    pi = done.payment_intent
    assert pi.status == "succeeded" and pi.amount == 5000 and pi.amount_received == 5000
    charge = pi.latest_charge
    assert charge.paid and charge.status == "succeeded" and not charge.refunded and not charge.disputed
    assert charge.payment_method_details.card.last4 == "4242" and charge.amount_refunded == 0
    assert done.invoice.status == "paid" and done.invoice.total == 5000 and done.invoice.number
    assert done.invoice.customer == done.customer and done.customer.startswith("cus_")
    assert requests.get(done.invoice.hosted_invoice_url).status_code == 200
    assert client.v1.checkout.sessions.list({"payment_intent": pi.id}).data[0].id == session.id
    assert [s.id for s in client.v1.checkout.sessions.list({"status": "complete"}).data] == [session.id]
    stripe_server.wait_idle()
    completed = receiver.wait_for("checkout.session.completed")[0]["data"]["object"]
    assert completed["id"] == session.id and completed["metadata"] == {"course_id": "42", "user_id": "7"}
    assert {"payment_intent.succeeded", "charge.succeeded", "invoice.paid"} <= set(receiver.types())
    assert "This payment is complete" in requests.get(session.url).text
    assert pay_on_page(session, "4242424242424242").status_code == 400  # no paying twice


def test_declined_card_stays_open(client, stripe_server, receiver, course_price):
    session = make_session(client, course_price)
    r = pay_on_page(session, "4000 0000 0000 0002")
    assert r.status_code == 402 and "Your card was declined." in r.text
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert again.status == "open" and again.payment_status == "unpaid"
    with pytest.raises(ControlError) as err:
        stripe_server.pay(session.id, card="4000000000000002")
    assert err.value.status == 402
    assert err.value.body["error"] == {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                                       "message": "Your card was declined.", "charge": err.value.body["error"]["charge"],
                                       "doc_url": "https://stripe.com/docs/error-codes/card-declined"}
    assert "Your card number is invalid." in pay_on_page(session, "4242 4242 4242 4241").text
    assert "expiration" in pay_on_page(session, "4242424242424242", expiry="01 / 20").text
    stripe_server.wait_idle()
    assert "payment_intent.payment_failed" in receiver.types()
    assert "checkout.session.completed" not in receiver.types()
    assert pay_on_page(session, "4242424242424242").status_code == 303  # a good card afterwards still pays


def test_0259_pays_then_is_disputed(client, stripe_server, receiver, course_price):
    session = make_session(client, course_price)
    stripe_server.pay(session.id, card="4000000000000259")
    created = receiver.wait_for("charge.dispute.created", timeout=10)[0]["data"]["object"]
    session = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert created["charge"] == session.payment_intent.latest_charge and created["status"] == "needs_response"
    assert client.v1.charges.retrieve(created["charge"]).disputed is True
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"payment_intent": session.payment_intent.id})
    assert err.value.code == "charge_disputed"
    stripe_server.close_dispute(created["id"], "won")
    closed = receiver.wait_for("charge.dispute.closed")[0]["data"]["object"]
    assert closed["status"] == "won" and client.v1.disputes.retrieve(created["id"]).status == "won"


def test_dispute_evidence_and_control_endpoint(client, stripe_server, receiver, course_price):
    session = make_session(client, course_price)
    paid = stripe_server.pay(session.id)
    charge_id = client.v1.payment_intents.retrieve(paid["payment_intent"]).latest_charge
    dispute = stripe_server.control("POST", f"charges/{charge_id}/dispute")
    lost = client.v1.disputes.update(dispute["id"], {"evidence": {"uncategorized_text": "losing_evidence"}})
    assert lost.status == "lost"
    assert [d.id for d in client.v1.disputes.list({"charge": charge_id}).data] == [dispute["id"]]


def test_refunds_partial_then_full(client, stripe_server, receiver, course_price):
    session = make_session(client, course_price)
    pi_id = stripe_server.pay(session.id)["payment_intent"]
    part = client.v1.refunds.create({"payment_intent": pi_id, "amount": 1500, "reason": "requested_by_customer"})
    assert part.id.startswith("re_") and part.status == "succeeded" and part.amount == 1500
    charge = client.v1.charges.retrieve(part.charge)
    assert (charge.amount_refunded, charge.refunded) == (1500, False)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"charge": charge.id, "amount": 4000})
    assert err.value.param == "amount"
    rest = client.v1.refunds.create({"charge": charge.id})
    assert rest.amount == 3500
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (5000, True)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"payment_intent": pi_id})
    assert err.value.code == "charge_already_refunded"
    assert {r.id for r in client.v1.refunds.list({"payment_intent": pi_id}).data} == {part.id, rest.id}
    stripe_server.wait_idle()
    refunded = [e["data"] for e in receiver.wait_for("charge.refunded", count=2)]
    assert refunded[0]["previous_attributes"]["amount_refunded"] == 0
    assert refunded[1]["object"]["refunded"] is True


def test_expiry_by_api_and_by_clock(client, stripe_server, receiver, course_price):
    first = make_session(client, course_price)
    assert client.v1.checkout.sessions.expire(first.id).status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(first.id)
    second = make_session(client, course_price)
    stripe_server.advance(24 * 3600 + 1)
    assert client.v1.checkout.sessions.retrieve(second.id).status == "expired"
    stripe_server.wait_idle()
    assert {e["data"]["object"]["id"] for e in receiver.wait_for("checkout.session.expired", count=2)} == {
        first.id, second.id}
    assert "expired" in requests.get(second.url).text


@pytest.mark.parametrize("card, outcome", [("4000000000008880", "succeeded"), ("4000000000007775", "failed")])
def test_delayed_payment_cards(client, stripe_server, receiver, course_price, card, outcome):
    session = make_session(client, course_price)
    done = stripe_server.pay(session.id, card=card)
    assert (done["status"], done["payment_status"]) == ("complete", "unpaid")
    assert client.v1.payment_intents.retrieve(done["payment_intent"]).status == "processing"
    event = receiver.wait_for(f"checkout.session.async_payment_{outcome}", timeout=10)[0]
    assert event["data"]["object"]["id"] == session.id
    pi = client.v1.payment_intents.retrieve(done["payment_intent"])
    assert pi.status == ("succeeded" if outcome == "succeeded" else "requires_payment_method")
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == (
        "paid" if outcome == "succeeded" else "unpaid")


def test_sepa_test_iban_settles_later(client, stripe_server, receiver):
    price = client.v1.prices.create({"product_data": {"name": "Kurs"}, "unit_amount": 3000, "currency": "eur"})
    session = make_session(client, price, allowed_payment_method_types=["card", "sepa_debit"])
    r = requests.post(session.url, data={"email": "s@example.com", "method": "sepa_debit",
                                         "iban": "DE89 3704 0044 0532 0130 00", "country": "DE"},
                      allow_redirects=False)
    assert r.status_code == 303
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"
    receiver.wait_for("checkout.session.async_payment_succeeded", timeout=10)
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_checkout_validation_errors(client, course_price, monthly_price):
    with pytest.raises(stripe.InvalidRequestError, match="recurring price"):
        make_session(client, monthly_price)
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_session(client, course_price, discounts=[{"coupon": "NOPE"}])
    assert err.value.param == "discounts[0][coupon]" and err.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_session(client, course_price, mode="bogus")
    assert err.value.param == "mode"
    with pytest.raises(stripe.InvalidRequestError) as err:  # renamed in API version 2026-10-28
        make_session(client, course_price, payment_method_types=["card"])
    assert err.value.param == "payment_method_types"
    with pytest.raises(stripe.InvalidRequestError, match="only specify one of"):
        make_session(client, course_price, customer=client.v1.customers.create({}).id)


def test_page_shows_discount_tax_and_total(client, course_price):
    coupon = client.v1.coupons.create({"amount_off": 1000, "currency": "usd", "duration": "once", "name": "SPRING"})
    rate = client.v1.tax_rates.create({"display_name": "Sales tax", "percentage": 10, "inclusive": False})
    session = make_session(client, course_price, discounts=[{"coupon": coupon.id}],
                           line_items=[{"price": course_price.id, "quantity": 1, "tax_rates": [rate.id]}])
    text = requests.get(session.url).text
    assert "SPRING" in text and "−$10.00" in text and "$4.00" in text
    assert re.search(r'id=total>\$44\.00', text)
