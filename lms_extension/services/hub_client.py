"""The LMS service's calls to JupyterHub's REST API, with the service's own API token.

JupyterHub owns identity and roles: the LMS never edits a group in a database, it asks the
hub (``POST /hub/api/groups/<group>/users``), and the roles bound to the group
(``hub_config/roles.py``) give the scopes that ``services.users.sync_hub_user`` reads. The
service's role there grants the group scopes it needs.

``HubClient(api_url, token)``: the URL and token come from the hub
(``JUPYTERHUB_API_URL`` / ``JUPYTERHUB_API_TOKEN``, as ``HubOAuth`` reads them). Tests point
it at a real hub or at a hub-like HTTP server that keeps groups and checks the token.
"""
from __future__ import annotations

import logging
from urllib.parse import quote

import requests

from ..errors import LMSError

log = logging.getLogger("lms.hub")


class HubUnavailable(LMSError):
    """The hub did not do what was asked (unreachable, refused, or an error); nothing that
    depends on it may be recorded as done. The caller may retry."""

    status = 503
    code = "hub_unavailable"


class HubClient:
    def __init__(self, api_url: str, token: str, *, timeout: float = 10.0):
        self.api_url = (api_url or "").rstrip("/")
        self.token = token or ""
        self.timeout = timeout

    def _request(self, method: str, path: str, what: str, **kwargs) -> requests.Response:
        if not self.api_url or not self.token:
            raise HubUnavailable(f"could not {what}: the LMS service has no JupyterHub API address or token "
                                 "(it runs outside JupyterHub)")
        try:
            r = requests.request(method, f"{self.api_url}/{path}", timeout=self.timeout,
                                 headers={"Authorization": f"token {self.token}"}, **kwargs)
        except requests.RequestException as exc:
            log.warning("hub API %s %s failed: %s", method, path, exc)
            raise HubUnavailable(f"could not {what}: JupyterHub did not answer") from None
        if r.status_code >= 300:
            try:
                detail = str(r.json().get("message") or "")[:200]
            except ValueError:
                detail = ""
            log.warning("hub API %s %s answered %s: %s", method, path, r.status_code, detail or r.text[:200])
            reason = {403: "the LMS service's token may not change that group",
                      404: "no such user or group in the hub"}.get(r.status_code, f"JupyterHub answered {r.status_code}")
            raise HubUnavailable(f"could not {what}: {reason}" + (f" ({detail})" if detail else ""))
        return r

    def add_to_group(self, group: str, names: list[str]) -> None:
        """Adds the hub users ``names`` to ``group`` (already a member: no change)."""
        self._request("POST", f"groups/{quote(group, safe='')}/users", f"add {', '.join(names)} to the hub group "
                      f"'{group}'", json={"users": list(names)})

    def remove_from_group(self, group: str, names: list[str]) -> None:
        """Removes the hub users ``names`` from ``group`` (not a member: no change)."""
        self._request("DELETE", f"groups/{quote(group, safe='')}/users", f"remove {', '.join(names)} from the hub "
                      f"group '{group}'", json={"users": list(names)})

    def group_members(self, group: str) -> list[str]:
        r = self._request("GET", f"groups/{quote(group, safe='')}", f"read the hub group '{group}'")
        return list(r.json().get("users") or [])
