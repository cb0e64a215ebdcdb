"""The admin console's commerce pages and the course studio's coupons and announcements, on the
real LMS app (Tornado, SQLite and PostgreSQL). The hub's answer to "who is this?" is the one
thing stood in for: the ``X-Test-User`` header names the user and ``X-Test-Roles``
(``instructor``, ``admin``) their LMS scopes, as the hub's roles give them."""
from __future__ import annotations

import re
import secrets
from html import unescape

import pytest
import requests
from jupyterhub.services.auth import HubOAuth

from lms_extension import permissions
from lms_extension.config import LMSConfig
from lms_extension.db import session_factory
from lms_extension.web.app import make_app
from tests.identity import answer_identity
from tests.conftest import own_engine
from tests.factories import make_course, make_user
from tests.sandbox.sandbox_helpers import ServerThread


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine): the pages commit."""
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
        """The form token (and its cookie) as a page with a form hands it to this browser."""
        if self._xsrf is None:
            page = self.get("profile") if self.name else self.get("")
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
    def __init__(self, base: str, factory, app):
        self.base, self.factory, self.app = base, factory, app

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
    yield Service(f"http://127.0.0.1:{server.port}/services/lms/", session_factory(engine), server.app)
    server.call(_stop(server.server))


async def _stop(server):
    server.stop()


def text_of(html: str) -> str:
    """The page's words, tags dropped (for "does the page say ..." checks)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def world(service, tmp_path):
    """Two instructors with a paid course each, an admin and a student, committed (unique names per test)."""
    tag = secrets.token_hex(3)
    with service.factory() as db:
        for name in (f"t1-{tag}", f"t2-{tag}"):
            make_user(db, name, instructor=True)
        mine = make_course(db, tmp_path, f"mine-{tag}", price_cents=4900, lessons=2, instructor=f"t1-{tag}")
        theirs = make_course(db, tmp_path, f"theirs-{tag}", price_cents=2900, lessons=2, instructor=f"t2-{tag}")
        make_user(db, f"admin-{tag}", admin=True)
        make_user(db, f"student-{tag}")
        db.commit()
        slugs = (mine.slug, theirs.slug)
    return {"tag": tag, "mine": slugs[0], "theirs": slugs[1],
            "t1": service.client(f"t1-{tag}", "instructor"), "t2": service.client(f"t2-{tag}", "instructor"),
            "admin": service.client(f"admin-{tag}", "admin", "instructor"),
            "student": service.client(f"student-{tag}"), "visitor": service.client(None)}
