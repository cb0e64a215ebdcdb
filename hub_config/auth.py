"""NativeAuthenticator with the demo users created at start."""
from __future__ import annotations

import os

from nativeauthenticator import NativeAuthenticator

DEMO_USERS = ("admin", "instructor", "student", "student2")


class LMSAuthenticator(NativeAuthenticator):
    """Sign-up and login by NativeAuthenticator; in demo mode the demo users exist from the start."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        password = os.environ.get("LMS_DEMO_PASSWORD")
        if os.environ.get("LMS_DEMO", "1") == "1" and password:
            self.create_demo_users(password)

    def create_demo_users(self, password: str) -> None:
        for name in DEMO_USERS:
            if self.user_exists(name):
                continue
            info = self.create_user(name, password)
            if info is not None and not info.is_authorized:
                info.is_authorized = True
                self.db.commit()
