"""NativeAuthenticator for the LMS: demo users, login throttling that survives restarts,
the same time for unknown and known usernames, a password policy, and two-factor
authentication required for staff when ``LMS_REQUIRE_2FA=1``."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

import bcrypt
import nativeauthenticator
from jupyterhub import orm
from jupyterhub.handlers.login import LogoutHandler as HubLogoutHandler
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import ChangePasswordHandler as NativeChangePasswordHandler
from nativeauthenticator.handlers import LocalBase
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.handlers import SignUpHandler as NativeSignUpHandler
from tornado import web
from traitlets import Bool, Instance, Integer, Set, Unicode, default

from lms_extension.config import LMSConfig
from lms_extension.ratelimit import RateLimiter, limiter_from_url, parse_rate

DEMO_USERS = ("admin", "instructor", "student", "student2")
BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt >= 5: refuses) anything longer


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """30,000 most common passwords (zxcvbn's list) and NativeAuthenticator's 10,000, lower case."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = set(FREQUENCY_LISTS["passwords"])
    words.update((Path(nativeauthenticator.__file__).parent / "common-credentials.txt").read_text().split())
    return frozenset(w.lower() for w in words)


def _bcrypt_bytes(password: str) -> bytes:
    return password.encode("utf-8", "surrogatepass")[:BCRYPT_MAX_BYTES]


def _password_matches(password: str, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(_bcrypt_bytes(password), hashed)
    except ValueError:  # a NUL byte, a broken hash: no match
        return False


def client_address(handler) -> str:
    """The browser's address as the proxy saw it: the last X-Forwarded-For hop, which the
    proxy appends. Tornado's ``remote_ip`` would prefer X-Real-Ip, which any client can send."""
    forwarded = handler.request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    return forwarded or handler.request.remote_ip or "unknown"


class LoginThrottled(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"login throttled for {retry_after:.0f} s")
        self.retry_after = retry_after


class TwoFactorEnrollment(Exception):
    """The password was right, but this account must turn on two-factor authentication first."""

    def __init__(self, username: str, secret: str):
        super().__init__(f"{username} must enrol in two-factor authentication")
        self.username = username
        self.secret = secret


class LMSNextMixin:
    """Where the hub sends a browser after logging in or signing up.

    JupyterHub's ``get_next_url`` keeps ``?next=`` only when it is a path of this site
    (``//evil.example`` and ``https://evil.example`` fall back to the default, the catalog).
    A page of the LMS is reached through the LMS's own login, which completes its OAuth
    handshake first: without it the page would show the visitor as logged out.
    """

    def get_next_url(self, user=None, default=None):
        return self.authenticator.through_lms_login(super().get_next_url(user, default))


class LoginHandler(LMSNextMixin, NativeLoginHandler):
    """NativeAuthenticator 1.3's login handler, fitted to JupyterHub 6, with the LMS's answers.

    JupyterHub 6 removed ``handler.statsd`` (used to time the login) and renders error
    pages through ``_render(..., sync=True)``; both made every login a 500.
    """

    def _render(self, login_error=None, username=None, **_ignored):
        return super()._render(login_error=login_error, username=username)

    async def post(self):
        data = {arg: self.get_argument(arg, strip=False) for arg in self.request.arguments}
        username = data.get("username", "")
        try:
            user = await self.login_user(data)
        except LoginThrottled as exc:
            minutes = max(1, math.ceil(exc.retry_after / 60))
            self.set_status(429)
            self.set_header("Retry-After", str(max(1, math.ceil(exc.retry_after))))
            error = f"Too many attempts, try again in {minutes} minute{'s' if minutes > 1 else ''}."
            self.finish(await self._render(login_error=error, username=username))
            return
        except TwoFactorEnrollment as exc:
            self.set_status(403)
            uri = f"otpauth://totp/JupyterLMS:{exc.username}?secret={exc.secret}&issuer=JupyterLMS"
            who = ("Every account" if self.authenticator.two_factor_mode() == "everyone"
                   else "Instructors and administrators")
            error = (f"{who} must use two-factor authentication. Add this key to "
                     f"your authenticator app: {exc.secret} ({uri}), then log in again with your password "
                     "and the 6-digit code the app shows.")
            self.finish(await self._render(login_error=error, username=username))
            return
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        error = "Invalid username or password."
        if getattr(self, "lms_login_refusal", None) == "not_authorized":
            error = f"User {username} has not been authorized by an administrator yet."
        elif getattr(self, "lms_login_refusal", None) == "deactivated":
            error = f"The account {username} has been deactivated by an administrator."
        self.set_status(403)
        self.finish(await self._render(login_error=error, username=username))


USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
DISPLAY_NAME_MAX = 80


def sendable(address: str) -> bool:
    """One plain address an email can be sent to (the LMS's own check, account_email.check_address)."""
    from lms_extension.errors import InvalidInput
    from lms_extension.services.account_email import check_address

    try:
        check_address(address)
    except InvalidInput:
        return False
    return True


class SignUpHandler(LMSNextMixin, NativeSignUpHandler):
    """Sign-up with an email, a display name, a username and a password.

    Every refused field says why. With open sign-up the new account is logged in at once and
    sent to ``next`` (or the catalog); otherwise an admin approves it first. The display name
    and email go into the hub user's ``user_info``, which the LMS reads from the identity
    model (``services/users.py``).
    """

    async def get(self):
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404)
        self.finish(await self._render())

    def _render(self, **ns):
        auth = self.authenticator
        return self.render_template(
            "signup.html", two_factor_auth=auth.allow_2fa, tos=auth.tos, xsrf=self.xsrf_token.decode("ascii"),
            next=self.get_argument("next", ""), minimum_password_length=auth.minimum_password_length, **ns)

    def signup_problems(self, form: dict) -> list[str]:
        auth = self.authenticator
        problems = []
        if not EMAIL.fullmatch(form["email"]) or len(form["email"]) > 254 or not sendable(form["email"]):
            problems.append("Enter your email address, like ada@example.org.")
        if not form["display_name"]:
            problems.append("Enter a display name: it is shown on your reviews and certificates.")
        elif len(form["display_name"]) > DISPLAY_NAME_MAX:
            problems.append(f"A display name may have at most {DISPLAY_NAME_MAX} characters.")
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in form["display_name"]):
            problems.append("A display name may not contain control characters.")
        if not USERNAME.fullmatch(form["username"]):
            problems.append("A username has 1 to 64 characters: lower-case letters, digits, '-', '_' or '.', "
                            "starting with a letter or digit.")
        elif auth.user_exists(form["username"]):
            problems.append(f"The username {form['username']} is taken: choose another one.")
        if form["password"] != form["confirmation"]:
            problems.append("The two passwords differ.")
        else:
            problem = auth.password_problem(form["password"], form["username"])
            if problem:
                problems.append(problem)
        if auth.tos and not form["tos"]:
            problems.append("Accept the terms of service to sign up.")
        return problems

    async def post(self):
        auth = self.authenticator
        if not auth.enable_signup:
            raise web.HTTPError(404)
        arg = lambda name: self.get_body_argument(name, "", strip=False)  # noqa: E731
        form = {"email": arg("email").strip(), "display_name": " ".join(arg("display_name").split()),
                "username": auth.normalize_username(arg("username").strip()), "password": arg("signup_password"),
                "confirmation": arg("signup_password_confirmation"), "tos": arg("tos"),
                "has_2fa": bool(arg("2fa")) and auth.allow_2fa}
        kept = {"email": form["email"], "display_name": form["display_name"], "username": form["username"]}
        problems = self.signup_problems(form)
        info = None
        if not problems:
            info = auth.create_user(form["username"], form["password"], email=form["email"], has_2fa=form["has_2fa"])
            if info is None:  # NativeAuthenticator's own checks (a name it refuses, sign-up closed)
                problems.append("This account could not be created: choose another username.")
        if problems:
            self.set_status(400)
            self.finish(await self._render(errors=problems, **kept))
            return
        if not info.is_authorized:
            self.finish(await self._render(
                alert="alert-info", result_message="Thank you! Your account waits for an administrator's "
                "approval (your information has been sent to the admin); you can log in once it is approved.",
                **kept))
            return
        if info.has_2fa:  # the key is shown once; the next login asks for a code
            self.finish(await self._render(
                alert="alert-success", result_message="Your account is ready. Add the key below to your "
                "authenticator app, then log in with your password and the app's code.",
                two_factor_auth_user=True, two_factor_auth_value=info.otp_secret, **kept))
            return
        # logged in at once: no second form to fill in
        user = await self.auth_to_user({"name": form["username"]})
        from lms_extension.services.users import DISPLAY_NAME_KEY

        user.user_info = {**(user.user_info or {}), DISPLAY_NAME_KEY: form["display_name"], "email": form["email"]}
        self.db.commit()
        self.set_login_cookie(user)
        self.log.info("User signed up and logged in: %s", user.name)
        self.redirect(self.get_next_url(user))


