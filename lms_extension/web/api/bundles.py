"""``/api/v1/payments/bundles``: bundles of courses (admins)."""
from __future__ import annotations

from ... import permissions
from ...errors import InvalidInput
from ...services.payments import bundles
from ..base import APIHandler, requires
from .spec import errors, response


class BundlesAPI(APIHandler):
    @requires(permissions.ADMIN, "only admins create bundles")
    def post(self):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict):
            raise InvalidInput("send a JSON object")
        allowed = {"slug", "title", "price_cents", "currency", "courses"}
        if set(body) - allowed:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(set(body) - allowed))}")
        bundle = bundles.create_bundle(self.db, user, slug=body.get("slug"), title=body.get("title"),
                                       price_cents=body.get("price_cents"), currency=str(body.get("currency", "usd")),
                                       course_slugs=body.get("courses"))
        self.db.commit()
        self.write_json({"slug": bundle.slug, "title": bundle.title, "price_cents": bundle.price_cents,
                         "currency": bundle.currency, "courses": [c.slug for c in bundle.courses]}, 201)


default_handlers = [
    (r"api/v1/payments/bundles", BundlesAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

OPENAPI_PATHS: dict = {
    "/payments/bundles": {"post": {"summary": "Create a bundle of courses (admins)", "security": [{"hubToken": []}],
                                   "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                       "type": "object", "required": ["slug", "title", "price_cents", "courses"],
                                       "properties": {"slug": {"type": "string"}, "title": {"type": "string"},
                                                      "price_cents": {"type": "integer"}, "currency": {"type": "string"},
                                                      "courses": {"type": "array", "items": {"type": "string"}}}}}}},
                                   "responses": {"201": response("Bundle", {"type": "object"}), **errors(400, 401, 403, 404, 409)}}},
}
