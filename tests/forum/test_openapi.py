"""The forum's part of the OpenAPI document is valid and documents exactly the forum's API routes."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from lms_extension.web.api import forum as forum_api
from lms_extension.web.api import openapi


def test_forum_routes_are_documented():
    doc = openapi.document("/services/lms/", [forum_api])
    validate(doc)
    documented = {re.sub(r"\{[^}]+\}", "{}", "/api/v1" + p) for p in doc["paths"]}
    routed = {"/" + re.sub(r"\([^()]*\)", "{}", pattern) for pattern, _ in forum_api.default_handlers}
    assert documented == routed
    for method, path in [("post", "/courses/{slug}/threads"), ("get", "/courses/{slug}/threads"),
                         ("get", "/threads/{id}"), ("post", "/threads/{id}/posts"), ("post", "/posts/{id}/vote"),
                         ("post", "/threads/{id}/accept")]:
        op = doc["paths"][path][method]
        assert op["security"] and "403" in op["responses"], (method, path)
