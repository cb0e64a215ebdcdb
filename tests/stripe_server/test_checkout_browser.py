"""The hosted checkout page in real Chromium: a declined card, then a good one, then the success page."""
from __future__ import annotations

import pytest

from stripe_test_server.testing import running_server
from tests.browser.conftest import browser  # noqa: F401 - the shared module-scoped Chromium fixture

pytestmark = pytest.mark.browser


def test_pay_in_chromium(browser):  # noqa: F811
    with running_server() as srv:
        client = srv.client()
        price = client.v1.prices.create({"product_data": {"name": "Statistics with Python"}, "unit_amount": 3900,
                                         "currency": "usd"})
        session = client.v1.checkout.sessions.create({
            "mode": "payment", "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": f"{srv.url}/?paid={{CHECKOUT_SESSION_ID}}", "cancel_url": f"{srv.url}/?cancelled=1"})
        page = browser.new_page()
        try:
            page.goto(session.url)
            assert "Statistics with Python" in page.text_content("#summary")
            assert page.text_content("#total") == "$39.00"
            page.fill("#email", "chromium@example.com")
            page.fill("#card_number", "4000 0000 0000 0002")
            page.fill("#expiry", "12 / 34")
            page.fill("#cvc", "123")
            page.click("#submit")
            assert page.text_content("#error") == "Your card was declined."
            page.fill("#card_number", "4242 4242 4242 4242")
            page.fill("#cvc", "123")
            page.click("#submit")
            page.wait_for_url(f"{srv.url}/?paid={session.id}")
        finally:
            page.close()
        paid = client.v1.checkout.sessions.retrieve(session.id)
        assert (paid.status, paid.payment_status, paid.customer_details.email) == (
            "complete", "paid", "chromium@example.com")
