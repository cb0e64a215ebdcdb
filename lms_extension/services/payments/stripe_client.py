"""The one place that builds a ``stripe.StripeClient``: real Stripe or the bundled test
server, chosen only by the configured API base (``LMS_STRIPE_API_BASE``)."""
from __future__ import annotations

from typing import Any

import stripe

from ...errors import PaymentsRejected, PaymentsUnavailable  # noqa: F401  (raised here, imported from here too)

REAL_STRIPE = "https://api.stripe.com"


def make_client(api_base: str, secret_key: str, *, max_network_retries: int = 2) -> stripe.StripeClient:
    if not secret_key:
        raise PaymentsUnavailable("payments are not configured: set LMS_STRIPE_SECRET_KEY")
    base = (api_base or REAL_STRIPE).rstrip("/")
    addresses = {"api": base} if base == REAL_STRIPE else {"api": base, "connect": base, "files": base}
    return stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=max_network_retries)


def from_config(config) -> stripe.StripeClient:
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
