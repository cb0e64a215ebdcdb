"""Stripe-shaped API errors: the SDK maps ``status`` + ``error.type`` to its own exception classes."""
from __future__ import annotations


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, *, param: str | None = None,
                 code: str | None = None, decline_code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.param = param
        self.code = code
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self) -> dict:
        err = {"type": self.type, "message": self.message}
        for key in ("param", "code", "decline_code"):
            if getattr(self, key):
                err[key] = getattr(self, key)
        if self.code:
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        err.update(self.extra)
        return {"error": err}


def invalid(message: str, param: str | None = None, code: str | None = None, status: int = 400) -> StripeError:
    return StripeError(status, "invalid_request_error", message, param=param, code=code)


def missing(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", param, "parameter_missing")


def no_such(object_type: str, id_: str, param: str = "id") -> StripeError:
    return StripeError(404, "invalid_request_error", f"No such {object_type}: '{id_}'", param=param,
                       code="resource_missing")