class LogoutHandler(HubLogoutHandler):
    """Log out, then back to ``next`` (a page of this site) or the catalog.

    The LMS's own login cookie holds a token the logout has just revoked; it is cleared here
    too, so that the LMS pages forget the user at once instead of after their auth cache.
    """

    async def render_logout_page(self):
        auth = self.authenticator
        self.clear_cookie(auth.lms_cookie_name, path=auth.lms_prefix)
        self.redirect(self._validate_next_url(self.get_argument("next", "")) or auth.lms_prefix)


class ChangePasswordHandler(NativeChangePasswordHandler):
    """Refuses a new password that breaks the policy with the reason, before NativeAuthenticator
    would answer with a generic message."""

    @web.authenticated
    async def post(self):
        user = await self.get_current_user()
        new_password = self.get_body_argument("new_password", "", strip=False)
        problem = self.authenticator.password_problem(new_password, user.name)
        if problem and new_password == self.get_body_argument("new_password_confirmation", "", strip=False):
            self.set_status(400)
            self.finish(await self.render_template("change-password.html", user_name=user.name,
                                                   result_message=problem, alert="alert-danger"))
            return
        await super().post()


# -- email: forgotten passwords and address changes (the links: lms_extension/services/account_email.py) --
class EmailPageMixin:
    """Pages of the hub that act on the LMS database (the address lives there)."""

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Referrer-Policy", "no-referrer")  # a reset link's secret is in the URL
        self.set_header("Cache-Control", "no-store")

    def _available(self) -> None:
        if self.authenticator.lms_config is None:
            raise web.HTTPError(404, "email is not configured on this hub")

    def _throttled(self, action: str) -> int:
        """Seconds to wait when this address has asked ``action`` too often, else 0."""
        rate = parse_rate(self.authenticator.email_requests_per_address)
        if rate is None:
            return 0
        decision = self.authenticator.limiter.hit(f"{action}:ip:{client_address(self)}", limit=rate[0],
                                                  window=rate[1])
        return 0 if decision.allowed else decision.retry_after_seconds

    def _refuse_throttled(self, wait: int) -> str:
        self.set_status(429)
        self.set_header("Retry-After", str(wait))
        minutes = max(1, math.ceil(wait / 60))
        return f"Too many requests from your network: try again in {minutes} minute{'s' if minutes > 1 else ''}."


