"""Handler base classes and the one place that maps errors to HTTP.

Handlers parse, authorize, call a service and render. Every error ends in ``write_error``:
JSON ``{"status", "error", "message"}`` under ``/api/``, an HTML page otherwise; the
request's database session is rolled back there.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from http import HTTPStatus
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from sqlalchemy.orm import Session
from tornado import web

from .. import permissions
from ..errors import InvalidInput, LMSError, NotAuthenticated, NotFound, PayloadTooLarge, TooManyRequests
from ..ratelimit import parse_rate
from ..models import User
from ..models.commerce import Order
from ..services import catalog
from ..services.payments import checkout, fulfillment
from ..services.payments.policy import CommercePolicy
from ..services.payments.stripe_client import from_config
from ..services.users import sync_hub_user

log = logging.getLogger("lms.web")

# Sent with every response (pages add their nonce to script-src): no script runs unless the page
# names it with the nonce or it is a file of ours; no framing (clickjacking); no MIME sniffing;
# no full URLs (tokens, order ids) leaked to other sites in Referer.
CSP = ("default-src 'self'; script-src 'self'{nonce}; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: https:; media-src 'self' https: blob:; font-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
NOTICE_COOKIE = "lms-notice"
NOTICE_MAX_AGE_DAYS = 10 / (24 * 60)  # read within ten minutes or never


class SecurityHeaders(web.OutputTransform):
    """The headers for responses of handlers that are not ours (static files, the OAuth
    callback, Tornado's own errors, the Judge0 API): added where a handler set none."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = CSP.format(nonce="")
        for name, value in SECURITY_HEADERS.items():
            if name not in headers:
                headers[name] = value
        return status_code, headers, chunk


class LMSHandlerMixin(HubOAuthenticated):
    """Common plumbing: a database session per request, the LMS user, error rendering.

    Mixed into plain handlers (``BaseHandler``) and WebSocket handlers alike.
    """

    _db: Session | None = None
    _lms_user: User | None | bool = False  # False: not looked up yet

    csp_nonce = ""

    @property
    def config(self):
        return self.settings["lms_config"]

    def set_default_headers(self):
        super().set_default_headers()
        # a fresh nonce per response (send_error clears the headers and calls this again)
        self.csp_nonce = secrets.token_urlsafe(18)
        self.set_header("Content-Security-Policy", CSP.format(nonce=f" 'nonce-{self.csp_nonce}'"))
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def public_url(self, path: str = "") -> str:
        """An absolute URL of the service, from LMS_PUBLIC_URL: never from the request's Host
        header, which whoever sends the request chooses."""
        return f"{self.config.public_url.rstrip('/')}{self.config.service_prefix}{path.lstrip('/')}"

    def absolute_url(self, path: str) -> str:
        """``/services/lms/static/logo.svg`` as an absolute URL from LMS_PUBLIC_URL."""
        return self.config.public_url.rstrip("/") + path

    def add_notice(self, text: str) -> None:
        """A notice for the next page this browser shows ("Refund requested."), in a signed
        cookie read once: not free text in the URL, where anyone could write a link with theirs."""
        self.set_signed_cookie(NOTICE_COOKIE, text[:500], expires_days=None, httponly=True, samesite="Lax",
                               path=self.config.service_prefix, secure=self.request.protocol == "https")

    def pop_notice(self) -> str | None:
        if NOTICE_COOKIE not in self.request.cookies:
            return None
        raw = self.get_signed_cookie(NOTICE_COOKIE, max_age_days=NOTICE_MAX_AGE_DAYS)
        self.clear_cookie(NOTICE_COOKIE, path=self.config.service_prefix)
        return raw.decode("utf-8", "replace") if raw else None

    @property
    def db(self) -> Session:
        if self._db is None:
            self._db = self.settings["session_factory"]()
        return self._db

    @property
    def is_api(self) -> bool:
        return self.request.path.startswith(self.config.service_prefix + "api/")

    async def prepare(self):
        self._check_body_size()
        # identify the user without blocking the event loop (HubAuth's sync path uses a thread)
        model = await self.hub_auth.get_user(self, sync=False)
        try:
            self._hub_auth_user_cache = self.check_hub_user(model) if model else None
        except UserNotAllowed:
            self._hub_auth_user_cache = None
        user = self._hub_auth_user_cache
        if user and self.request.method in ("POST", "PUT", "PATCH", "DELETE"):
            self.check_rate("writes", f"user:{user['name']}", self.config.rate_limit_api_writes,
                            "too many changes in a short time")

    @property
    def client_address(self) -> str:
        """The browser's address as the proxy saw it: the last X-Forwarded-For hop, which the
        proxy appends. Tornado's ``remote_ip`` would prefer X-Real-Ip, which any client can send."""
        forwarded = self.request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        return forwarded or self.request.remote_ip or "unknown"

    def check_rate(self, action: str, who: str, rate: str, what: str) -> None:
        """Count one ``action`` of ``who`` against ``rate`` (COUNT/SECONDS, shared by the
        replicas when Redis is configured); beyond it, 429 with Retry-After."""
        limit = parse_rate(rate)
        if limit is None:
            return
        decision = self.settings["rate_limiter"].hit(f"{action}:{who}", limit=limit[0], window=limit[1])
        if not decision.allowed:
            wait = decision.retry_after_seconds
            raise TooManyRequests(f"{what}: try again in {wait} s", retry_after=wait)

    def _check_body_size(self):
        length = self.request.headers.get("Content-Length")
        if length is not None:
            try:
                too_big = int(length) > self.config.max_body_bytes
            except ValueError:
                raise InvalidInput("Content-Length is not a number") from None
            if too_big:
                raise PayloadTooLarge(
                    f"request body is larger than the limit of {self.config.max_body_bytes} bytes"
                )

    @property
    def lms_user(self) -> User | None:
        """The LMS row of the authenticated hub user, created on first sight."""
        if self._lms_user is False:
            model = self.current_user
            self._lms_user = sync_hub_user(self.db, model) if model and model.get("kind", "user") == "user" else None
            if self._lms_user is not None:
                self.db.commit()
        return self._lms_user

    def require_user(self) -> User:
        user = self.lms_user
        if user is None:
            raise NotAuthenticated("log in first (send 'Authorization: token <JupyterHub API token>')")
        return user

    def json_body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"malformed JSON body: {exc}") from None

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, default=str))

    def on_finish(self):
        if self._db is not None:
            self._db.close()

    def log_exception(self, typ, value, tb):
        if isinstance(value, LMSError):
            log.info("%s %s -> %s: %s", self.request.method, self.request.uri, value.status, value.message)
        else:
            super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e):
        if self._db is not None:
            self._db.rollback()
        if isinstance(e, LMSError) and not self._finished:
            self.log_exception(type(e), e, None)
            self.send_error(e.status, exc_info=(type(e), e, None))
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, LMSError):
            message, code, details = exc.message, exc.code, exc.details
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message, code, details = exc.log_message % exc.args if exc.args else exc.log_message, "http_error", {}
        else:
            message = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else "Error"
            code, details = "http_error", {}
        if status_code >= 500 and not isinstance(exc, LMSError):  # a domain error's message is meant to be read
            message = "Internal server error. It has been logged."
        if status_code == 429 and "retry_after" in details:
            self.set_header("Retry-After", str(details["retry_after"]))
        if self.is_api:
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"status": status_code, "error": code, "message": message, **details}))
        else:
            self.finish(self.render_template("error.html", status_code=status_code, message=message))

    def render_template(self, name: str, **ns) -> str:
        env = self.settings["jinja_env"]
        ns.setdefault("notice", self.pop_notice())
        here = self.request.uri if self.request.method == "GET" and self.get_status() < 400 else None
        ns.setdefault("here", here or self.config.service_prefix)
        ns.setdefault("logout_next", here if here and self._visitors_may_see() else self.config.service_prefix)
        return env.get_template(name).render(
            prefix=self.config.service_prefix, hub_prefix=self.config.hub_prefix,
            user=self._page_user(), csp_nonce=self.csp_nonce, absolute=self.absolute_url,
            xsrf_form_html=self.xsrf_form_html, page_xsrf_token=lambda: self.xsrf_token.decode("ascii"),
            static=self.static_asset, **ns,
        )

    def _visitors_may_see(self) -> bool:
        """Whether this page shows to visitors too, so that logging out may return to it: its
        ``get`` declares no login (``@web.authenticated``, ``@requires...`` wrap it)."""
        return getattr(getattr(type(self), "get", None), "__wrapped__", None) is None

    def _page_user(self) -> User | None:
        try:
            return self.lms_user
        except Exception:  # an error page must render even when the hub is unreachable
            return None

    def static_asset(self, path: str) -> str:
        return self.static_url(path)

    def render_page(self, name: str, **ns) -> None:
        self.finish(self.render_template(name, **ns))


