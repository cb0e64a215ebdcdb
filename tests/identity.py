"""Who the hub says a request comes from, for tests that serve the real LMS app without a hub.

JupyterHub's ``HubAuth.get_user`` (``HubOAuth`` for cookie logins) asks the hub who a token or
cookie belongs to. These tests run the LMS's Tornado app alone, so the answer comes from the
request itself: ``model_of(handler)`` returns the hub's user model (name, kind, scopes) or None.
Everything after that answer (permissions, pages, the API) is the service's own code.
"""
from __future__ import annotations

import requests
from jupyterhub.services.auth import HubAuth

from lms_extension import permissions


def answer_identity(monkeypatch, model_of, auth_class=HubAuth) -> None:
    def get_user(self, handler, *, sync=True):
        model = model_of(handler)
        if sync:
            return model

        async def later():
            return model
        return later()

    monkeypatch.setattr(auth_class, "get_user", get_user)


def token_names(roles: dict[str, dict]):
    """``Authorization: token <name>`` names the user; ``roles[name]`` gives ``scopes_for``'s
    keywords (instructor=, admin=); an unknown name is nobody."""
    def model_of(handler):
        name = handler.request.headers.get("Authorization", "").removeprefix("token ").strip()
        if name not in roles:
            return None
        return {"kind": "user", "name": name, "admin": False, "scopes": permissions.scopes_for(**roles[name])}
    return model_of


def token_client(name: str) -> requests.Session:
    """A client whose requests say ``Authorization: token <name>`` (see ``token_names``)."""
    s = requests.Session()
    s.headers["Authorization"] = f"token {name}"
    return s
