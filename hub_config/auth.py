"""NativeAuthenticator with the demo users created at start."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

from tornado import web

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

    # -- accounts: the LMS keys its rows on an id given here, and forgets deleted ones ----------
    def add_user(self, user):
        """Give every hub user an account id of its own, kept in its ``user_info``.

        JupyterHub calls this for a user it creates (first login, REST API, configuration) and
        for every user at start, so users from before get one too. The hub hands ``user_info``
        to the LMS in the identity model of every token; its own numeric id it does not (and
        SQLite gives a deleted user's id to the next one).
        """
        super().add_user(user)
        from sqlalchemy.orm import object_session

        from lms_extension.services.users import ACCOUNT_ID_KEY, new_account_id

        info = dict(user.user_info or {})
        if not info.get(ACCOUNT_ID_KEY):
            info[ACCOUNT_ID_KEY] = new_account_id()
            user.user_info = info
            session = object_session(getattr(user, "orm_user", user))
            if session is not None:
                session.commit()

    async def delete_user(self, user):
        """The hub deletes ``user`` (REST API or admin page; its server is stopped already).

        First the LMS data (one transaction), then the home, then NativeAuthenticator's sign-up
        record (password, 2FA secret). A failure stops the deletion with its reason (the hub
        keeps the user, and deleting again retries); every step is idempotent.
        """
        from lms_extension.services.users import ACCOUNT_ID_KEY

        account_id = (user.user_info or {}).get(ACCOUNT_ID_KEY)
        try:
            outcome = await asyncio.to_thread(erase_lms_account, user.name, account_id)
            await remove_home(user.spawner)
        except Exception as exc:
            self.log.exception("deleting %s stopped", user.name)
            raise web.HTTPError(_status_of(exc), f"{user.name} was not deleted: {_reason(exc)}") from None
        self.log.info("deleted %s: LMS data %s, %d invoice(s) kept anonymised, home removed", user.name,
                      "erased" if outcome.erased else "(none)", outcome.invoices_kept)
        return super().delete_user(user)


log = logging.getLogger("lms.hub")


def erase_lms_account(name: str, account_id: str | None):
    """Run the LMS's account deletion on the LMS database, from the hub process.

    Directly on the database, not through the LMS service's API: it works while the service
    is down or restarting, needs no token, and the hub and the LMS ship as one package (the
    hub image holds ``lms_extension``). The hub needs the LMS's ``LMS_DB_URL`` (and the Stripe
    key, to cancel subscriptions) in its environment.
    """
    from lms_extension.config import LMSConfig
    from lms_extension.db import check_revision, make_engine, session_factory, session_scope
    from lms_extension.services import accounts
    from lms_extension.services.payments import stripe_client

    config = LMSConfig()
    if config.db_url.startswith("sqlite") and not Path(config.db_url.split("///", 1)[-1]).exists():
        raise RuntimeError(f"the LMS database is not at {config.db_url}: give the hub the LMS's LMS_DB_URL")
    engine = make_engine(config.db_url)
    try:
        check_revision(engine)
        stripe = stripe_client.from_config(config) if config.stripe_secret_key else None
        with session_scope(session_factory(engine)) as db:
            return accounts.delete_account(db, name, account_id=account_id, stripe=stripe)
    finally:
        engine.dispose()


async def remove_home(spawner) -> None:
    """Remove the user's home for good, whichever spawner made it.

    Sandbox and Docker: the folder and its disk image (``homes.StudentHome.remove``), and for
    Docker the ``lms-home-<name>`` volume of versions before homes had a size limit (moved
    into the image at the next start, so one is left when the user never started since).
    Kubernetes: nothing here, KubeSpawner deletes the home claim itself in ``delete_forever``.
    """
    home = getattr(spawner, "home", None)
    if home is not None and callable(getattr(home, "remove", None)):
        await asyncio.to_thread(home.remove)
    elif getattr(spawner, "home_outside", None) is not None:  # a home folder without an image
        folder = Path(spawner.home_outside)
        if folder.is_symlink():
            raise RuntimeError(f"refusing to remove a symlinked home {folder}")
        if folder.exists():
            await asyncio.to_thread(shutil.rmtree, folder)
    await _remove_docker_home_volume(spawner)


async def _remove_docker_home_volume(spawner) -> None:
    try:
        from dockerspawner import DockerSpawner
    except ImportError:  # an optional extra: no Docker spawner, no volumes
        return
    if not isinstance(spawner, DockerSpawner):
        return
    from hub_config.docker_spawner import HOME_VOLUME

    volume = HOME_VOLUME.format(username=spawner.escaped_name)
    try:
        await spawner.docker("remove_volume", name=volume)
    except Exception as exc:
        if getattr(getattr(exc, "response", None), "status_code", None) != 404:
            raise
        return
    log.info("removed the home volume %s", volume)


def _status_of(exc: Exception) -> int:
    from lms_extension.errors import LMSError

    return exc.status if isinstance(exc, LMSError) else 503


def _reason(exc: Exception) -> str:
    from lms_extension.errors import LMSError

    return exc.message if isinstance(exc, LMSError) else str(exc) or type(exc).__name__