def requires_user(method):
    """Declares that a handler method needs a logged-in LMS user (401 otherwise)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self.require_user()
        return method(self, *args, **kwargs)

    return wrapper


def requires(scope: str, message: str | None = None):
    """Declares the LMS scope (``permissions.TEACH``, ``permissions.ADMIN``) a handler method
    needs, as JupyterHub's ``@needs_scope`` does: 401 without a user, 403 without the scope."""
    if scope not in permissions.SCOPES:
        raise ValueError(f"unknown LMS scope {scope!r}")
    require = permissions.require_admin if scope == permissions.ADMIN else permissions.require_instructor
    custom = {"message": message} if message else {}

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            user = self.require_user()
            require(user, **custom)
            return method(self, *args, **kwargs)

        wrapper.lms_scope = scope
        return wrapper

    return decorate


class BaseHandler(LMSHandlerMixin, web.RequestHandler):
    pass


class APIHandler(BaseHandler):
    """JSON only; token-authenticated requests skip xsrf as JupyterHub does."""

    def check_xsrf_cookie(self):
        # xsrf protects cookie sessions only; token and anonymous requests are checked by auth
        if self.request.headers.get("Authorization") or self.hub_auth.cookie_name not in self.request.cookies:
            return None
        return super().check_xsrf_cookie()


