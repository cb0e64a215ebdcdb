"""Pages: the digest email choice (a form on the notification preferences page) and the
digest's one-click unsubscribe link (RFC 8058)."""
from __future__ import annotations

from tornado import web

from ...services import digests
from ..base import BaseHandler


class DigestChoice(BaseHandler):
    @web.authenticated
    def post(self):
        user = self.require_user()
        chosen = digests.set_frequency(self.db, user.id, self.get_body_argument("digest", ""))
        self.db.commit()
        self.add_notice("No digest email from now on." if chosen == "off" else
                        f"Saved: a {chosen} digest email{'' if user.email else ' once your account has an email address'}.")
        self.redirect(self.config.service_prefix + "notifications/preferences#digest-box", status=303)


class DigestUnsubscribe(BaseHandler):
    """GET asks, POST (the button, or a mail client's ``List-Unsubscribe=One-Click``) stops the
    digest. The signed token is the authorisation: no login, no xsrf cookie (mail clients have none)."""

    def check_xsrf_cookie(self):
        return None

    def get(self, token: str):
        user = digests.describe_token(self.db, self.config.cookie_secret, token)
        self.render_page("notifications/digest_unsubscribe.html", token=token, done=False,
                         already=digests.frequency(self.db, user.id) == "off")

    def post(self, token: str):
        digests.unsubscribe(self.db, self.config.cookie_secret, token)
        self.db.commit()
        self.render_page("notifications/digest_unsubscribe.html", token=token, done=True, already=False)


default_handlers = [
    (r"notifications/digest", DigestChoice),
    (r"notifications/digest/unsubscribe/([^/]{1,200})", DigestUnsubscribe),
]