class ForgotPasswordHandler(EmailPageMixin, LocalBase):
    """"Forgot password?": asks for the address and answers the same whether or not an account
    has it. The lookup and the email run after the answer is sent, so the answer takes the
    same time either way; requests per client address are limited, emails per account too
    (``account_email.PER_HOUR``)."""

    def _render(self, **ns):
        return self.render_template("forgot-password.html", xsrf=self.xsrf_token.decode("ascii"), **ns)

    async def get(self):
        self._available()
        self.finish(await self._render())

    async def post(self):
        from lms_extension.errors import InvalidInput
        from lms_extension.services.account_email import check_address

        self._available()
        raw = self.get_body_argument("email", "", strip=False)
        try:
            check_address(raw)
        except InvalidInput as exc:  # the shape of what was typed: says nothing about accounts
            self.set_status(400)
            self.finish(await self._render(error=exc.message[:1].upper() + exc.message[1:] + ".",
                                           email=raw[:254] if len(raw) <= 254 else ""))
            return
        wait = self._throttled("reset")
        if wait:
            self.finish(await self._render(error=self._refuse_throttled(wait)))
            return
        # the answer is written first (finish writes to the socket at once): the lookup and the
        # email, which run for a known address only, cannot delay it
        self.finish(await self._render(sent=True))
        self.authenticator.start_password_reset(raw)


