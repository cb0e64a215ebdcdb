"""The admin console's email pages: the outbox (counts, problems, retry now) and the email
templates (edit subject, text and HTML per kind, preview with sample data, test send, reset)."""
from __future__ import annotations

import json

from tornado import web

from ... import permissions
from ...errors import InvalidInput
from ...services import email_templates, mail, notifications
from .admin import ADMIN_ONLY, AdminView
from ..base import requires

TEST_KIND = "template-test"


def _catalogue() -> dict[str, email_templates.Editable]:
    return email_templates.catalogue({k: kind.label for k, kind in notifications.KINDS.items()})


# -- the outbox ----------------------------------------------------------------------------------
class OutboxPage(AdminView):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.render_admin("admin/mail_outbox.html", "email", counts=mail.outbox_counts(self.db),
                          problems=mail.problems(self.db), smtp_host=self.config.smtp_host)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        """Retry now: one failed or dead email (``id``) or all of them (``all=1``)."""
        if self.get_body_argument("all", "") == "1":
            ids = None
        else:
            raw = self.get_body_argument("id", "").strip()
            if not raw.isdigit() or len(raw) > 10:
                raise InvalidInput("choose an email to retry")
            ids = [int(raw)]
        queued = mail.retry(self.db, ids)
        self.db.commit()
        self.add_notice(f"{queued} email{'s' if queued != 1 else ''} queued again: lms worker sends "
                        f"{'them' if queued != 1 else 'it'} next." if queued else
                        "Nothing to retry: the email was sent meanwhile or is already queued.")
        self.redirect(self.config.service_prefix + "admin/email", status=303)


# -- the templates -------------------------------------------------------------------------------
class TemplatesPage(AdminView):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.render_admin("admin/mail_templates.html", "email", editables=_catalogue(),
                          edited=email_templates.edited(self.db))


class TemplateEditPage(AdminView):
    @property
    def base_url(self) -> str:
        base = self.config.public_url + self.config.service_prefix
        return base if base.endswith("/") else base + "/"

    def typed(self) -> dict[str, str]:
        return {part: self.get_body_argument(part, "") for part in email_templates.PARTS}

    def show(self, spec, sources: dict, *, edited: bool, error: InvalidInput | None = None,
             status: int = 200, to: str = "", sent_to: str = "") -> None:
        shown = None
        if error is None:
            try:
                shown = email_templates.preview(spec, base_url=self.base_url, **sources)
            except InvalidInput as exc:
                error, status = exc, 400
        self.render_admin("admin/mail_template_edit.html", "email", status=status, spec=spec, sources=sources,
                          edited=edited, error=error, field=(error.details.get("field") if error else None),
                          preview=shown, to=to or (self.require_user().email or ""), sent_to=sent_to,
                          variables=sorted(spec.variables.items()))

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self, key: str):
        spec = email_templates.find(_catalogue(), key)
        sources, edited = email_templates.sources(self.db, spec)
        self.show(spec, sources, edited=edited)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self, key: str):
        spec = email_templates.find(_catalogue(), key)
        action = self.get_body_argument("action", "preview")
        admin = self.require_user()
        here = self.config.service_prefix + f"admin/email/templates/{spec.key}"
        if action == "reset":
            done = email_templates.reset(self.db, admin, spec)
            self.db.commit()
            self.add_notice("Back to the default template." if done else "This template was the default already.")
            self.redirect(here, status=303)
            return
        typed = self.typed()
        edited = email_templates.stored(self.db, spec.key) is not None
        try:
            if action == "save":
                email_templates.save(self.db, admin, spec, **typed)
                self.db.commit()
                self.add_notice("Template saved: emails of this kind use it from now on.")
                self.redirect(here, status=303)
                return
            if action == "test":
                to = self.get_body_argument("to", "").strip()
                subject, text, html = email_templates.preview(spec, base_url=self.base_url, **typed)
                mail.enqueue(self.db, to=to, kind=TEST_KIND, subject=f"[Test] {subject}"[:500], text=text, html=html,
                             user_id=admin.id)
                self.db.commit()
                self.show(spec, typed, edited=edited, to=to, sent_to=to)
                return
            if action != "preview":
                raise InvalidInput("choose Preview, Save, Send a test or Reset")
        except InvalidInput as exc:
            self.db.rollback()
            self.show(spec, typed, edited=edited, error=exc, status=400, to=self.get_body_argument("to", ""))
            return
        self.show(spec, typed, edited=edited)


class TemplatePreview(AdminView):
    """The live preview of the edit page (its script posts the form as the admin types):
    ``{"subject", "text", "html"}`` or ``{"error", "field"}``, always 200 for a checked input."""

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self, key: str):
        spec = email_templates.find(_catalogue(), key)
        parts = {part: self.get_body_argument(part, "") for part in email_templates.PARTS}
        base = self.config.public_url + self.config.service_prefix
        try:
            subject, text, html = email_templates.preview(spec, base_url=base if base.endswith("/") else base + "/",
                                                         **parts)
            answer = {"subject": subject, "text": text, "html": html}
        except InvalidInput as exc:
            answer = {"error": exc.message, "field": exc.details.get("field")}
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(answer))


default_handlers = [
    (r"admin/email", OutboxPage),
    (r"admin/email/templates", TemplatesPage),
    (r"admin/email/templates/([a-z0-9_]{1,64})", TemplateEditPage),
    (r"admin/email/templates/([a-z0-9_]{1,64})/preview", TemplatePreview),
]
