"""Connect Express accounts, the onboarding page, Transfers and reversals."""
from __future__ import annotations

import pytest
import requests
import stripe


def express_account(client, email="teacher@example.com"):
    return client.v1.accounts.create({"type": "express", "email": email, "country": "US",
                                      "capabilities": {"transfers": {"requested": True}},
                                      "metadata": {"instructor_id": "3"}})


def onboard(client, account):
    link = client.v1.account_links.create({"account": account.id, "type": "account_onboarding",
                                           "refresh_url": "http://lms.test/teach/payouts/refresh",
                                           "return_url": "http://lms.test/teach/payouts/done"})
    page = requests.get(link.url)
    assert page.status_code == 200 and account.id in page.text
    r = requests.post(link.url, data={"business_name": "Ada's Courses"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "http://lms.test/teach/payouts/done"
    return link


def paid_charge(client, stripe_server, amount=10000):
    price = client.v1.prices.create({"product_data": {"name": "Course"}, "unit_amount": amount, "currency": "usd"})
    session = client.v1.checkout.sessions.create({"mode": "payment", "success_url": "http://x",
                                                  "line_items": [{"price": price.id, "quantity": 1}],
                                                  "payment_intent_data": {"transfer_group": "order-1"}})
    pi = client.v1.payment_intents.retrieve(stripe_server.pay(session.id, email="b@example.com")["payment_intent"])
    return client.v1.charges.retrieve(pi.latest_charge)


def test_onboarding_enables_the_account(client, stripe_server, receiver):
    account = express_account(client)
    assert account.id.startswith("acct_") and account.type == "express"
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (False, False, False)
    assert account.requirements.currently_due
    link = onboard(client, account)
    done = client.v1.accounts.retrieve(account.id)
    assert (done.charges_enabled, done.payouts_enabled, done.details_submitted) == (True, True, True)
    assert done.capabilities.transfers == "active" and done.business_profile.name == "Ada's Courses"
    event = receiver.wait_for("account.updated")[0]
    assert event["account"] == account.id and event["data"]["previous_attributes"]["details_submitted"] is False
    # a used link sends the user to refresh_url, like Stripe's expired links
    again = requests.get(link.url, allow_redirects=False)
    assert again.status_code == 302 and again.headers["Location"] == "http://lms.test/teach/payouts/refresh"
    login = client.v1.accounts.login_links.create(account.id)
    assert requests.get(login.url).status_code == 200


def test_transfers_and_reversals(client, stripe_server, receiver):
    account = express_account(client)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.transfers.create({"amount": 1000, "currency": "usd", "destination": account.id})
    assert err.value.param == "destination"  # not onboarded yet: no transfers capability
    onboard(client, account)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.transfers.create({"amount": 1000, "currency": "usd", "destination": account.id})
    assert err.value.code == "balance_insufficient"
    charge = paid_charge(client, stripe_server)
    transfer = client.v1.transfers.create({"amount": 7000, "currency": "usd", "destination": account.id,
                                           "source_transaction": charge.id, "metadata": {"payout": "p1"}})
    assert transfer.id.startswith("tr_") and transfer.transfer_group == "order-1" and transfer.amount_reversed == 0
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.transfers.create({"amount": 5000, "currency": "usd", "destination": account.id,
                                    "source_transaction": charge.id})
    assert err.value.param == "amount"
    assert [t.id for t in client.v1.transfers.list({"destination": account.id}).data] == [transfer.id]
    balance = client.v1.balance.retrieve(options={"stripe_account": account.id})
    assert balance.available[0].amount == 7000
    part = client.v1.transfers.reversals.create(transfer.id, {"amount": 2000})
    assert part.id.startswith("trr_") and part.amount == 2000 and part.transfer == transfer.id
    rest = client.v1.transfers.reversals.create(transfer.id)
    assert rest.amount == 5000
    reversed_ = client.v1.transfers.retrieve(transfer.id)
    assert reversed_.reversed and reversed_.amount_reversed == 7000
    assert {r.id for r in client.v1.transfers.reversals.list(transfer.id).data} == {part.id, rest.id}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.reversals.create(transfer.id, {"amount": 1})
    stripe_server.wait_idle()
    assert len(receiver.wait_for("transfer.reversed", count=2)) == 2
    assert receiver.wait_for("transfer.created")[0]["data"]["object"]["id"] == transfer.id


def test_platform_balance_tracks_charges_refunds_and_transfers(client, stripe_server):
    account = express_account(client)
    onboard(client, account)
    charge = paid_charge(client, stripe_server, amount=10000)
    txn = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert (txn.amount, txn.fee, txn.net, txn.type) == (10000, 320, 9680, "charge")
    client.v1.transfers.create({"amount": 6000, "currency": "usd", "destination": account.id})
    client.v1.refunds.create({"charge": charge.id, "amount": 1000})
    assert client.v1.balance.retrieve().available[0].amount == 9680 - 6000 - 1000


def test_destination_charge(client, stripe_server):
    account = express_account(client)
    onboard(client, account)
    price = client.v1.prices.create({"product_data": {"name": "Course"}, "unit_amount": 10000, "currency": "usd"})
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "http://x", "line_items": [{"price": price.id, "quantity": 1}],
        "payment_intent_data": {"application_fee_amount": 3000, "transfer_data": {"destination": account.id}}})
    pi = client.v1.payment_intents.retrieve(stripe_server.pay(session.id, email="b@example.com")["payment_intent"],
                                            {"expand": ["latest_charge.transfer"]})
    assert pi.application_fee_amount == 3000 and pi.transfer_data.destination == account.id
    assert pi.latest_charge.transfer.amount == 7000 and pi.latest_charge.transfer.destination == account.id


def test_account_link_errors(client):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.account_links.create({"account": "acct_missing", "type": "account_onboarding"})
    assert err.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.accounts.create({"type": "express", "capabilities": {"transfers": {"requested": True}},
                                   "tos_shown": True})
    assert err.value.param == "tos_shown"
