"""JSON API: my browsers' web push subscriptions (``/api/v1/me/push-subscriptions``).

The preferences page's script posts ``PushSubscription.toJSON()`` here after the browser's
``PushManager.subscribe`` with the key ``GET`` gives; ``DELETE`` with the endpoint forgets it."""
from __future__ import annotations

from ...services import push
from ..base import APIHandler, body_dict, requires_user
from .spec import SECURITY, errors, json_body, response


class PushSubscriptionsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        self.write_json({"public_key": push.application_server_key(self.config),
                         "subscriptions": [push.as_dict(s) for s in push.subscriptions_of(self.db, user.id)]})

    @requires_user
    def post(self):
        user = self.require_user()
        row = push.subscribe(self.db, user.id, body_dict(self), user_agent=self.request.headers.get("User-Agent", ""),
                             allow_local=self.config.push_allow_local)
        self.db.commit()
        self.write_json(push.as_dict(row), status=201)

    @requires_user
    def delete(self):
        user = self.require_user()
        push.unsubscribe(self.db, user.id, endpoint=body_dict(self).get("endpoint"))
        self.db.commit()
        self.set_status(204)
        self.finish()


default_handlers = [
    (r"api/v1/me/push-subscriptions", PushSubscriptionsAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_SUBSCRIPTION = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "endpoint": {"type": "string", "format": "uri"},
    "push_service": {"type": "string", "description": "host of the browser vendor's push service"},
    "user_agent": {"type": "string", "description": "the browser that subscribed, as it named itself"},
    "created_at": {"type": "string", "format": "date-time"},
    "last_success_at": {"type": "string", "format": "date-time", "nullable": True}}}
_BROWSER_SUBSCRIPTION = {
    "type": "object", "required": ["endpoint", "keys"],
    "description": "PushSubscription.toJSON() of the browser, made with the public_key of GET",
    "properties": {
        "endpoint": {"type": "string", "format": "uri", "maxLength": 1024,
                     "description": "https:// on a public host (unless LMS_PUSH_ALLOW_LOCAL)"},
        "expirationTime": {"type": "number", "nullable": True},
        "keys": {"type": "object", "required": ["p256dh", "auth"], "properties": {
            "p256dh": {"type": "string", "description": "P-256 public key, uncompressed (65 bytes), base64url"},
            "auth": {"type": "string", "description": "auth secret (16 bytes), base64url"}}}}}

OPENAPI_PATHS: dict = {
    "/me/push-subscriptions": {
        "get": {
            "summary": "The VAPID public key to subscribe with, and my subscribed browsers", "security": SECURITY,
            "responses": {"200": response("Key and subscriptions", {"type": "object", "properties": {
                "public_key": {"type": "string", "description": "applicationServerKey for PushManager.subscribe "
                                                                "(uncompressed P-256 point, base64url)"},
                "subscriptions": {"type": "array", "items": _SUBSCRIPTION}}}), **errors(401)}},
        "post": {
            "summary": "Push my notifications to this browser", "security": SECURITY,
            "description": "The same endpoint again updates its keys (and moves it to the caller); a user keeps "
                           "at most 10 browsers, the oldest going first. Which kinds are pushed is chosen per "
                           "kind in the notification preferences (channel `push`).",
            "requestBody": json_body(_BROWSER_SUBSCRIPTION),
            "responses": {"201": response("Subscribed", _SUBSCRIPTION), **errors(400, 401, 413)}},
        "delete": {
            "summary": "Stop pushing to a browser", "security": SECURITY,
            "requestBody": json_body({"type": "object", "required": ["endpoint"],
                                      "properties": {"endpoint": {"type": "string"}}}),
            "responses": {"204": response("Forgotten"), **errors(400, 401, 404)}}},
}
