"""State survives restarts with --state-file; the server runs as a command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests
import stripe

from stripe_test_server.testing import free_port, running_server

REPO = Path(__file__).resolve().parents[2]


def test_state_file_round_trip(tmp_path):
    state = tmp_path / "stripe-state.json"
    with running_server(state_file=str(state)) as srv:
        client = srv.client()
        price = client.v1.prices.create({"product_data": {"name": "Kept"}, "unit_amount": 1200, "currency": "usd",
                                         "recurring": {"interval": "month"}})
        session = client.v1.checkout.sessions.create({"mode": "subscription", "success_url": "http://x",
                                                      "line_items": [{"price": price.id, "quantity": 1}]})
        srv.pay(session.id, email="keep@example.com")
        srv.advance(3600)
        sub_id = client.v1.checkout.sessions.retrieve(session.id).subscription
    assert json.loads(state.read_text())["clock_offset"] == 3600
    with running_server(state_file=str(state)) as srv:
        client = srv.client()
        assert client.v1.prices.retrieve(price.id).unit_amount == 1200
        assert client.v1.subscriptions.retrieve(sub_id).status == "active"
        assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"
        assert srv.control("GET", "clock")["offset"] == 3600
        assert client.v1.events.list({"type": "checkout.session.completed"}).data
        assert client.v1.customers.create({"email": "new@example.com"}).id  # ids keep working after reload
        srv.advance(40 * 86400)  # the reloaded subscription renews
        assert len(client.v1.invoices.list({"subscription": sub_id}).data) == 2


def test_command_line(tmp_path):
    port = free_port()
    state = tmp_path / "state.json"
    key = "sk_test_from_the_environment"
    proc = subprocess.Popen([sys.executable, "-m", "stripe_test_server", "--port", str(port), "--state-file",
                             str(state), "--log-level", "warning"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "STRIPE_SECRET_KEY": key})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        client = stripe.StripeClient(key, base_addresses={"api": url})
        assert client.v1.products.create({"name": "From CLI"}).name == "From CLI"
        assert "From CLI" in state.read_text()
        assert requests.get(f"{url}/_test/", headers={"Authorization": f"Bearer {key}"}).json()["controls"]
        assert requests.get(f"{url}/_test/").status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)
    help_text = subprocess.run([sys.executable, "-m", "lms_extension.cli", "stripe-test-server", "--help"],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "--webhook-secret-file" in help_text.stdout and "--state-file" in help_text.stdout
