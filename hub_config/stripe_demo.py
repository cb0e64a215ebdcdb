"""Stripe in test mode for demo and test platforms: the bundled Stripe test server as a
JupyterHub-managed service, its webhook pointed at the LMS, and the LMS pointed at it.

Only in demo mode (``LMS_DEMO=1``), and only when ``LMS_STRIPE_API_BASE`` is unset and no live
key (``sk_live_...``) is configured. Outside demo mode nothing here runs: the LMS talks to
Stripe with the operator's keys (README.md, "Payments with real Stripe keys"), or to a test
server the operator names in ``LMS_STRIPE_API_BASE``.

The two secrets (the API key the test server answers to and the webhook signing secret) are
random per installation, kept in 0600 files in the data folder, and reach the processes
through their environment: never on a command line, where ``ps`` shows them to everyone.

``configure`` runs while the hub loads its configuration (before ``freeze()``): it writes the
test server's settings into the hub's ``LMSConfig`` (so the hub's own account deletion talks
to the same server) and the hub hands them to the LMS service and worker through their
``environment`` (``config.environment(SETTINGS)``); the hub's own ``os.environ`` is left alone.
"""
from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

from lms_extension.config import LMSConfig

DEFAULT_PORT = 12111
# the settings configure() decides, handed to the LMS service and worker
SETTINGS = ("stripe_api_base", "stripe_test_port", "stripe_secret_key", "stripe_webhook_secret")


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


def wanted(config: LMSConfig) -> bool:
    return (config.demo and config.source("stripe_api_base") == "default"
            and not config.stripe_secret_key.startswith(("sk_live_", "rk_live_")))


def _kept_secret(path: Path, make) -> str:
    """A secret created once with mode 0600 (before anything is written to it)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    os.chmod(path, 0o600)
    return path.read_text().strip()


def configure(config: LMSConfig) -> dict | None:
    """At hub start, before it starts the LMS service: point ``config`` (not yet frozen) at the
    bundled test server; returns the managed service to add, or None when it is not wanted."""
    if not wanted(config):
        return None
    data_dir = Path(config.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = config.stripe_test_port or (DEFAULT_PORT if _port_free(DEFAULT_PORT) else _free_port())
    secret = config.stripe_webhook_secret or _kept_secret(
        data_dir / "stripe-test-webhook-secret", lambda: f"whsec_{secrets.token_hex(24)}")
    key = config.stripe_secret_key
    if not key.startswith("sk_test_"):
        key = _kept_secret(data_dir / "stripe-test-secret-key", lambda: f"sk_test_{secrets.token_urlsafe(32)}")
    config.apply({"stripe_api_base": f"http://127.0.0.1:{port}", "stripe_test_port": port,
                  "stripe_secret_key": key, "stripe_webhook_secret": secret}, source="stripe-demo")
    # the hub names its service "lms", so JupyterHub gives it the prefix /services/lms/
    webhook = f"http://127.0.0.1:{config.service_port}/services/lms/api/v1/payments/webhook"
    return {
        "name": "stripe-test",
        "command": [sys.executable, "-m", "stripe_test_server", "--port", str(port),
                    "--webhook-url", webhook,
                    "--state-file", str(data_dir / "stripe-test-state.json"),
                    "--retry-base", "2", "--log-level", "WARNING"],
        "environment": {"PATH": os.environ.get("PATH", ""), "LMS_DEMO": "1",
                        "STRIPE_SECRET_KEY": key, "STRIPE_WEBHOOK_SECRET": secret},
    }
