"""A hub-like HTTP server for the LMS service: JupyterHub's REST API as far as the LMS uses it,
with state, as the real hub behaves.

- ``GET /hub/api/user`` identifies a token (users and the LMS service), with the scopes that
  group membership gives (``hub_config.roles``: ``instructors`` -> teach, ``lms-admins`` ->
  admin and teach), computed per request as the hub does;
- ``POST|DELETE /hub/api/groups/<group>/users`` change a group's members, only for a token
  whose role's scopes allow that group (the LMS service's ``groups!group=instructors`` from
  hub_config/roles.py), 404 for an unknown group, 400 for an unknown user;
- ``GET /hub/api/groups/<group>``.

``fail_next(n)`` makes the next n group changes answer 500, as a hub whose database is locked.
"""
from __future__ import annotations

import json
import secrets
import threading

from tornado import web
from traitlets.config import Config

from hub_config import roles
from lms_extension import permissions
from tests.sandbox.sandbox_helpers import ServerThread


def _service_group_scopes() -> set[str]:
    """The groups the LMS service may change, read from hub_config/roles.py's roles."""
    c = Config()  # JupyterHub's configuration as hub_config/roles.py sets it
    roles.configure(c)
    mine = [r for r in c.JupyterHub.load_roles if "lms" in r.get("services", [])]
    return {s.split("!group=", 1)[1] for r in mine for s in r["scopes"] if s.startswith("groups!group=")}


class FakeHub:
    def __init__(self):
        self.lock = threading.Lock()
        self.users: set[str] = set()
        self.tokens: dict[str, str] = {}
        self.groups: dict[str, set[str]] = {roles.INSTRUCTORS_GROUP: set(), roles.ADMINS_GROUP: set()}
        self.service_token = secrets.token_hex(16)
        self.service_groups = _service_group_scopes()
        self.failures = 0
        self.changes: list[tuple[str, str, list[str]]] = []  # (method, group, users) the hub applied
        self.server = ServerThread(self._app)

    @property
    def api_url(self) -> str:
        return f"{self.server.url}/hub/api"

    def add_user(self, name: str, *, admin: bool = False, instructor: bool = False) -> str:
        """A hub user and an API token of theirs."""
        token = secrets.token_hex(16)
        with self.lock:
            self.users.add(name)
            self.tokens[token] = name
            if admin:
                self.groups[roles.ADMINS_GROUP].add(name)
            if instructor:
                self.groups[roles.INSTRUCTORS_GROUP].add(name)
        return token

    def members(self, group: str) -> set[str]:
        with self.lock:
            return set(self.groups[group])

    def fail_next(self, n: int = 1) -> None:
        with self.lock:
            self.failures = n

    def model(self, name: str) -> dict:
        with self.lock:
            groups = sorted(g for g, members in self.groups.items() if name in members)
        scopes = ["self", "access:services!service=lms"]
        if roles.INSTRUCTORS_GROUP in groups:
            scopes.append(permissions.TEACH)
        if roles.ADMINS_GROUP in groups:
            scopes += [permissions.ADMIN, permissions.TEACH]
        return {"kind": "user", "name": name, "admin": False, "groups": groups, "scopes": scopes}

    def _app(self):
        hub = self

        class Base(web.RequestHandler):
            def check_xsrf_cookie(self):
                return None

            def token(self) -> str:
                header = self.request.headers.get("Authorization", "")
                return header.split(" ", 1)[1] if header.lower().startswith("token ") else ""

            def fail(self, status: int, message: str):
                self.set_status(status)
                self.finish({"status": status, "message": message})

        class UserAPI(Base):
            def get(self):
                token = self.token()
                if token == hub.service_token:
                    self.finish({"kind": "service", "name": "lms", "scopes": []})
                elif token in hub.tokens:
                    self.finish(hub.model(hub.tokens[token]))
                else:
                    self.fail(403, "Missing or invalid credentials")

        class GroupAPI(Base):
            def get(self, group):
                if self.token() != hub.service_token:
                    return self.fail(403, "Action is not authorized with current scopes; requires any of [read:groups]")
                if group not in hub.groups:
                    return self.fail(404, f"No such group: {group}")
                self.finish({"kind": "group", "name": group, "users": sorted(hub.members(group))})

        class GroupUsersAPI(Base):
            def change(self, group, method):
                if self.token() != hub.service_token or group not in hub.service_groups:
                    return self.fail(403, "Action is not authorized with current scopes; requires any of [groups]")
                with hub.lock:
                    if hub.failures:
                        hub.failures -= 1
                        return self.fail(500, "Unhandled error")
                if group not in hub.groups:
                    return self.fail(404, f"No such group: {group}")
                try:
                    names = json.loads(self.request.body)["users"]
                    assert isinstance(names, list) and all(isinstance(n, str) for n in names)
                except (ValueError, KeyError, TypeError, AssertionError):
                    return self.fail(400, "Must specify users")
                with hub.lock:
                    unknown = [n for n in names if n not in hub.users]
                    if unknown:
                        return self.fail(400, f"No such user: {unknown[0]}")
                    if method == "POST":
                        hub.groups[group].update(names)
                    else:
                        hub.groups[group].difference_update(names)
                    hub.changes.append((method, group, list(names)))
                self.finish({"kind": "group", "name": group, "users": sorted(hub.members(group))})

            def post(self, group):
                self.change(group, "POST")

            def delete(self, group):
                self.change(group, "DELETE")

        return web.Application([
            (r"/hub/api/user", UserAPI),
            (r"/hub/api/groups/([^/]+)", GroupAPI),
            (r"/hub/api/groups/([^/]+)/users", GroupUsersAPI),
        ])

    def stop(self) -> None:
        self.server.stop()
