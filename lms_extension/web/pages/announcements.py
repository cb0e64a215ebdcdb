"""Pages: an instructor's announcements and coupons for their own courses (the course studio).

Each page shows its list and a form; a refused form comes back with what was typed, the
message and the error's status (400 bad input, 409 a code that exists). Another instructor's
course is a 403 page, a course that does not exist a 404.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from tornado import web

from ... import permissions
from ...errors import Conflict, InvalidInput, LMSError
from ...models import Course
from ...models.base import utcnow
from ...services import announcements, catalog
from ...services.payments import coupons
from ..base import BaseHandler, requires
from ..announcement_views import announcement_views

SLUG_PATH = r"teach/courses/([a-z0-9][a-z0-9-]{0,99})"
AMOUNT = re.compile(r"\d{1,7}(?:[.,]\d{1,2})?")
WHOLE = re.compile(r"\d{1,9}")
MAX_FIELD = 5000  # characters of one typed form field kept for re-rendering


# --------------------------------------------------------------------------- coupon forms
def typed_form(handler, names: tuple[str, ...]) -> dict[str, str]:
    """What the form sent, as text (cut to a sane length) for parsing and for re-rendering."""
    return {name: handler.get_body_argument(name, "")[:MAX_FIELD] for name in names}


COUPON_FIELDS = ("code", "discount_type", "discount", "max_uses", "expires", "course", "currency")


def coupon_terms(typed: dict[str, str], *, today: date | None = None) -> dict:
    """The coupon form's fields as ``coupons.create_*`` arguments; ``InvalidInput`` with a
    sentence a person understands for anything else."""
    code = typed.get("code", "").strip()
    if not code:
        raise InvalidInput("Enter a code, e.g. SPRING25")
    if not re.fullmatch(r"[A-Za-z0-9_-]{2,64}", code):
        raise InvalidInput("A code is 2 to 64 letters, digits, '-' or '_' (no spaces)")
    kind = typed.get("discount_type", "")
    raw = typed.get("discount", "").strip().removesuffix("%").strip()
    if kind not in ("percent", "amount"):
        raise InvalidInput("Choose a percentage or an amount off")
    if not raw:
        raise InvalidInput("Enter the discount")
    terms: dict = {"code": code, "percent_off": None, "amount_off_cents": None}
    if kind == "percent":
        if not WHOLE.fullmatch(raw) or not 1 <= int(raw) <= 100:
            raise InvalidInput(f"A percentage off is a whole number from 1 to 100, not {raw[:20]!r}")
        terms["percent_off"] = int(raw)
    else:
        if raw.startswith("-"):
            raise InvalidInput("The amount off cannot be negative")
        if not AMOUNT.fullmatch(raw):
            raise InvalidInput(f"The amount off is an amount like 5 or 4.99, not {raw[:20]!r}")
        units, _, fraction = raw.replace(",", ".").partition(".")
        cents = int(units) * 100 + int((fraction + "00")[:2])
        if cents <= 0:
            raise InvalidInput("The amount off must be more than zero")
        terms["amount_off_cents"] = cents
    uses = typed.get("max_uses", "").strip()
    if uses:
        if not WHOLE.fullmatch(uses) or int(uses) < 1:
            raise InvalidInput(f"Uses is a whole number of at least 1 (or empty for no limit), not {uses[:20]!r}")
        if int(uses) > coupons.MAX_USES_LIMIT:
            raise InvalidInput(f"Uses is at most {coupons.MAX_USES_LIMIT:,}")
        terms["max_uses"] = int(uses)
    else:
        terms["max_uses"] = None
    expires = typed.get("expires", "").strip()
    if expires:
        try:
            last_day = date.fromisoformat(expires) if len(expires) == 10 else None
        except ValueError:
            last_day = None
        if last_day is None:
            raise InvalidInput(f"The last day is a date like 2026-12-31, not {expires[:20]!r}")
        if last_day < (today or utcnow().date()):
            raise InvalidInput("The last day is already past")
        # valid through that whole day (UTC)
        terms["expires_at"] = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=timezone.utc)
    else:
        terms["expires_at"] = None
    return terms


def coupon_rows(db, items) -> list[dict]:
    paid = coupons.paid_uses(db, [c.id for c in items])
    now = utcnow()
    rows = []
    for c in items:
        expires = c.expires_at if c.expires_at is None or c.expires_at.tzinfo else c.expires_at.replace(tzinfo=timezone.utc)
        if not c.active:
            status = "Stopped"
        elif expires is not None and expires <= now:
            status = "Expired"
        elif c.max_uses is not None and c.times_redeemed >= c.max_uses:
            status = "Used up"
        else:
            status = "Active"
        rows.append({"coupon": c, "paid": paid.get(c.id, 0), "status": status,
                     "last_day": (expires - timedelta(seconds=1)).strftime("%Y-%m-%d") if expires else None})
    return rows


# --------------------------------------------------------------------------- the studio pages
class StudioPage(BaseHandler):
    def course(self, slug: str) -> Course:
        return announcements.course_to_teach(self.db, self.require_user(), slug)


class CourseCouponsPage(StudioPage):
    def _render(self, course: Course, error: LMSError | None = None, typed: dict | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        self.render_page("teach/coupons.html", course=course, studio_section="coupons",
                         rows=coupon_rows(self.db, coupons.for_course(self.db, course.id)), error=error,
                         typed=typed or {"discount_type": "percent"})

    @web.authenticated
    @requires(permissions.TEACH, "only instructors make coupons")
    def get(self, slug: str):
        self._render(self.course(slug))

    @web.authenticated
    @requires(permissions.TEACH, "only instructors make coupons")
    def post(self, slug: str):
        course = self.course(slug)
        typed = typed_form(self, COUPON_FIELDS)
        try:
            coupon = coupons.create_for_course(self.db, self.require_user(), course, **coupon_terms(typed))
        except (InvalidInput, Conflict) as exc:
            self.db.rollback()
            self._render(self.course(slug), exc, typed)
            return
        self.db.commit()
        self.add_notice(f"Coupon {coupon.code} created: it works for {course.title} only.")
        self.redirect(f"{self.config.service_prefix}teach/courses/{course.slug}/coupons", status=303)


class CourseCouponStop(StudioPage):
    @web.authenticated
    @requires(permissions.TEACH, "only instructors stop coupons")
    def post(self, slug: str, coupon_id: str):
        course = self.course(slug)
        try:
            coupon = coupons.deactivate(self.db, self.require_user(), int(coupon_id), course=course)
        except Conflict as exc:
            self.db.rollback()
            self.add_notice(exc.message)
        else:
            self.db.commit()
            self.add_notice(f"Coupon {coupon.code} stopped: it cannot be used any more.")
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/coupons", status=303)


class CourseAnnouncementsPage(StudioPage):
    def _render(self, course: Course, error: LMSError | None = None, typed: dict | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        self.render_page("teach/announcements.html", course=course, studio_section="announcements",
                         items=announcement_views(self.db, course.id), error=error, typed=typed or {},
                         progress=announcements.progress_of_course(self.db, course.id),
                         limits={"title": announcements.MAX_TITLE, "body": announcements.MAX_BODY})

    @web.authenticated
    @requires(permissions.TEACH, "only instructors post announcements")
    def get(self, slug: str):
        self._render(self.course(slug))

    @web.authenticated
    @requires(permissions.TEACH, "only instructors post announcements")
    def post(self, slug: str):
        course = self.course(slug)
        typed = {"title": self.get_body_argument("title", "")[:MAX_FIELD],
                 "body": self.get_body_argument("body", "")[:announcements.MAX_BODY + 1000]}
        try:
            item = announcements.post(self.db, self.require_user(), course, self.get_body_argument("title", ""),
                                      self.get_body_argument("body", ""))
        except InvalidInput as exc:
            self.db.rollback()
            self._render(self.course(slug), exc, typed)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()  # the course page shows it at once
        self.add_notice(f"Announcement \u201c{item.title}\u201d posted.")
        self.redirect(f"{self.config.service_prefix}teach/courses/{course.slug}/announcements", status=303)


class CourseAnnouncementDelete(StudioPage):
    @web.authenticated
    @requires(permissions.TEACH, "only instructors remove announcements")
    def post(self, slug: str, announcement_id: str):
        course = self.course(slug)
        announcements.delete(self.db, self.require_user(), course, int(announcement_id))
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.add_notice("Announcement removed.")
        self.redirect(f"{self.config.service_prefix}teach/courses/{course.slug}/announcements", status=303)


class CourseAnnouncementsList(BaseHandler):
    """Every announcement of a course, newest first (the course page shows the latest three; a
    notice links here, to its own announcement). Whoever may see the course page may read them."""

    def get(self, slug: str):
        course = catalog.get_course(self.db, slug, viewer=self.lms_user)
        self.render_page("course_announcements.html", course=course, items=announcement_views(self.db, course.id))


default_handlers = [
    (r"courses/([a-z0-9][a-z0-9-]{0,99})/announcements", CourseAnnouncementsList),
    (SLUG_PATH + r"/coupons", CourseCouponsPage),
    (SLUG_PATH + r"/coupons/([0-9]{1,9})/stop", CourseCouponStop),
    (SLUG_PATH + r"/announcements", CourseAnnouncementsPage),
    (SLUG_PATH + r"/announcements/([0-9]{1,9})/delete", CourseAnnouncementDelete),
]
