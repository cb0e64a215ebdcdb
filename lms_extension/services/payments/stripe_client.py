"""The one place that builds a ``stripe.StripeClient``: real Stripe or the bundled test
server, chosen only by the configured API base (``LMS_STRIPE_API_BASE``)."""
from __future__ import annotations

import logging
from typing import Any

import stripe

from ...errors import PaymentsRejected, PaymentsUnavailable  # noqa: F401  (raised here, imported from here too)

log = logging.getLogger("lms.payments")
REAL_STRIPE = "https://api.stripe.com"
# keys that once shipped as defaults: known to everyone, so never accepted as real keys
KNOWN_DEMO_KEYS = frozenset({"sk_test_jupyter_lms_demo", "sk_test_stripe_test_server"})
NOT_SET_UP = ("Payments are not set up on this platform yet, so nothing can be bought right now. "
              "The operator has been told; please try again later.")


def readiness(config) -> str | None:
    """Why checkout cannot run with this configuration (for the operator), or ``None``.

    Real Stripe needs a real secret key and the webhook's signing secret (without it a paid
    order is never fulfilled). A test server runs only where the operator names it in
    ``LMS_STRIPE_API_BASE`` (demo mode names the bundled one itself)."""
    base = (config.stripe_api_base or REAL_STRIPE).rstrip("/")
    key = config.stripe_secret_key or ""
    if base != REAL_STRIPE:
        return None if key else f"LMS_STRIPE_SECRET_KEY is not set (the key of the Stripe API at {base})"
    if not key:
        return ("no Stripe keys: set LMS_STRIPE_SECRET_KEY (sk_live_... or sk_test_... from "
                "https://dashboard.stripe.com/apikeys) and LMS_STRIPE_WEBHOOK_SECRET (whsec_...)")
    if key in KNOWN_DEMO_KEYS or not key.startswith(("sk_live_", "sk_test_", "rk_live_", "rk_test_")):
        return "LMS_STRIPE_SECRET_KEY is not a Stripe secret key of your account (sk_live_... or sk_test_...)"
    if not (config.stripe_webhook_secret or "").startswith("whsec_"):
        return ("LMS_STRIPE_WEBHOOK_SECRET is not set: add the endpoint <LMS_PUBLIC_URL>/services/lms/api/v1/"
                "payments/webhook in Stripe's dashboard and set its signing secret (whsec_...)")
    return None


def make_client(api_base: str, secret_key: str, *, max_network_retries: int = 2) -> stripe.StripeClient:
    if not secret_key:
        raise PaymentsUnavailable("payments are not configured: set LMS_STRIPE_SECRET_KEY")
    base = (api_base or REAL_STRIPE).rstrip("/")
    addresses = {"api": base} if base == REAL_STRIPE else {"api": base, "connect": base, "files": base}
    return stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=max_network_retries)


def from_config(config) -> stripe.StripeClient:
    """The client for this configuration; ``PaymentsUnavailable`` with a message for the buyer
    when payments are not set up (the operator's reason goes to the log)."""
    problem = readiness(config)
    if problem:
        log.error("checkout refused: %s", problem)
        raise PaymentsUnavailable(NOT_SET_UP)
    return make_client(config.stripe_api_base, config.stripe_secret_key)


def plain(obj: Any) -> Any:
    """A Stripe object as plain dicts and lists."""
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def call(fn, *args, **kwargs) -> dict:
    """Call the SDK; network/server trouble becomes ``PaymentsUnavailable`` (503, retry later)."""
    try:
        return plain(fn(*args, **kwargs))
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise PaymentsUnavailable(f"Stripe is unreachable: {exc.user_message or exc}") from None
    except stripe.APIError as exc:
        raise PaymentsUnavailable(f"Stripe failed: {exc.user_message or exc}") from None
    except stripe.AuthenticationError:
        raise PaymentsUnavailable("Stripe refused the configured secret key") from None
    except stripe.StripeError as exc:
        raise PaymentsRejected(f"Stripe refused: {exc.user_message or exc}", stripe_status=exc.http_status) from None


def lookup(fn, *args, **kwargs) -> dict | None:
    """Like ``call`` but ``None`` when Stripe says the object does not exist."""
    try:
        return call(fn, *args, **kwargs)
    except PaymentsRejected as exc:
        if exc.details.get("stripe_status") == 404:
            return None
        raise
