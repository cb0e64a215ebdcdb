"""The authoring routes (Validate, Preview, who may author) are in the OpenAPI document, which stays valid."""
import re

from openapi_spec_validator import validate

from lms_extension.web.api import authoring as authoring_api, openapi
from lms_extension.web.app import HANDLER_MODULES


def test_authoring_routes_are_documented():
    assert authoring_api in HANDLER_MODULES
    doc = openapi.document("/services/lms/", HANDLER_MODULES)
    validate(doc)
    documented = {re.sub(r"\{[^}]+\}", "{}", "/api/v1" + path) for path in doc["paths"]}
    for pattern, _ in authoring_api.default_handlers:
        assert "/" + pattern in documented, pattern
    assert {"400", "403", "429"} <= set(doc["paths"]["/teach/validate"]["post"]["responses"])