class ResetPasswordHandler(EmailPageMixin, LocalBase):
    """The emailed reset link: a form for the new password (the sign-up's policy), set through
    the authenticator; the link and every other reset link of the account then stop working.
    A forged, used or expired link gets a page that says so (404 / 410)."""

    def _render(self, **ns):
        auth = self.authenticator
        return self.render_template("reset-password.html", xsrf=self.xsrf_token.decode("ascii"),
                                    minimum_password_length=auth.minimum_password_length, **ns)

    async def _account(self, token: str):
        """The hub name the link is for, or a finished error page (None)."""
        from lms_extension.errors import LMSError
        from lms_extension.services import account_email

        try:
            name = await asyncio.to_thread(self.authenticator.lms_write,
                                           lambda db: account_email.check_reset(db, token).hub_name)
        except LMSError as exc:
            self.set_status(exc.status)
            self.finish(await self._render(link_error=exc.message, expired=exc.status == 410))
            return None
        if self.authenticator.get_user(name) is None:  # not a password account of this hub
            self.set_status(410)
            self.finish(await self._render(link_error="This account has no password on this site.", expired=True))
            return None
        return name

    async def get(self):
        self._available()
        token = self.get_query_argument("token", "")
        name = await self._account(token)
        if name is not None:
            self.finish(await self._render(token=token, username=name))

    async def post(self):
        from lms_extension.errors import LMSError
        from lms_extension.services import account_email

        self._available()
        auth = self.authenticator
        token = self.get_body_argument("token", "", strip=False)
        wait = self._throttled("reset-form")
        if wait:
            self.finish(await self._render(link_error=self._refuse_throttled(wait)))
            return
        name = await self._account(token)
        if name is None:
            return
        password = self.get_body_argument("password", "", strip=False)
        if password != self.get_body_argument("password_confirmation", "", strip=False):
            problem = "The two passwords differ."
        else:
            problem = auth.password_problem(password, name)
        if problem:
            self.set_status(400)
            self.finish(await self._render(token=token, username=name, error=problem))
            return
        try:  # used first: of two submissions of one link, one sets the password
            await asyncio.to_thread(auth.lms_write, lambda db: account_email.consume_reset(db, token).hub_name)
        except LMSError as exc:
            self.set_status(exc.status)
            self.finish(await self._render(link_error=exc.message, expired=exc.status == 410))
            return
        if not auth.change_password(name, password):
            raise web.HTTPError(500, "the new password could not be stored")
        auth.limiter.reset(f"user:{hashlib.sha256(name.encode()).hexdigest()}")  # failed logins before it
        self.log.info("password of %s reset by an emailed link", name)
        self.finish(await self._render(done=True, username=name))


