"""``/api/v1/payments/webhook``: Stripe's events."""
from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

from ...errors import LMSError
from ...services.payments import webhooks
from ...services.payments.stripe_client import PaymentsUnavailable
from ..base import APIHandler, CommerceMixin
from .spec import errors, response


log = logging.getLogger("lms.payments")


class WebhookAPI(CommerceMixin, APIHandler):
    """Stripe calls this without a hub login; the signature on the raw body is the authentication."""

    async def prepare(self):
        self._check_body_size()

    def check_xsrf_cookie(self):
        return None

    def post(self):
        event = webhooks.verify(self.request.body, self.request.headers.get("Stripe-Signature"),
                                self.config.stripe_webhook_secret)
        try:
            outcome = webhooks.handle(self.db, self.stripe, self.policy, event)
            self.db.commit()
        except LMSError:
            self.db.rollback()
            raise
        except DBAPIError as exc:  # a concurrent delivery won the race: let Stripe retry this one
            self.db.rollback()
            log.warning("webhook %s: database conflict, asking Stripe to retry: %s", event["id"], exc.orig)
            raise PaymentsUnavailable("busy, retry") from None
        self.write_json({"received": True, "outcome": outcome})


default_handlers = [
    (r"api/v1/payments/webhook", WebhookAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/payments/webhook": {"post": {"summary": "Stripe webhook (Stripe-Signature on the raw body)",
                                   "responses": {"200": response("Event accepted", {"type": "object"}), **errors(400, 503)}}},
}
