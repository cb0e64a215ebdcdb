"""Domain errors. Services raise these; one place (``web.base``) maps them to HTTP."""
from __future__ import annotations


class LMSError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(LMSError):
    status = 400
    code = "invalid_input"


class NotAuthenticated(LMSError):
    status = 401
    code = "not_authenticated"


class PaymentRequired(LMSError):
    status = 402
    code = "payment_required"


class Forbidden(LMSError):
    status = 403
    code = "forbidden"


class NotFound(LMSError):
    status = 404
    code = "not_found"


class Conflict(LMSError):
    status = 409
    code = "conflict"


class Gone(LMSError):
    """It existed and no longer works (a used or expired emailed link)."""

    status = 410
    code = "gone"


class PayloadTooLarge(LMSError):
    status = 413
    code = "payload_too_large"


class PaymentsUnavailable(LMSError):
    """Stripe did not answer (or is not configured); the caller should retry later."""

    status = 503
    code = "payments_unavailable"


class PaymentsRejected(LMSError):
    """Stripe refused the request (no such object, a declined card, a bad parameter)."""

    status = 409
    code = "payments_rejected"


class CourseFormatError(InvalidInput):
    """A course folder (course.toml + notebooks) that cannot be imported."""

    code = "course_format"


class SchemaMismatch(Exception):
    """The database schema is not the one this code expects (not an HTTP error)."""


class TooManyRequests(LMSError):
    """Come back later; ``retry_after`` (seconds) becomes the Retry-After header."""

    status = 429
    code = "too_many_requests"
