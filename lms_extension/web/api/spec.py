"""Pieces of the OpenAPI document that every API module uses for its ``OPENAPI_PATHS``."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
LESSON = {"name": "lesson", "in": "path", "required": True, "schema": {"type": "string"}}

ERROR_TEXT = {400: "Bad input", 401: "Not logged in", 402: "Payment required", 403: "Forbidden",
              404: "Not found", 409: "Conflict", 413: "Body too large",
              429: "Too many requests: retry after Retry-After seconds",
              503: "Service unavailable (Stripe unreachable): retry"}


def response(description: str, schema: dict | None = None, media: str = "application/json") -> dict:
    body = {"description": description}
    if schema is not None:
        body["content"] = {media: {"schema": schema}}
    return body


def errors(*codes: int, text: dict[int, str] | None = None) -> dict:
    """Error responses for ``codes``; ``text`` overrides the wording of some."""
    wording = {**ERROR_TEXT, **(text or {})}
    return {str(c): response(wording[c], ERROR) for c in codes}

SECURITY = [{"hubToken": []}]


def path_param(name: str, kind: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}
