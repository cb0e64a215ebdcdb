"""The teaching studio's fixtures: the real LMS app on its own database (SQLite and PostgreSQL),
behind a small stand-in for the hub's ``/hub/api/user`` that names the user of each token."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from lms_extension.config import LMSConfig
from lms_extension.db import session_factory
from lms_extension.permissions import scopes_for
from lms_extension.web.app import make_app
from tests.conftest import own_engine
from tests.factories import MINIMAL_NOTEBOOK
from tests.sandbox.sandbox_helpers import ServerThread

NB = MINIMAL_NOTEBOOK


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


class FakeHub:
    """Answers ``GET /hub/api/user`` as JupyterHub does: the identity model of the token sent."""

    def __init__(self):
        self.tokens: dict[str, dict] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                token = self.headers.get("Authorization", "").partition(" ")[2]
                model = hub.tokens.get(token)
                if not self.path.startswith("/hub/api/user") or model is None:
                    self.send_response(403)
                    self.end_headers()
                    return
                body = json.dumps(model).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def user(self, name: str, *, instructor: bool = False, admin: bool = False) -> requests.Session:
        """A client with a token of ``name`` (hub roles as given); its form posts carry the page's
        xsrf token as a browser's do."""
        token = f"tok-{name}"
        self.tokens[token] = {"kind": "user", "name": name, "admin": admin, "groups": [],
                              "scopes": scopes_for(instructor=instructor, admin=admin)}
        client = FormClient()
        client.headers["Authorization"] = f"token {token}"
        return client

    def close(self):
        self.server.shutdown()


class FormClient(requests.Session):
    """Posts to pages (not /api/) send the ``_xsrf`` cookie's value back, as the forms' hidden field does."""

    def request(self, method, url, *args, **kwargs):
        if method.upper() in ("POST", "PUT", "PATCH", "DELETE") and "/api/" not in url:
            if "_xsrf" not in self.cookies:
                super().request("GET", url.split("/services/lms/")[0] + "/services/lms/profile")
            data = kwargs.get("data")
            if data is None or isinstance(data, dict):
                kwargs["data"] = {**(data or {}), "_xsrf": self.cookies.get("_xsrf", "")}
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def studio(engine, tmp_path, monkeypatch):
    """(base url of the LMS service, hub, session factory, app)."""
    hub = FakeHub()
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "service-token")
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"http://127.0.0.1:{hub.port}/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    config = LMSConfig(db_url=engine.url.render_as_string(hide_password=False), data_dir=str(tmp_path),
                       catalog_cache_seconds=0.0, trending_refresh_seconds=0.0, hub_auth_cache_seconds=0,
                       rate_limit_api_writes="", git_import_allow_local=True)
    server = ServerThread(lambda: make_app(config, engine))
    yield f"http://127.0.0.1:{server.port}/services/lms/", hub, session_factory(engine), server.app
    server.stop()
    hub.close()