class NotFoundHandler(BaseHandler):
    async def prepare(self):
        await super().prepare()
        raise web.HTTPError(404, "no such page: %s", self.request.path)


def public_base(handler) -> str:
    """The service's public URL (LMS_PUBLIC_URL): never the Host header, which the sender chooses."""
    return handler.public_url()


def verify_url(handler, uid: str) -> str:
    return f"{public_base(handler)}certificates/{uid}"


PURCHASE_FIELDS = {"course", "bundle", "plan", "coupon", "country"}


class CommerceMixin:
    """The commerce policy and Stripe client that ``make_app`` built at start-up."""

    @property
    def policy(self) -> CommercePolicy:
        return self.application.settings["lms_commerce_policy"]

    @property
    def stripe(self):
        client = self.application.settings["lms_stripe_client"]
        # None: payments are not set up; from_config logs why and refuses with a buyer's message
        return client if client is not None else from_config(self.config)

    def purchase_args(self, data: dict) -> dict:
        unknown = set(data) - PURCHASE_FIELDS
        if unknown:  # prices come from the catalog, never from the buyer
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
        for key, value in data.items():
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{key} must be a string")
            if value is not None and len(value) > 100:
                raise InvalidInput(f"{key} is too long")
        return {"course": data.get("course") or None, "bundle": data.get("bundle") or None,
                "plan": data.get("plan") or None, "coupon": (data.get("coupon") or "").strip() or None,
                "country": data.get("country") or "US"}

    def quote(self, args: dict, user) -> checkout.Quote:
        return checkout.quote(self.db, self.policy.taxes, user=user, plan_prices=self.policy.plans,
                              plan_currency=self.policy.plan_currency, **args)

    def start_checkout(self, user, args: dict, billing=None) -> tuple[Order, str]:
        self.check_rate("checkout", f"user:{user.hub_name}", self.config.rate_limit_checkout,
                        "too many checkouts started")
        q = self.quote(args, user)
        stripe = self.stripe if q.total_cents > 0 or q.kind == "subscription" else None  # refuses when not set up
        order = checkout.create_order(self.db, user, q, billing)
        if order.total_cents == 0 and order.kind != "subscription":
            fulfillment.fulfill_without_payment(self.db, self.policy, order)
            self.db.commit()
            return order, self.public_url(f"checkout/success?order={order.id}")
        # absolute links from LMS_PUBLIC_URL: Stripe sends the buyer there, whatever Host they came with
        url = fulfillment.start_checkout(
            self.db, stripe, order,
            success_url=self.public_url(f"checkout/success?order={order.id}&session_id={{CHECKOUT_SESSION_ID}}"),
            cancel_url=self.public_url(f"checkout/cancel?order={order.id}"))
        self.db.commit()
        return order, url


