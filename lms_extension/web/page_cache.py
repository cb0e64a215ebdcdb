"""Pages that every visitor sees alike (the catalog, a course) served from the replica's
catalog cache for ``LMS_CATALOG_CACHE_SECONDS`` instead of being rendered per request.

Only visitors' GETs are cached: no hub user, no API token, no one-time notice, and a page whose
rendering set no cookie (an xsrf token in a form would be the first visitor's). The cached HTML
holds a placeholder where the page's CSP nonce goes; each response gets its own nonce.
"""
from __future__ import annotations

import functools
import secrets

from .base import NOTICE_COOKIE

# a placeholder no page contains by chance; the real nonce replaces it in every response
NONCE_SLOT = "lms-nonce-" + secrets.token_hex(12)


def visitor_key(handler) -> str | None:
    """The cache key of this request, or None when its page may differ from a visitor's."""
    request = handler.request
    if request.method != "GET" or handler.current_user is not None:
        return None
    if request.headers.get("Authorization") or NOTICE_COOKIE in request.cookies:
        return None
    return f"{type(handler).__name__} {request.uri}"


def cached_for_visitors(method):
    """Decorates a page's ``get``: visitors get the cached rendering when there is one."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        key = visitor_key(self)
        if key is None:
            return method(self, *args, **kwargs)
        cache = self.settings["catalog_cache"]
        html = cache.page(key)
        if html is not None:
            self.finish(html.replace(NONCE_SLOT, self.csp_nonce))
            return None
        nonce, self.csp_nonce = self.csp_nonce, NONCE_SLOT
        finish = self.finish

        def finish_and_keep(chunk=None):
            # an error page replaced the headers and with them the nonce (send_error)
            real = nonce if self.csp_nonce == NONCE_SLOT else self.csp_nonce
            if isinstance(chunk, str):
                if self.get_status() == 200 and not hasattr(self, "_new_cookie"):
                    cache.store_page(key, chunk)
                chunk = chunk.replace(NONCE_SLOT, real)
            self.csp_nonce = real
            return finish(chunk)

        self.finish = finish_and_keep
        return method(self, *args, **kwargs)

    # the page shows to visitors (BaseHandler._visitors_may_see looks for __wrapped__)
    del wrapper.__wrapped__
    return wrapper
