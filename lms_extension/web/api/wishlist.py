"""``/api/v1/me/wishlist``: my wishlist."""
from __future__ import annotations

from ...errors import NotFound
from ...services import wishlist
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, response


class WishlistAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"courses": [c.public() for c in wishlist.items(self.db, user)]})


class WishlistItemAPI(APIHandler):
    @requires_user
    def put(self, slug: str):
        self.json_body()
        user = self.require_user()
        _, created = wishlist.add(self.db, user, slug)
        self.db.commit()
        self.write_json({"course": slug, "wishlisted": True}, 201 if created else 200)

    @requires_user
    def delete(self, slug: str):
        user = self.require_user()
        if not wishlist.remove(self.db, user, slug):
            raise NotFound(f"{slug!r} is not on your wishlist")
        self.db.commit()
        self.write_json({"course": slug, "wishlisted": False})


default_handlers = [
    (r"api/v1/me/wishlist", WishlistAPI),
    (r"api/v1/me/wishlist/([^/]+)", WishlistItemAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_CARDS = {"type": "object", "required": ["courses"], "properties": {
    "courses": {"type": "array", "items": {"$ref": "#/components/schemas/CourseSummary"}}}}
OPENAPI_PATHS: dict = {
    "/me/wishlist": {
        "get": {"summary": "Your wishlist", "security": SECURITY, "responses": {"200": response("Courses", _CARDS), **errors(401)}}},
    "/me/wishlist/{slug}": {
        "put": {"summary": "Add a course to your wishlist", "security": SECURITY, "parameters": [_SLUG],
                "responses": {"201": response("Added", {"type": "object"}), "200": response("Already there", {"type": "object"}),
                              **errors(401, 404)}},
        "delete": {"summary": "Remove a course from your wishlist", "security": SECURITY, "parameters": [_SLUG],
                   "responses": {"200": response("Removed", {"type": "object"}), **errors(401, 404)}}},
}
