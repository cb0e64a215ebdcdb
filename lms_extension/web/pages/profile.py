"""The signed-in user's profile: display name (certificates and invoices use it) and, for
instructors, the public profile (headline, bio, photo) shown at ``/instructors/<name>``."""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput, LMSError, PayloadTooLarge
from ...services import account_email, certificates, users
from ..base import BaseHandler


def _upload(handler, name: str) -> bytes:
    files = handler.request.files.get(name) or []
    if len(files) != 1:
        raise InvalidInput("choose one image file to upload", field=name)
    return files[0]["body"]


class ProfileView(BaseHandler):
    def _render(self, user, typed: dict | None = None, error: LMSError | None = None, where: str = "profile") -> None:
        instructor = user.instructor
        typed = typed or {"display_name": user.display_name or user.hub_name,
                          "headline": instructor.headline if instructor else "",
                          "bio": instructor.bio if instructor else ""}
        if error is not None:
            self.set_status(error.status)
        photo = None
        if instructor is not None and instructor.photo_version:
            photo = photo_url(self.config.service_prefix, instructor, 256)
        self.render_page("profile.html", typed=typed, error=error, error_at=where, instructor=instructor, photo=photo,
                         email=account_email.status(self.db, user),
                         limits={"display_name": users.DISPLAY_NAME_MAX, "headline": users.HEADLINE_MAX,
                                 "bio": users.BIO_MAX})


class ProfilePage(ProfileView):
    @web.authenticated
    def get(self):
        self._render(self.require_user())

    @web.authenticated
    def post(self):
        user = self.require_user()
        typed = {"display_name": self.get_body_argument("display_name", "", strip=False)}
        if user.instructor is not None:
            typed["headline"] = self.get_body_argument("headline", "", strip=False)
            typed["bio"] = self.get_body_argument("bio", "", strip=False)
        try:
            users.update_profile(self.db, user, display_name=typed["display_name"], headline=typed.get("headline"),
                                 bio=typed.get("bio"))
            certificates.rename_holder(self.db, user.id, user.display_name)
        except InvalidInput as exc:
            self.db.rollback()
            self._render(self.require_user(), typed, exc)
            return
        self.db.commit()
        self.add_notice("Profile saved.")
        self.redirect(self.config.service_prefix + "profile", status=303)


class ProfilePhoto(ProfileView):
    @web.authenticated
    def post(self):
        user = self.require_user()
        try:
            users.set_photo(self.db, self.settings["storage"], user, _upload(self, "photo"))
        except (InvalidInput, PayloadTooLarge) as exc:
            self.db.rollback()
            self._render(self.require_user(), None, exc, where="photo")
            return
        self.db.commit()
        self.add_notice("Photo saved.")
        self.redirect(self.config.service_prefix + "profile", status=303)


def photo_url(prefix: str, instructor, width: int) -> str:
    widths = users.photo_widths(instructor.photo_version)
    best = min((w for w in widths if w >= width), default=max(widths))
    return f"{prefix}instructors/photo/{instructor.id}/{instructor.photo_version}-{best}.webp"


default_handlers = [
    (r"profile", ProfilePage),
    (r"profile/photo", ProfilePhoto),
]
