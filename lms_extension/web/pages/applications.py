"""Pages: apply to teach (``teach/apply``: the form, then the application's status), and the
admin's list of applications with approve / reject (``admin/applications``)."""
from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import object_session
from tornado import web

from ... import permissions
from ...errors import InvalidInput, LMSError, NotFound
from ...models.applications import APPROVED, PENDING, REJECTED
from ...services import instructor_applications as applications, users
from ...services.countries import COUNTRIES, NAMES as COUNTRY_NAMES
from ...services.hub_client import HubClient, HubUnavailable
from ..base import BaseHandler, requires
from ..markdown import render_markdown
from .login import safe_next

log = logging.getLogger("lms.web")

FIELDS = ("display_name", "headline", "bio", "payout_country")
LIMITS = {"display_name": users.DISPLAY_NAME_MAX, "headline": users.HEADLINE_MAX, "bio": users.BIO_MAX,
          "reason": applications.REASON_MAX}


def hub_client(handler) -> HubClient:
    """The hub's REST API with this service's token (what ``HubOAuth`` was given by the hub)."""
    auth = handler.hub_auth
    return HubClient(auth.api_url, auth.api_token)


def application_news(user):
    """For the header's banner (``applications/banner.html``): the signed-in user's decided
    application they have not seen yet. Never breaks a page: on a database error, no banner."""
    session = object_session(user) if user is not None else None
    if session is None:
        return None
    try:
        return applications.unseen_decision(session, user.id)
    except SQLAlchemyError:
        log.warning("could not read the application banner of %s", user.hub_name, exc_info=True)
        return None


def photo_url(prefix: str, application, width: int) -> str | None:
    if not application.photo_version:
        return None
    widths = users.photo_widths(application.photo_version)
    best = min((w for w in widths if w >= width), default=max(widths))
    return f"{prefix}teach/apply/photo/{application.id}/{application.photo_version}-{best}.webp"


def _upload(handler) -> bytes | None:
    files = handler.request.files.get("photo") or []
    if len(files) > 1:
        raise InvalidInput("choose one image file for your photo", field="photo")
    return files[0]["body"] if files and files[0]["body"] else None


class ApplyPage(BaseHandler):
    """The form (no application yet, or re-applying after a rejection), else the status."""

    def _render(self, user, *, typed: dict | None = None, error: LMSError | None = None) -> None:
        current = applications.latest(self.db, user)
        if current is not None and error is None:
            applications.mark_seen(self.db, current)  # the banner has told them; this page shows it
            self.db.commit()
        if typed is None:
            source = current if current is not None else None
            typed = {"display_name": source.display_name if source else (user.display_name or user.hub_name),
                     "headline": source.headline if source else "", "bio": source.bio if source else "",
                     "payout_country": source.payout_country if source else ""}
        if error is not None:
            self.set_status(error.status)
        teaches = permissions.has_scope(user, permissions.TEACH)
        show_form = not teaches and (current is None or current.status == REJECTED)
        self.render_page("applications/apply.html", application=current, typed=typed, error=error,
                         show_form=show_form, teaches=teaches, countries=COUNTRIES, country_names=COUNTRY_NAMES,
                         limits=LIMITS, photo=photo_url(self.config.service_prefix, current, 256) if current else None,
                         bio_html=render_markdown(current.bio) if current else "",
                         PENDING=PENDING, APPROVED=APPROVED, REJECTED=REJECTED)

    @web.authenticated
    def get(self):
        self._render(self.require_user())

    @web.authenticated
    def post(self):
        user = self.require_user()
        typed = {name: self.get_body_argument(name, "", strip=False) for name in FIELDS}
        try:
            application = applications.submit(self.db, self.settings["storage"], user, photo=_upload(self), **typed)
            name = application.display_name
        except LMSError as exc:
            self.db.rollback()
            self._render(self.require_user(), typed=typed, error=exc)
            return
        self.db.commit()
        self.add_notice(f"Thank you, {name}: your application is sent. An admin will review it.")
        self.redirect(self.config.service_prefix + "teach/apply", status=303)


class RoleRefresh(BaseHandler):
    """After approval: a new sign-in to the LMS, so that its session carries the instructor role
    the hub now gives (a session's token keeps the scopes it was issued with)."""

    @web.authenticated
    def post(self):
        self.require_user()
        if self.hub_auth.cookie_name:  # the LMS session only; the hub's own session stays
            self.hub_auth.clear_cookie(self)
        target = safe_next(self.config.service_prefix + "teach", self.config.service_prefix)
        self.redirect(f"{self.config.service_prefix}login?next={web.escape.url_escape(target)}", status=303)


class ApplicationPhoto(BaseHandler):
    @web.authenticated
    def get(self, application_id: str, version: str, width: str):
        data = applications.photo_file(self.db, self.settings["storage"], self.require_user(), int(application_id),
                                       version, int(width))
        self.set_header("Content-Type", "image/webp")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(data)


class AdminApplications(BaseHandler):
    """Pending first, each with its profile and approve / reject with a reason."""

    def _render(self, admin, *, error: LMSError | None = None, failed_id: int | None = None,
                typed_reason: str = "") -> None:
        rows = applications.for_review(self.db, admin)
        if error is not None:
            self.set_status(error.status)
        self.render_page("applications/admin.html", admin_section="applications", rows=rows, error=error,
                         failed_id=failed_id, typed_reason=typed_reason, country_names=COUNTRY_NAMES,
                         limits=LIMITS, bios={a.id: render_markdown(a.bio) for a in rows},
                         photos={a.id: photo_url(self.config.service_prefix, a, 96) for a in rows},
                         PENDING=PENDING, APPROVED=APPROVED)

    @web.authenticated
    @requires(permissions.ADMIN, "only admins review instructor applications")
    def get(self):
        self._render(self.require_user())


class AdminDecision(AdminApplications):
    @web.authenticated
    @requires(permissions.ADMIN, "only admins decide instructor applications")
    def get(self, application_id: str):
        """A decision is a form post; opening its address shows the list it belongs to."""
        self.redirect(self.config.service_prefix + "admin/applications", status=303)

    @web.authenticated
    @requires(permissions.ADMIN, "only admins decide instructor applications")
    def post(self, application_id: str):
        admin = self.require_user()
        decision = self.get_body_argument("decision", "")
        reason = self.get_body_argument("reason", "", strip=False)
        try:
            application = applications.decide(self.db, hub_client(self), self.settings["storage"], admin,
                                              int(application_id), decision, reason)
            who = application.display_name
        except NotFound:
            raise
        except HubUnavailable as exc:
            self.db.rollback()
            failed = HubUnavailable(f"Not approved: {exc.message}. Nothing was changed; try again.")
            self._render(self.require_user(), error=failed, failed_id=int(application_id), typed_reason=reason)
            return
        except LMSError as exc:
            self.db.rollback()
            self._render(self.require_user(), error=exc, failed_id=int(application_id), typed_reason=reason)
            return
        self.db.commit()
        self.add_notice(f"{who}'s application is {application.status}; they see it on their next page.")
        self.redirect(self.config.service_prefix + "admin/applications", status=303)


default_handlers = [
    (r"teach/apply", ApplyPage),
    (r"teach/apply/refresh", RoleRefresh),
    (r"teach/apply/photo/(\d{1,9})/([0-9a-f]{1,32}w[0-9_]{1,40})-(\d{1,5})\.webp", ApplicationPhoto),
    (r"admin/applications", AdminApplications),
    (r"admin/applications/(\d{1,9})/decision", AdminDecision),
]
