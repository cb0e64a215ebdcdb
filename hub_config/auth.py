"""NativeAuthenticator with the demo users created at start."""
from __future__ import annotations

import os

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler

DEMO_USERS = ("admin", "instructor", "student", "student2")


class LoginHandler(NativeLoginHandler):
    """NativeAuthenticator 1.3's login handler, fitted to JupyterHub 6.

    JupyterHub 6 removed ``handler.statsd`` (used to time the login) and renders error
    pages through ``_render(..., sync=True)``; both made every login a 500.
    """

    def _render(self, login_error=None, username=None, **_ignored):
        return super()._render(login_error=login_error, username=username)

    async def post(self):
        data = {arg: self.get_argument(arg, strip=False) for arg in self.request.arguments}
        user = await self.login_user(data)
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        error = "Invalid username or password."
        username = data.get("username", "")
        info = self.authenticator.get_user(username) if username else None
        if info is not None and info.is_valid_password(data.get("password", "")) and not info.is_authorized:
            error = f"User {username} has not been authorized by an administrator yet."
        self.set_status(403)
        self.finish(await self._render(login_error=error, username=username))


class LMSAuthenticator(NativeAuthenticator):
    """Sign-up and login by NativeAuthenticator; in demo mode the demo users exist from the start."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        password = os.environ.get("LMS_DEMO_PASSWORD")
        if os.environ.get("LMS_DEMO", "1") == "1" and password:
            self.create_demo_users(password)

    def get_handlers(self, app):
        return [(path, LoginHandler if handler is NativeLoginHandler else handler)
                for path, handler in super().get_handlers(app)]

    def create_demo_users(self, password: str) -> None:
        for name in DEMO_USERS:
            if self.user_exists(name):
                continue
            info = self.create_user(name, password)
            if info is not None and not info.is_authorized:
                info.is_authorized = True
                self.db.commit()
