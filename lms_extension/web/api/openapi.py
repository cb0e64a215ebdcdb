"""The OpenAPI document of ``/api/v1``: this core (the error schema, the security scheme) plus what
each handler module adds. A test checks it against the routes and responses."""
from __future__ import annotations

from ..base import APIHandler


def _core(server_prefix: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Jupyter LMS API", "version": "1"},
        "servers": [{"url": server_prefix.rstrip("/") + "/api/v1"}],
        "components": {
            "securitySchemes": {"hubToken": {"type": "apiKey", "in": "header", "name": "Authorization",
                                             "description": "'token <JupyterHub API token>'"}},
            "schemas": {
                "Error": {"type": "object", "required": ["status", "message"], "properties": {
                    "status": {"type": "integer"}, "error": {"type": "string"},
                    "message": {"type": "string"}}},
            },
        },
        "paths": {},
    }


def document(server_prefix: str, modules) -> dict:
    """The core document plus what each of the handler ``modules`` adds in ``OPENAPI_PATHS`` /
    ``OPENAPI_SCHEMAS``."""
    doc = _core(server_prefix)
    for module in modules:
        doc["paths"].update(getattr(module, "OPENAPI_PATHS", {}))
        doc["components"]["schemas"].update(getattr(module, "OPENAPI_SCHEMAS", {}))
    return doc


class OpenAPIHandler(APIHandler):
    def get(self):
        # the application's own module list (web.app.HANDLER_MODULES), which includes this module
        self.write_json(document(self.config.service_prefix, self.settings["handler_modules"]))


default_handlers = [(r"api/v1/openapi.json", OpenAPIHandler)]
