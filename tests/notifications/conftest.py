"""Notifications on the real LMS app (Tornado, SQLite and PostgreSQL). The hub's answer to
"who is this?" is the one thing stood in for: the ``X-Test-User`` header names the user (the
API takes it as it takes a hub token: no xsrf cookie needed)."""
from __future__ import annotations

import re
import secrets

import pytest
import requests
from jupyterhub.services.auth import HubOAuth

from lms_extension import permissions
from lms_extension.config import LMSConfig
from lms_extension.db import session_factory
from lms_extension.web.app import make_app
from tests.conftest import own_engine
from tests.identity import answer_identity
from tests.sandbox.sandbox_helpers import ServerThread


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database: the pages and the concurrency tests commit."""
    yield from own_engine(db_url, tmp_path_factory)


def _identity(handler):
    name = handler.request.headers.get("X-Test-User")
    if not name:
        return None
    roles = handler.request.headers.get("X-Test-Roles", "").split(",")
    return {"name": name, "kind": "user", "admin": False, "groups": [],
            "scopes": ["access:services!service=lms",
                       *permissions.scopes_for(instructor="instructor" in roles, admin="admin" in roles)]}


class Client:
    """A browser of one user: cookies (the xsrf one set), ``get`` and form ``post`` by path."""

    def __init__(self, base: str, name: str | None, *roles: str):
        self.base = base
        self.http = requests.Session()
        if name:
            self.http.headers.update({"X-Test-User": name, "X-Test-Roles": ",".join(roles)})
        self.name = name
        self._xsrf: str | None = None

    @property
    def xsrf(self) -> str:
        if self._xsrf is None:
            page = self.get("notifications/preferences")
            found = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
            self._xsrf = found.group(1) if found else "none"
        return self._xsrf

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base + path, timeout=30, allow_redirects=kwargs.pop("allow_redirects", False), **kwargs)

    def post(self, path: str, data: dict | list | None = None, **kwargs) -> requests.Response:
        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        return self.http.post(self.base + path, data=items + [("_xsrf", self.xsrf)], timeout=30,
                              allow_redirects=kwargs.pop("allow_redirects", False), **kwargs)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=30, **kwargs)


class Service:
    def __init__(self, base: str, factory, config):
        self.base, self.factory, self.config = base, factory, config

    def client(self, name: str | None, *roles: str) -> Client:
        return Client(self.base, name, *roles)


@pytest.fixture
def service(engine, tmp_path, monkeypatch):
    answer_identity(monkeypatch, _identity, HubOAuth)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "unused")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    monkeypatch.setenv("JUPYTERHUB_OAUTH_ACCESS_SCOPES", '["access:services!service=lms"]')
    config = LMSConfig(db_url=engine.url.render_as_string(hide_password=False), data_dir=str(tmp_path),
                       catalog_cache_seconds=0.0, trending_refresh_seconds=0.0, rate_limit_api_writes="")
    server = ServerThread(lambda: make_app(config, engine))
    yield Service(f"http://127.0.0.1:{server.port}/services/lms/", session_factory(engine), config)
    server.stop()




@pytest.fixture
def tag():
    """A suffix that keeps one test's users apart from another's in the shared database."""
    return secrets.token_hex(3)
