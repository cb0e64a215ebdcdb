"""Admin console fixtures: the LMS service (the real Tornado app) in front of a hub-like HTTP
server that keeps users and groups in memory and checks tokens as JupyterHub does.

``FakeHub`` answers what the LMS asks a hub: ``GET /hub/api/user`` (the identity model of a
user's token, with the scopes its groups give, as ``hub_config/roles.py`` configures them),
the group endpoints (only for the service's token), and ``DELETE /hub/api/users/<name>``,
which erases the LMS data through the same ``hub_config.auth.erase_lms_account`` the real
hub's authenticator runs.
"""
from __future__ import annotations

import html
import json
import re
import secrets
import threading

import pytest
import requests
import tornado.web
from traitlets.config import Config

from hub_config import roles
from lms_extension import permissions
from lms_extension.config import LMSConfig
from lms_extension.db import session_factory
from lms_extension.web.app import make_app
from tests.conftest import own_engine
from tests.sandbox.sandbox_helpers import ServerThread

GROUP_SCOPES = {"instructors": [permissions.TEACH], "lms-admins": [permissions.ADMIN, permissions.TEACH]}


def service_scopes() -> set[str]:
    """The scopes hub_config/roles.py gives the LMS service: the fake hub allows it no more."""
    c = Config()  # JupyterHub's configuration as hub_config/roles.py sets it
    roles.configure(c)
    return {s for r in c.JupyterHub.load_roles if "lms" in r.get("services", []) for s in r["scopes"]}


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine): the pages commit."""
    yield from own_engine(db_url, tmp_path_factory)


class FakeHub:
    def __init__(self, db_url: str):
        self.service_token = secrets.token_hex(16)
        self.scopes = service_scopes()
        self.tokens: dict[str, str] = {}
        self.users: dict[str, dict] = {}
        self.groups: dict[str, set[str]] = {"instructors": set(), "lms-admins": set()}
        self.calls: list[tuple[str, str]] = []
        self.running: set[str] = set()  # users whose server runs
        self.fail_groups = False
        self.lock = threading.Lock()
        self.config = LMSConfig(db_url=db_url)
        self.server = ServerThread(self._app)

    @property
    def api_url(self) -> str:
        return f"{self.server.url}/hub/api"

    def add_user(self, name: str, *, groups: tuple[str, ...] = (), email: str = "") -> str:
        """A hub user with a token of their own; returns the token."""
        with self.lock:
            self.users[name] = {"name": name, "user_info": {"lms_account_id": secrets.token_hex(8),
                                                              "email": email or f"{name}@example.org"}}
            for g in groups:
                self.groups[g].add(name)
            token = secrets.token_hex(16)
            self.tokens[token] = name
        return token

    def model(self, name: str) -> dict:
        groups = sorted(g for g, members in self.groups.items() if name in members)
        scopes = {"access:services!service=lms"} | {s for g in groups for s in GROUP_SCOPES.get(g, [])}
        return {"kind": "user", "name": name, "admin": False, "groups": groups, "scopes": sorted(scopes),
                "user_info": self.users[name]["user_info"]}

    def _app(self):
        hub = self

        class Handler(tornado.web.RequestHandler):
            def check_xsrf_cookie(self):
                return None

            def token(self) -> str:
                return self.request.headers.get("Authorization", "").removeprefix("token ").strip()

            def service_only(self, *needs: str):
                """The service's token, with one of the scopes ``needs`` (as the hub's @needs_scope)."""
                if self.token() != hub.service_token or not hub.scopes & set(needs):
                    raise tornado.web.HTTPError(403)

            def reply(self, data, status=200):
                self.set_status(status)
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps(data))

        class Me(Handler):
            def get(self):
                name = hub.tokens.get(self.token())
                if name is None or name not in hub.users:
                    raise tornado.web.HTTPError(403)
                self.reply(hub.model(name))

        class GroupUsers(Handler):
            def _change(self, group: str, add: bool):
                self.service_only("admin:groups", "groups", f"groups!group={group}")
                hub.calls.append((self.request.method, group))
                if hub.fail_groups:
                    return self.reply({"status": 500, "message": "database is locked"}, 500)
                if group not in hub.groups:
                    raise tornado.web.HTTPError(404)
                names = json.loads(self.request.body)["users"]
                if any(n not in hub.users for n in names):
                    return self.reply({"status": 404, "message": "No such user"}, 404)
                with hub.lock:
                    (hub.groups[group].update if add else hub.groups[group].difference_update)(names)
                self.reply({"name": group, "users": sorted(hub.groups[group])})

            def post(self, group):
                self._change(group, True)

            def delete(self, group):
                self._change(group, False)

        class Group(Handler):
            def get(self, group):
                self.service_only("admin:groups", "groups", f"groups!group={group}")
                if group not in hub.groups:
                    raise tornado.web.HTTPError(404)
                self.reply({"name": group, "users": sorted(hub.groups[group])})

        class UserHandler(Handler):
            def delete(self, name):
                self.service_only("admin:users", "delete:users")
                hub.calls.append(("DELETE", f"users/{name}"))
                if name not in hub.users:
                    raise tornado.web.HTTPError(404)
                # what LMSAuthenticator.delete_user does first: erase the LMS data on the LMS database
                from hub_config.auth import erase_lms_account

                erase_lms_account(hub.config, name, hub.users[name]["user_info"]["lms_account_id"])
                with hub.lock:
                    del hub.users[name]
                    for members in hub.groups.values():
                        members.discard(name)
                self.set_status(204)
                self.finish()

        class Server(Handler):
            def delete(self, name):
                self.service_only("admin:servers", "servers", "delete:servers")
                if name not in hub.users:
                    raise tornado.web.HTTPError(404)
                hub.calls.append(("DELETE", f"users/{name}/server"))
                if name not in hub.running:
                    return self.reply({"status": 400, "message": f"{name}'s server is not running"}, 400)
                hub.running.discard(name)
                self.set_status(204)
                self.finish()

        return tornado.web.Application([
            (r"/hub/api/user", Me),
            (r"/hub/api/users/([^/]+)/server", Server),
            (r"/hub/api/groups/([^/]+)/users", GroupUsers),
            (r"/hub/api/groups/([^/]+)", Group),
            (r"/hub/api/users/([^/]+)", UserHandler),
        ])

    def stop(self):
        self.server.stop()


class FormSession(requests.Session):
    """Adds the page's _xsrf value to every form it posts, as a browser's form would."""

    xsrf = ""

    def request(self, method, url, *args, data=None, **kwargs):
        if method.upper() == "POST" and self.xsrf and (data is None or isinstance(data, dict)):
            data = {"_xsrf": self.xsrf, **(data or {})}
        return super().request(method, url, *args, data=data, **kwargs)


class Console:
    """The LMS service in front of the fake hub; ``as_user(name)`` is a browser of that user."""

    def __init__(self, base: str, hub: FakeHub, engine, app):
        self.base, self.hub, self.engine, self.app = base, hub, engine, app
        self.factory = session_factory(engine)
        self._tokens: dict[str, str] = {}

    def user(self, name: str, *, groups: tuple[str, ...] = (), email: str = "") -> str:
        if name not in self._tokens or name not in self.hub.users:
            self._tokens[name] = self.hub.add_user(name, groups=groups, email=email)
        return self._tokens[name]

    def as_user(self, name: str, **kwargs) -> requests.Session:
        """A browser of ``name``: their token, and the _xsrf cookie and form value a page gave it
        (Tornado checks forms before it knows who sends them)."""
        s = FormSession()
        s.headers["Authorization"] = f"token {self.user(name, **kwargs)}"
        page = s.get(self.base + "profile").text
        found = re.search(r'name="_xsrf" value="([^"]+)"', page)
        s.xsrf = html.unescape(found.group(1)) if found else ""
        return s

    def relogin(self, name: str) -> requests.Session:
        """A new login of ``name`` (a fresh token: the service caches what the hub said of the old one)."""
        token = secrets.token_hex(16)
        with self.hub.lock:
            self.hub.tokens[token] = name
        self._tokens[name] = token
        return self.as_user(name)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="package")
def console(engine, tmp_path_factory):
    url = engine.url.render_as_string(hide_password=False)
    hub = FakeHub(url)
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTERHUB_API_TOKEN", hub.service_token)
    patch.setenv("JUPYTERHUB_API_URL", hub.api_url)
    patch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    patch.setenv("JUPYTERHUB_SERVICE_NAME", "lms")
    config = LMSConfig(db_url=url, data_dir=str(tmp_path_factory.mktemp("console")), hub_auth_cache_seconds=0,
                       catalog_cache_seconds=0.0)
    server = ServerThread(lambda: make_app(config, engine))
    yield Console(f"http://127.0.0.1:{server.port}/services/lms/", hub, engine, server.app)
    server.stop()
    hub.stop()
    patch.undo()
