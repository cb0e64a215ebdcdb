"""Stripe in test mode for demo and test platforms: the bundled Stripe test server as a
JupyterHub-managed service, its webhook pointed at the LMS, and the LMS pointed at it.

Used when ``LMS_STRIPE_API_BASE`` is unset and no live key (``sk_live_...``) is configured;
set ``LMS_STRIPE_API_BASE=https://api.stripe.com`` with real keys to talk to Stripe.
"""
from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

DEFAULT_PORT = 12111


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wanted() -> bool:
    return not os.environ.get("LMS_STRIPE_API_BASE") and not os.environ.get("LMS_STRIPE_SECRET_KEY", "").startswith("sk_live_")


def configure(data_dir: Path, service_port: int) -> dict | None:
    """Set the LMS_STRIPE_* variables for the LMS service; returns the managed service to add."""
    if not wanted():
        return None
    port = int(os.environ.get("LMS_STRIPE_TEST_PORT") or 0) or (DEFAULT_PORT if _port_free(DEFAULT_PORT) else _free_port())
    secret_file = data_dir / "stripe-test-webhook-secret"
    if os.environ.get("LMS_STRIPE_WEBHOOK_SECRET"):
        secret = os.environ["LMS_STRIPE_WEBHOOK_SECRET"]
    else:
        if not secret_file.exists():
            secret_file.touch(mode=0o600)
            secret_file.write_text(f"whsec_{secrets.token_hex(24)}")
        secret = secret_file.read_text().strip()
    base = f"http://127.0.0.1:{port}"
    os.environ["LMS_STRIPE_API_BASE"] = base
    os.environ["LMS_STRIPE_TEST_PORT"] = str(port)
    os.environ.setdefault("LMS_STRIPE_SECRET_KEY", "sk_test_jupyter_lms_demo")
    os.environ["LMS_STRIPE_WEBHOOK_SECRET"] = secret
    return {
        "name": "stripe-test",
        "command": [sys.executable, "-m", "stripe_test_server", "--port", str(port),
                    "--webhook-url", f"http://127.0.0.1:{service_port}/services/lms/api/v1/payments/webhook",
                    "--webhook-secret", secret, "--state-file", str(data_dir / "stripe-test-state.json"),
                    "--retry-base", "2", "--log-level", "WARNING"],
        "environment": {"PATH": os.environ.get("PATH", "")},
    }
