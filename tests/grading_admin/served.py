"""The LMS service over real HTTP on a database of its own, behind a hub-like identity server.

``FakeHub`` answers JupyterHub's ``GET /hub/api/user`` the way the hub does for a token: the
identity model (name, kind, the LMS scopes of the user's roles) or 403 for an unknown token.
The service's own HubAuth asks it, so pages and API calls go through the product's real
authentication, ``@web.authenticated``, scopes and xsrf rules (token requests skip xsrf, as
with JupyterHub)."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

import requests
from tornado import web

from lms_extension import permissions
from lms_extension.config import LMSConfig
from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.web.app import make_app
from tests.conftest import _database
from tests.sandbox.sandbox_helpers import ServerThread

PREFIX = "/services/lms/"


class _UserHandler(web.RequestHandler):
    def get(self):
        auth = self.request.headers.get("Authorization", "")
        model = self.settings["tokens"].get(auth.removeprefix("token ").removeprefix("Bearer ").strip())
        if model is None:
            self.set_status(403)
            self.finish(json.dumps({"status": 403, "message": "invalid token"}))
            return
        self.finish(json.dumps(model))


@dataclass
class FakeHub:
    tokens: dict = field(default_factory=dict)
    server: ServerThread | None = None

    def start(self) -> "FakeHub":
        self.server = ServerThread(lambda: web.Application([(r"/hub/api/user", _UserHandler)], tokens=self.tokens))
        return self

    @property
    def api_url(self) -> str:
        return f"{self.server.url}/hub/api"

    def token(self, name: str, *, instructor: bool = False, admin: bool = False) -> str:
        token = secrets.token_hex(16)
        self.tokens[token] = {"kind": "user", "name": name, "admin": False, "groups": [],
                              "scopes": permissions.scopes_for(instructor=instructor, admin=admin)}
        return token

    def stop(self) -> None:
        async def shutdown():
            self.server.server.stop()
        self.server.call(shutdown())


@dataclass
class Served:
    base: str  # http://127.0.0.1:<port>/services/lms/
    factory: object  # sessionmaker of the service's database
    hub: FakeHub

    def client(self, name: str, **roles) -> requests.Session:
        """A client acting as hub user ``name`` (created in the LMS on first sight)."""
        s = requests.Session()
        s.headers["Authorization"] = f"token {self.hub.token(name, **roles)}"
        return s


def serve(kind: str, tmp_path_factory, monkeypatch):
    """Yields a ``Served`` LMS on a fresh database of ``kind``; stops it all after."""
    database = _database(kind, tmp_path_factory)
    url = next(database)
    engine = make_engine(url)
    upgrade(engine)
    hub = FakeHub().start()
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "service-token")
    monkeypatch.setenv("JUPYTERHUB_API_URL", hub.api_url)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    data = tmp_path_factory.mktemp("served")
    server = ServerThread(lambda: make_app(LMSConfig(db_url=url, data_dir=str(data), hub_auth_cache_seconds=0),
                                           engine))
    yield Served(f"{server.url}{PREFIX}", session_factory(engine), hub)

    async def shutdown():
        server.server.stop()
    server.call(shutdown())
    hub.stop()
    engine.dispose()
    next(database, None)