def int_arg(handler, name: str, default: int) -> int:
    raw = handler.get_query_argument(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, got {raw[:30]!r}") from None


def parse_id(raw: str, what: str) -> int:
    """A row id from the URL: anything but a positive 32-bit number is "no <what> …" (404)."""
    try:
        value = int(raw)
    except ValueError:
        raise NotFound(f"no {what} {raw[:30]!r}") from None
    if not 0 < value < 2**31:
        raise NotFound(f"no {what} {value}")
    return value


def parse_review_id(raw: str) -> int:
    return parse_id(raw, "review")


def body_dict(handler) -> dict:
    body = handler.json_body()
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


PRICE = re.compile(r"\d{1,9}(?:[.,]\d{1,2})?")
PRICE_LABELS = {"min_price": "Minimum price", "max_price": "Maximum price"}
MAX_PRICE_UNITS = 1_000_000


def price_cents(name: str, raw: str) -> int | None:
    """A price typed in currency units ("19.99", "20", "4,50") as cents; blank is no filter."""
    label, raw = PRICE_LABELS[name], raw.strip()
    if not raw:
        return None
    if raw.startswith("-"):
        raise InvalidInput(f"{label} cannot be negative")
    if not PRICE.fullmatch(raw):
        raise InvalidInput(f"{label} must be an amount like 19.99, not {raw[:30]!r}")
    units, _, fraction = raw.replace(",", ".").partition(".")
    cents = int(units) * 100 + int((fraction + "00")[:2])
    if cents > MAX_PRICE_UNITS * 100:
        raise InvalidInput(f"{label} is at most {MAX_PRICE_UNITS:,}")
    return cents


def parse_price_range(handler) -> tuple[int | None, int | None]:
    """The catalog's price filter: ``min_price``/``max_price`` in currency units (the catalog form),
    else ``min_price_cents``/``max_price_cents`` (the API's)."""
    low, high = (price_cents(name, handler.get_query_argument(name, "")) for name in ("min_price", "max_price"))
    if low is not None and high is not None and low > high:
        raise InvalidInput("Minimum price is above the maximum price")
    return low, high


def parse_catalog_query(handler, *, prices: tuple[int | None, int | None] | None = None) -> catalog.CatalogQuery:
    """The catalog's filters from the query string; ``prices`` (cents) when the caller parsed them."""
    def integer(name: str, default: int) -> int:
        raw = handler.get_query_argument(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{name} must be a whole number, got {raw!r}") from None

    def optional(name: str, kind=int):
        raw = handler.get_query_argument(name, "").strip()
        if not raw:
            return None
        try:
            return kind(raw)
        except ValueError:
            raise InvalidInput(f"{name} must be a number, got {raw[:50]!r}") from None

    low, high = prices if prices is not None else parse_price_range(handler)
    free = handler.get_query_argument("free", "")
    if free not in ("", "true", "false"):
        raise InvalidInput("free must be true or false")
    return catalog.CatalogQuery(
        q=handler.get_query_argument("q", "").strip(),
        category=handler.get_query_argument("category", ""),
        level=handler.get_query_argument("level", ""),
        free={"": None, "true": True, "false": False}[free],
        language=handler.get_query_argument("language", ""),
        min_price_cents=low if low is not None else optional("min_price_cents"),
        max_price_cents=high if high is not None else optional("max_price_cents"),
        min_rating=optional("min_rating", float),
        sort=handler.get_query_argument("sort", "relevance") or "relevance",
        limit=integer("limit", 24),
        offset=integer("offset", 0),
    )