class ChangeEmailHandler(EmailPageMixin, LocalBase):
    """A new address for the signed-in account, after its current password (and two-factor
    code, when on) is checked like a login (same throttle). The LMS emails a link to the new
    address; the address changes only when it is followed, and the old one is told."""

    async def _render(self, user, **ns):
        from lms_extension.errors import LMSError
        from lms_extension.services import account_email

        account_id = (user.user_info or {}).get("lms_account_id")
        try:
            current = await asyncio.to_thread(
                self.authenticator.lms_write,
                lambda db: account_email.status(db, account_email.account_of(db, user.name, account_id)))
        except LMSError:
            current = None
        info = self.authenticator.get_user(user.name)
        return await self.render_template("change-email.html", xsrf=self.xsrf_token.decode("ascii"),
                                          current=current, has_2fa=bool(info and info.has_2fa),
                                          has_password=info is not None, **ns)

    @web.authenticated
    async def get(self):
        self._available()
        self.finish(await self._render(self.current_user))

    @web.authenticated
    async def post(self):
        from lms_extension.errors import LMSError
        from lms_extension.services import account_email

        self._available()
        user, auth = self.current_user, self.authenticator
        new = self.get_body_argument("new_email", "", strip=False)
        kept = new[:254] if len(new) <= 254 else ""
        try:
            account_email.check_address(new, field="new_email")
        except LMSError as exc:
            self.set_status(exc.status)
            self.finish(await self._render(user, error=exc.message[:1].upper() + exc.message[1:] + ".",
                                           new_email=kept))
            return
        data = {"username": user.name, "password": self.get_body_argument("password", "", strip=False),
                "2fa": self.get_body_argument("2fa", "", strip=False)}
        try:
            ok = await auth.authenticate(self, data) == user.name
        except LoginThrottled as exc:
            self.finish(await self._render(user, error=self._refuse_throttled(max(1, math.ceil(exc.retry_after))),
                                           new_email=kept))
            return
        except TwoFactorEnrollment:
            ok = False
        if not ok:
            self.set_status(403)
            self.finish(await self._render(user, error="Your current password (or two-factor code) is not right.",
                                           new_email=kept))
            return
        account_id = (user.user_info or {}).get("lms_account_id")
        links = auth.lms_links()
        try:
            address = await asyncio.to_thread(auth.lms_write, lambda db: account_email.request_change(
                db, account_email.account_of(db, user.name, account_id), new, links))
        except LMSError as exc:
            self.set_status(exc.status)
            self.finish(await self._render(user, error=exc.message[:1].upper() + exc.message[1:] + ".",
                                           new_email=kept))
            return
        self.log.info("%s asked to change their email address", user.name)
        self.finish(await self._render(user, sent_to=address))


