"""The real LMS app served alone (no hub), and a browser-like client of one user.

``serve_app`` runs ``make_app`` on a thread; who a request comes from is read from its
``X-Test-User`` / ``X-Test-Roles`` headers (``tests/identity.py`` answers HubOAuth's question),
and everything after that (permissions, pages, forms with their xsrf token, the API) is the
service's own code. ``Client`` gets pages, posts forms with the token a page handed it, and
follows a form's 303.
"""
from __future__ import annotations

import re

import requests
from jupyterhub.services.auth import HubOAuth

from lms_extension import permissions
from lms_extension.config import LMSConfig
from lms_extension.db import session_factory
from lms_extension.web.app import make_app
from tests.identity import answer_identity
from tests.sandbox.sandbox_helpers import ServerThread


def header_identity(handler):
    """The hub's user model for ``X-Test-User`` with the LMS scopes of ``X-Test-Roles``."""
    name = handler.request.headers.get("X-Test-User")
    if not name:
        return None
    roles = handler.request.headers.get("X-Test-Roles", "").split(",")
    return {"name": name, "kind": "user", "admin": False, "groups": [],
            "scopes": ["access:services!service=lms",
                       *permissions.scopes_for(instructor="instructor" in roles, admin="admin" in roles)]}


class Client:
    """A browser of one user: cookies (the xsrf one set), ``get`` and form ``post`` by path.
    ``form_page``: a page with a form, where the xsrf token is read (for the signed-in user)."""

    def __init__(self, base: str, name: str | None, *roles: str, form_page: str = "profile"):
        self.base = base
        self.http = requests.Session()
        if name:
            self.http.headers.update({"X-Test-User": name, "X-Test-Roles": ",".join(roles)})
        self.name = name
        self.form_page = form_page
        self._xsrf: str | None = None

    @property
    def xsrf(self) -> str:
        """The form token (and its cookie) as a page with a form hands it to this browser."""
        if self._xsrf is None:
            page = self.get(self.form_page) if self.name else self.get("")
            found = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
            self._xsrf = found.group(1) if found else "none"
        return self._xsrf

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base + path, timeout=30, allow_redirects=kwargs.pop("allow_redirects", False), **kwargs)

    def post(self, path: str, data: dict | list | None = None, **kwargs) -> requests.Response:
        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        return self.http.post(self.base + path, data=items + [("_xsrf", self.xsrf)], timeout=30,
                              allow_redirects=kwargs.pop("allow_redirects", False), **kwargs)

    def follow(self, response: requests.Response) -> requests.Response:
        """The page a 303 after a form leads to (with its one-time notice)."""
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return self.http.get(response.headers["Location"] if response.headers["Location"].startswith("http")
                             else self.base.split("/services/")[0] + response.headers["Location"], timeout=30)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        # a token-like header: the API takes it without the xsrf cookie, as it does hub tokens
        return self.http.request(method, self.base + path, timeout=30, **kwargs)


class Service:
    def __init__(self, base: str, factory, app, config, form_page: str = "profile"):
        self.base, self.factory, self.app, self.config, self.form_page = base, factory, app, config, form_page

    def client(self, name: str | None, *roles: str) -> Client:
        return Client(self.base, name, *roles, form_page=self.form_page)


def serve_app(engine, tmp_path, monkeypatch, *, form_page: str = "profile"):
    """Yields a ``Service``: the LMS on ``engine``'s database, on a thread, until the test ends."""
    answer_identity(monkeypatch, header_identity, HubOAuth)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "unused")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    monkeypatch.setenv("JUPYTERHUB_OAUTH_ACCESS_SCOPES", '["access:services!service=lms"]')
    config = LMSConfig(db_url=engine.url.render_as_string(hide_password=False), data_dir=str(tmp_path),
                       catalog_cache_seconds=0.0, trending_refresh_seconds=0.0, rate_limit_api_writes="")
    server = ServerThread(lambda: make_app(config, engine))
    yield Service(f"http://127.0.0.1:{server.port}/services/lms/", session_factory(engine), server.app, config,
                  form_page)
    server.stop()
