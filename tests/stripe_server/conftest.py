"""Fixtures: a real Stripe test server on a free port, and a webhook receiver that verifies signatures."""
from __future__ import annotations

import pytest

from stripe_test_server.testing import WebhookReceiver, running_server


@pytest.fixture
def receiver():
    with WebhookReceiver() as rx:
        yield rx


@pytest.fixture
def stripe_server(receiver):
    """The server with ``receiver`` as its ``--webhook-url`` endpoint; fast retries, short delays."""
    with running_server(webhook_url=receiver.url, webhook_secret=receiver.secret, retry_base=0.1,
                        max_attempts=5, dispute_delay=1, async_delay=1) as srv:
        yield srv


@pytest.fixture
def client(stripe_server):
    return stripe_server.client()


@pytest.fixture
def course_price(client):
    product = client.v1.products.create({"name": "Python for Data Science", "metadata": {"course": "py-ds"}})
    return client.v1.prices.create({"product": product.id, "unit_amount": 5000, "currency": "usd"})


@pytest.fixture
def monthly_price(client):
    product = client.v1.products.create({"name": "All-access pass"})
    return client.v1.prices.create({"product": product.id, "unit_amount": 2000, "currency": "usd",
                                    "recurring": {"interval": "month"}})
