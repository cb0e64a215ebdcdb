"""Pages: email (unsubscribe, verification links).

``email/confirm`` is the link of a verification or address-change email: it needs no login
(the emailed secret is the proof) and answers a link that is forged, used or expired with a
page that says so (404 / 410). ``profile/email/resend`` sends a new verification link."""
from __future__ import annotations

from tornado import web

from ...errors import LMSError
from ...services import account_email
from ..base import BaseHandler


class ConfirmEmailPage(BaseHandler):
    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Referrer-Policy", "no-referrer")  # the secret is in this page's URL
        self.set_header("Cache-Control", "no-store")

    def get(self):
        secret = self.get_query_argument("token", "")
        try:
            done = account_email.confirm(self.db, secret, account_email.Links.from_config(self.config))
        except LMSError as exc:
            self.db.rollback()
            self.set_status(exc.status)
            self.render_page("account/email_link.html", error=exc.message, expired=exc.status == 410, confirmed=None)
            return
        self.db.commit()
        self.render_page("account/email_link.html", error=None, confirmed=done)


class ResendVerification(BaseHandler):
    @web.authenticated
    def post(self):
        user = self.require_user()
        links = account_email.Links.from_config(self.config)
        if account_email.send_verification(self.db, user, links, again=True):
            self.db.commit()
            self.add_notice(f"We sent a new confirmation link to {user.email}.")
        else:
            self.add_notice("Your address is already confirmed." if user.email else
                            "Your account has no email address yet.")
        self.redirect(self.config.service_prefix + "profile#email", status=303)


default_handlers: list = [
    (r"email/confirm", ConfirmEmailPage),
    (r"profile/email/resend", ResendVerification),
]