class LMSAuthenticator(NativeAuthenticator):
    """Sign-up and login by NativeAuthenticator; in demo mode the demo users exist from the start."""

    throttle_url = Unicode(
        help="Where failed logins are counted: redis://... (shared by replicas) or sqlite:///path "
             "(one host); both keep the count across hub restarts.").tag(config=True)
    # defaults: the LMS configuration's (LMS_REDIS_PREFIX, LMS_LOGIN_FAILURES_PER_*)
    throttle_prefix = Unicode(LMSConfig.redis_prefix.default_value + "login:",
                              help="Prefix of the throttle's keys in Redis.").tag(config=True)
    failures_per_user = Unicode(
        LMSConfig.login_failures_per_user.default_value,
        help="Failed logins allowed per username, as COUNT/SECONDS; then one more every "
             "SECONDS/COUNT. '0': no limit.").tag(config=True)
    failures_per_address = Unicode(
        LMSConfig.login_failures_per_address.default_value,
        help="Failed logins allowed per client address, as COUNT/SECONDS. '0': no limit.").tag(config=True)
    require_2fa = Bool(
        False, help="Instructors and admins (staff_groups, hub admins) cannot log in without "
                    "two-factor authentication; the first login with the right password shows the key "
                    "to enrol.").tag(config=True)
    staff_groups = Set(Unicode(), {"instructors", "lms-admins"},
                       help="Hub groups whose members count as staff for require_2fa.").tag(config=True)
    bcrypt_rounds = Integer(12, help="bcrypt cost of new password hashes (and of the dummy hash that "
                                     "makes unknown usernames take as long as known ones).").tag(config=True)

    demo_password = Unicode(help="Password of the demo users, created at start when set (demo mode "
                                 "only).").tag(config=True)
    lms_prefix = Unicode("/services/lms/", help="URL prefix of the LMS service: the catalog, where logout "
                                                "and the front door lead.").tag(config=True)
    lms_cookie_name = Unicode("service-lms", help="The LMS service's login cookie (its OAuth client id), "
                                                  "cleared at logout.").tag(config=True)
    lms_config = Instance(LMSConfig, allow_none=True,
                          help="The LMS configuration the hub loaded at start (hub_config/settings.py), "
                               "frozen; account deletion reads the LMS database and Stripe from "
                               "it.").tag(config=True)

    email_requests_per_address = Unicode(
        LMSConfig.email_requests_per_address.default_value, help="Password-reset requests (and reset-form submissions) allowed per client address, as "
                        "COUNT/SECONDS; each account also gets at most a few reset emails an hour. '0': no "
                        "limit.").tag(config=True)

    _lms_sessions = None  # a session factory on the LMS database, made at first use
    _background: set = set()  # password resets running after their answer was sent

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limiter: RateLimiter = limiter_from_url(self.throttle_url or None, prefix=self.throttle_prefix)
        # checked for unknown usernames so that they cost the same bcrypt as known ones
        self._dummy_hash = bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(self.bcrypt_rounds))
        if self.demo_password:
            self.create_demo_users(self.demo_password)

    @default("refresh_pre_spawn")
    def _refresh_pre_spawn(self):
        return True  # a deactivated account cannot start a server on an old login

    # the LMS console's run-time settings and account states (services/platform_settings.py) --
    def _lms_read(self, what: str, read, fallback):
        """``read(session)`` on the LMS database (``lms_config.db_url``); ``fallback`` without an
        LMS configuration or when the database cannot be read (logged: the LMS itself still refuses
        a deactivated account)."""
        if self.lms_config is None:
            return fallback
        try:
            if self._lms_sessions is None:
                from lms_extension.db import make_engine, session_factory

                self._lms_sessions = session_factory(make_engine(self.lms_config.db_url))
            with self._lms_sessions() as db:
                return read(db)
        except Exception:  # noqa: BLE001 - the hub keeps working without the LMS database
            self.log.warning("could not read %s from the LMS database; using %r", what, fallback, exc_info=True)
            return fallback

    def lms_write(self, work):
        """``work(session)`` in one transaction on the LMS database (committed; an error rolls
        it back and is raised). Blocking: call it in a thread."""
        from lms_extension.db import make_engine, session_factory, session_scope

        if self.lms_config is None:
            raise RuntimeError("the hub has no LMS configuration (c.LMSAuthenticator.lms_config)")
        if self._lms_sessions is None:
            self._lms_sessions = session_factory(make_engine(self.lms_config.db_url))
        with session_scope(self._lms_sessions) as db:
            return work(db)

    def lms_links(self):
        from lms_extension.services.account_email import Links

        return Links.from_config(self.lms_config)

    def start_password_reset(self, address: str) -> None:
        """Look the address up and email the reset links after the answer is sent: how long
        that takes must not tell whether an account has the address."""
        from lms_extension.services import account_email

        links = self.lms_links()
        task = asyncio.ensure_future(asyncio.to_thread(
            self.lms_write, lambda db: account_email.request_password_reset(db, address, links)))
        self._background.add(task)

        def done(t):
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self.log.error("a password reset request failed", exc_info=t.exception())
        task.add_done_callback(done)

    def _lms_defaults(self) -> dict:
        from lms_extension.services.platform_settings import defaults_from

        defaults = defaults_from(self.lms_config)
        # this hub's own settings are the defaults (c.NativeAuthenticator.open_signup, require_2fa)
        defaults["signup_mode"] = "open" if self.open_signup else "approved"
        defaults["require_2fa"] = "staff" if self.require_2fa else "off"
        return defaults

    def signup_mode(self) -> str:
        """open: a new account logs in at once; approved: it waits for an admin."""
        fallback = "open" if self.open_signup else "approved"
        from lms_extension.services import platform_settings

        return self._lms_read("the sign-up mode",
                              lambda db: platform_settings.signup_mode(db, self._lms_defaults()["signup_mode"]),
                              fallback)

    def two_factor_mode(self) -> str:
        """off, staff (instructors and admins) or everyone: who must use two-factor authentication."""
        fallback = "staff" if self.require_2fa else "off"
        from lms_extension.services import platform_settings

        return self._lms_read("the two-factor requirement",
                              lambda db: platform_settings.two_factor_mode(db, self._lms_defaults()["require_2fa"]),
                              fallback)

    def lms_deactivated(self, username: str) -> bool:
        from lms_extension.services import users

        return self._lms_read("the account state", lambda db: users.is_deactivated(db, username), False)

    async def refresh_user(self, user, handler=None):
        """A deactivated account's hub login ends at its next refresh (``auth_refresh_age``, and
        before each spawn): JupyterHub then asks for a login, which ``authenticate`` refuses."""
        if await asyncio.to_thread(self.lms_deactivated, user.name):
            self.log.info("%s is deactivated in the LMS: their hub login ends", user.name)
            return False
        return True

    def get_handlers(self, app):
        ours = {NativeLoginHandler: LoginHandler, NativeSignUpHandler: SignUpHandler,
                NativeChangePasswordHandler: ChangePasswordHandler}
        return [(path, ours.get(handler, handler)) for path, handler in super().get_handlers(app)] + [
            (r"/logout", LogoutHandler), (r"/forgot-password", ForgotPasswordHandler),
            (r"/reset-password", ResetPasswordHandler), (r"/change-email", ChangeEmailHandler)]

    # where browsers go -----------------------------------------------------------------------
    def through_lms_login(self, url: str) -> str:
        """``url``, or for a page of the LMS the LMS's login that ends there."""
        login = self.lms_prefix + "login"
        if url.startswith(self.lms_prefix) and url.split("?", 1)[0] != login:
            return login + "?" + urlencode({"next": url})
        return url

    def front_door(self, handler) -> str:
        """``/`` and ``/hub/``: the catalog for visitors; for a logged-in user the catalog too,
        through the LMS's login so that the LMS knows them (never a forced server spawn)."""
        return self.lms_prefix + "login" if handler.current_user else self.lms_prefix

    # password policy ----------------------------------------------------------------------
    def password_problem(self, password: str, username: str = "") -> str | None:
        """Why ``password`` may not be used, or None."""
        if len(password) < self.minimum_password_length:
            return f"Your password must have at least {self.minimum_password_length} characters."
        if len(password.encode("utf-8", "surrogatepass")) > BCRYPT_MAX_BYTES:
            return f"Your password may have at most {BCRYPT_MAX_BYTES} bytes."
        if self.check_common_password and (password.lower() in common_passwords()
                                           or password.lower() == username.lower()):
            return "This password is too common (it is on a list of leaked passwords). Choose another one."
        return None

    def is_password_common(self, password):
        return password.lower() in common_passwords()

    def is_password_strong(self, password):
        return self.password_problem(password) is None

    # login --------------------------------------------------------------------------------
    def _throttle_checks(self, handler, username: str) -> list[tuple[str, tuple[int, float]]]:
        # usernames are hashed: fixed-size keys whatever a client sends
        checks = [(f"user:{hashlib.sha256(username.encode()).hexdigest()}", parse_rate(self.failures_per_user))]
        if handler is not None:
            checks.append((f"ip:{client_address(handler)}", parse_rate(self.failures_per_address)))
        return [(key, rate) for key, rate in checks if rate is not None]

    def _is_staff(self, username: str) -> bool:
        if username in self.admin_users:
            return True
        user = orm.User.find(self.db, username)
        return user is not None and (user.admin or any(g.name in self.staff_groups for g in user.groups))

    async def authenticate(self, handler, data):
        username = self.normalize_username(data.get("username") or "")
        password = data.get("password") or ""
        # every attempt is counted before the password is checked, so that parallel guesses
        # cannot all slip in; a right password gives its count back
        checks = self._throttle_checks(handler, username)
        counted, waits = [], []
        for key, (limit, window) in checks:
            decision = self.limiter.hit(key, limit=limit, window=window)
            if decision.allowed:
                counted.append(key)
            else:
                waits.append(decision.retry_after)
        if waits:
            raise LoginThrottled(max(waits))
        info = self.get_user(username)
        # bcrypt in a thread: the hub keeps serving while it runs (about 0.2 s)
        matches = await asyncio.to_thread(_password_matches, password, info.password if info else self._dummy_hash)
        token = (data.get("2fa") or "").strip()
        token_ok = info is not None and (not info.has_2fa or (token.isdigit() and info.is_valid_token(token)))
        if info is None or not matches or not token_ok:
            return None
        rates = dict(checks)
        for key in counted:
            if key.startswith("user:"):
                self.limiter.reset(key)  # the owner is back: their username is not held back
            else:
                self.limiter.refund(key, limit=rates[key][0], window=rates[key][1])
        if not info.is_authorized:
            if handler is not None:
                handler.lms_login_refusal = "not_authorized"
            return None
        if self.lms_deactivated(username):  # an admin deactivated the account in the LMS console
            if handler is not None:
                handler.lms_login_refusal = "deactivated"
            return None
        mode = self.two_factor_mode()
        if not info.has_2fa and (mode == "everyone" or (mode == "staff" and self._is_staff(username))):
            if not (token.isdigit() and info.is_valid_token(token)):
                raise TwoFactorEnrollment(username, info.otp_secret)
            info.has_2fa = True  # enrolled: the app produced a valid code for the key
            self.db.commit()
        return username

    def create_user(self, username, password, **kwargs):
        if self.password_problem(password, username):
            return None
        # admins and allowed users are approved in advance (asked before the new row is authorized)
        listed = self.normalize_username(username) in self.get_authed_users()
        info = super().create_user(username, password, **kwargs)
        if info is not None:
            # the sign-up mode an admin chose in the LMS console, read now (not the start-up open_signup)
            approved = listed or self.signup_mode() == "open"
            if bool(info.is_authorized) != approved:
                info.is_authorized = approved
                self.db.commit()
        return info

    def create_demo_users(self, password: str) -> None:
        problem = self.password_problem(password)
        if problem:
            raise ValueError(f"LMS_DEMO_PASSWORD cannot be used for the demo users: {problem}")
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
        changed = False
        if not info.get(ACCOUNT_ID_KEY):
            info[ACCOUNT_ID_KEY] = new_account_id()
            changed = True
        # the address given at sign-up, when the account was approved or used two-factor
        # authentication (no login at sign-up put it into user_info then)
        signed_up = self.get_user(user.name) if not info.get("email") else None
        if signed_up is not None and signed_up.email:
            info["email"] = signed_up.email
            changed = True
        if changed:
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
            outcome = await asyncio.to_thread(erase_lms_account, self.lms_config, user.name, account_id)
            await remove_home(user.spawner)
        except Exception as exc:
            self.log.exception("deleting %s stopped", user.name)
            raise web.HTTPError(_status_of(exc), f"{user.name} was not deleted: {_reason(exc)}") from None
        self.log.info("deleted %s: LMS data %s, %d invoice(s) kept anonymised, home removed", user.name,
                      "erased" if outcome.erased else "(none)", outcome.invoices_kept)
        return super().delete_user(user)


log = logging.getLogger("lms.hub")


def erase_lms_account(config, name: str, account_id: str | None):
    """Run the LMS's account deletion on the LMS database, from the hub process.

    Directly on the database, not through the LMS service's API: it works while the service
    is down or restarting, needs no token, and the hub and the LMS ship as one package (the
    hub image holds ``lms_extension``). ``config`` is the ``LMSConfig`` the hub loaded at start
    (``c.LMSAuthenticator.lms_config``): the LMS's ``db_url`` and, to cancel subscriptions, its
    Stripe settings.
    """
    from lms_extension.db import check_revision, make_engine, session_factory, session_scope
    from lms_extension.services import accounts
    from lms_extension.services.payments import stripe_client

    if config is None:
        raise RuntimeError("the hub has no LMS configuration: set c.LMSAuthenticator.lms_config = "
                           "hub_config.settings.load().config")
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
