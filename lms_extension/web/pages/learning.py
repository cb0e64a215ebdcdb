"""Learning pages (issue 6): certificates, verification, achievements, leaderboards."""
from __future__ import annotations

# Routes relative to the service prefix, as in the other handler modules.
default_handlers: list = []

# OpenAPI paths (keys relative to /api/v1) and component schemas this module adds.
OPENAPI_PATHS: dict = {}
OPENAPI_SCHEMAS: dict = {}
