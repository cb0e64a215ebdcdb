"""The one HTTP client for the LMS API on the student's side: the kernel magics, the nbgrader
exchange and the lab server extension all call the LMS through :class:`LMSClient`.

It calls ``LMS_SERVICE_URL`` with the student's own token (``JUPYTERHUB_API_TOKEN``) and
sends that token nowhere else: no HTTP proxy (the ``*_proxy`` variables of a student's
server point at the internet) and no redirect to another origin. Every failure, including
the LMS's ``{"status", "message"}`` errors, becomes an :class:`LMSError` carrying the
server's message and never the token. Standard library only: it is imported in every
kernel and copied into the grading sandbox.
"""
from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

DEFAULT_TIMEOUT = 20.0


class LMSError(Exception):
    """The LMS could not be asked, or refused (``status`` is then its HTTP status)."""

    def __init__(self, message: str, status: int | None = None, *, retry_after: str | None = None,
                 body: object = None, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason  # why the service could not be reached (status None)
        self.retry_after = retry_after  # the Retry-After header of a 429 or 503
        self.body = body  # the decoded JSON of a refusal (Judge0's 422 names the fields)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    parts = urllib.parse.urlsplit(url)
    try:
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:  # not a port number: no origin to compare
        return None


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """urllib copies the Authorization header onto any redirect: follow only those that stay
    on the LMS's own scheme, host and port."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        target = urllib.parse.urljoin(req.full_url, newurl)
        origin = _origin(target)
        if origin is None or origin != _origin(req.full_url):
            fp.close()
            raise LMSError(f"the LMS redirected to another address ({urllib.parse.urlsplit(target).netloc}): "
                           "not followed", code)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _SameOriginRedirects())


def _decode(raw: bytes) -> object:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


class LMSClient:
    """Calls one service as one user: ``call("GET", "api/v1/me/progress")``."""

    def __init__(self, base_url: str, token: str = "", *, timeout: float = DEFAULT_TIMEOUT,
                 headers: Mapping[str, str] | None = None):
        if not base_url:
            raise LMSError("no LMS address: LMS_SERVICE_URL is not set")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        # the credentials: the LMS takes "Authorization: token ...", a standalone Judge0
        # server its own header (graders.judge0)
        self.headers = dict(headers) if headers is not None else (
            {"Authorization": f"token {token}"} if token else {})

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **options) -> "LMSClient":
        """The student's own client, as set in every student server."""
        env = os.environ if environ is None else environ
        base, token = env.get("LMS_SERVICE_URL"), env.get("JUPYTERHUB_API_TOKEN")
        if not base or not token:
            raise LMSError("not in a Jupyter LMS server: LMS_SERVICE_URL and JUPYTERHUB_API_TOKEN are not set")
        return cls(base, token, **options)

    def __repr__(self) -> str:  # never the token
        return f"LMSClient({self.base_url!r})"

    def url(self, path: str, params: Mapping[str, object] | None = None) -> str:
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return self.base_url + path.lstrip("/") + ("?" + urllib.parse.urlencode(query) if query else "")

    def call(self, method: str, path: str, body: object = None, *, params: Mapping[str, object] | None = None,
             timeout: float | None = None) -> object:
        """One request; the decoded JSON answer, or LMSError with the server's message."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path, params), data=data, method=method, headers={
            **self.headers, "Accept": "application/json", "Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=timeout or self.timeout) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as exc:
            with exc:
                answer = _decode(exc.read())
            message = None
            if isinstance(answer, dict):
                message = answer.get("message") or answer.get("error")
            raise LMSError(str(message or exc.reason or f"HTTP {exc.code}"), exc.code,
                           retry_after=exc.headers.get("Retry-After"), body=answer) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = str(getattr(exc, "reason", None) or exc)
            raise LMSError(f"the LMS cannot be reached at {self.base_url}: {reason}", reason=reason) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise LMSError(f"the LMS answered {status} with something else than JSON", status) from None

    async def acall(self, method: str, path: str, body: object = None, **options) -> object:
        """:meth:`call` for a server's event loop (a worker thread does the waiting)."""
        return await asyncio.to_thread(self.call, method, path, body, **options)
