"""The admin console's commerce pages: courses, featured, coupons, bundles, revenue shares, revenue reports.

Each page lists and offers its forms; every change goes through the owning service, which
audits it. A refused creation form comes back with what was typed and the message (400, or
409 for a code or slug that exists); a refused action on a row comes back as a notice.
"""
from __future__ import annotations

import re

from tornado import web

from ... import permissions
from ...errors import Conflict, InvalidInput, LMSError, NotFound
from ...services import announcements, course_authoring, revenue_reports, trending
from ...services.payments import bundles, coupons, ledger, payouts
from ..base import BaseHandler, CommerceMixin, requires
from .announcements import COUPON_FIELDS, coupon_rows, coupon_terms, typed_form

ADMIN_ONLY = "the admin console needs the LMS admin role"
SLUG = r"([a-z0-9][a-z0-9-]{0,99})"
AMOUNT = re.compile(r"\d{1,7}(?:[.,]\d{1,2})?")
CURRENCIES = ("usd", "eur", "gbp")


class AdminPage(CommerceMixin, BaseHandler):
    def back(self, path: str, note: str) -> None:
        self.add_notice(note)
        self.redirect(f"{self.config.service_prefix}{path}", status=303)

    def submit(self, work, refused, path: str, note) -> None:
        """A creation form's change through its owning service: refused (400, or 409 for a code
        or slug that exists), ``refused(exc)`` shows the form again with what was typed and the
        message; done, it is committed and the page says ``note(result)``."""
        try:
            result = work()
        except (InvalidInput, Conflict, NotFound) as exc:
            self.db.rollback()
            refused(exc)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()  # the catalog shows the change at once
        self.back(path, note(result))

    def act(self, path: str, action, done: str) -> None:
        """Run one row action; a conflict (already done, not possible) comes back as a notice."""
        try:
            result = action()
        except (Conflict, InvalidInput) as exc:
            self.db.rollback()
            self.back(path, exc.message)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()  # the catalog shows the change at once
        self.back(path, done.format(result=result))


# --------------------------------------------------------------------------- courses
class AdminCoursesPage(AdminPage):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        q = self.get_query_argument("q", "")[:100]
        self.render_page("admin/courses.html", admin_section="courses", q=q,
                         rows=trending.console_courses(self.db, q))


class AdminCourseAction(AdminPage):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self, slug: str, action: str):
        user = self.require_user()
        course = announcements.course_to_teach(self.db, user, slug)
        title = course.title
        if action == "unpublish":
            if not course.published:
                self.back("admin/courses", f"{title} is not published.")
                return
            self.act("admin/courses", lambda: course_authoring.unpublish(self.db, user, slug),
                     f"{title} unpublished: it left the catalog; enrolled students keep their access.")
        elif action == "feature":
            self.act("admin/courses", lambda: trending.feature(self.db, user, slug), f"{title} is featured.")
        else:
            self.act("admin/courses", lambda: trending.unfeature(self.db, user, slug), f"{title} is no longer featured.")


# --------------------------------------------------------------------------- featured
class AdminFeaturedPage(AdminPage):
    def _render(self, error: LMSError | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        featured = trending.featured_courses(self.db)
        taken = {c.id for c in featured}
        choices = [row.course for row in trending.console_courses(self.db) if row.course.published and row.course.id not in taken]
        self.render_page("admin/featured.html", admin_section="featured", featured=featured, choices=choices,
                         error=error, limit=trending.MAX_FEATURED)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self._render()

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        slug = self.get_body_argument("course", "").strip()
        try:
            if not slug:
                raise InvalidInput("Choose a course to feature")
            trending.feature(self.db, self.require_user(), slug)
        except (InvalidInput, Conflict, NotFound) as exc:
            self.db.rollback()
            self._render(exc)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.back("admin/featured", "Featured.")


class AdminFeaturedAction(AdminPage):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self, slug: str, action: str):
        user = self.require_user()
        if action == "remove":
            self.act("admin/featured", lambda: trending.unfeature(self.db, user, slug), "Taken off the featured list.")
        else:
            step = -1 if action == "up" else 1
            self.act("admin/featured", lambda: trending.move_featured(self.db, user, slug, step), "Moved.")


# --------------------------------------------------------------------------- coupons
class AdminCouponsPage(AdminPage):
    def _render(self, error: LMSError | None = None, typed: dict | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        items = coupons.listing(self.db)
        titles = coupons.course_titles(self.db, items)
        self.render_page("admin/coupons.html", admin_section="coupons", rows=coupon_rows(self.db, items),
                         titles=titles, courses=[r.course for r in trending.console_courses(self.db)],
                         error=error, typed=typed or {"discount_type": "percent", "currency": "usd"})

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self._render()

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        typed = typed_form(self, COUPON_FIELDS)

        def create():
            terms = coupon_terms(typed)
            course = None
            if typed["course"]:
                try:
                    course = announcements.course_to_teach(self.db, self.require_user(), typed["course"])
                except NotFound:
                    raise InvalidInput("Choose a course from the list, or any purchase") from None
            _check_currency(typed["currency"] or "usd")
            return coupons.create_by_admin(self.db, self.require_user(), course=course,
                                           currency=typed["currency"] or "usd", **terms)

        self.submit(create, lambda exc: self._render(exc, typed), "admin/coupons",
                    lambda coupon: f"Coupon {coupon.code} created.")


class AdminCouponStop(AdminPage):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self, coupon_id: str):
        user = self.require_user()
        self.act("admin/coupons", lambda: coupons.deactivate(self.db, user, int(coupon_id)),
                 "Coupon {result.code} stopped.")


def _check_currency(currency: str) -> None:
    if currency not in CURRENCIES:
        raise InvalidInput(f"Choose the currency from the list ({', '.join(c.upper() for c in CURRENCIES)})")


# --------------------------------------------------------------------------- bundles
BUNDLE_FIELDS = ("slug", "title", "price", "currency")


def bundle_price(raw: str) -> int:
    raw = raw.strip()
    if not raw:
        raise InvalidInput("Enter the bundle's price")
    if raw.startswith("-"):
        raise InvalidInput("The price cannot be negative")
    if not AMOUNT.fullmatch(raw):
        raise InvalidInput(f"The price is an amount like 99 or 79.90, not {raw[:20]!r}")
    units, _, fraction = raw.replace(",", ".").partition(".")
    cents = int(units) * 100 + int((fraction + "00")[:2])
    if cents <= 0:
        raise InvalidInput("A bundle costs more than nothing: make the courses free instead")
    return cents


class AdminBundlesPage(AdminPage):
    def _render(self, error: LMSError | None = None, typed: dict | None = None, chosen: list[str] | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        items = bundles.listing(self.db)
        self.render_page("admin/bundles.html", admin_section="bundles", items=items,
                         sold=bundles.sales(self.db, [b.id for b in items]),
                         courses=[r.course for r in trending.console_courses(self.db) if r.course.published and not r.course.is_free],
                         error=error, typed=typed or {"currency": "usd"}, chosen=set(chosen or ()), currencies=CURRENCIES)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self._render()

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        typed = typed_form(self, BUNDLE_FIELDS)
        chosen = [s[:100] for s in self.get_body_arguments("courses")][:200]

        def create():
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,99}", typed["slug"].strip()):
                raise InvalidInput("The address name is lowercase letters, digits and '-' (e.g. data-science-pack)")
            if not typed["title"].strip():
                raise InvalidInput("Enter the bundle's title")
            if len(typed["title"].strip()) > 200:
                raise InvalidInput("The title is limited to 200 characters")
            _check_currency(typed["currency"])
            if len(set(chosen)) < 2:
                raise InvalidInput("Choose at least two courses")
            return bundles.create_bundle(self.db, self.require_user(), slug=typed["slug"].strip(),
                                         title=typed["title"].strip(), price_cents=bundle_price(typed["price"]),
                                         currency=typed["currency"], course_slugs=chosen)

        self.submit(create, lambda exc: self._render(exc, typed, chosen), "admin/bundles",
                    lambda bundle: f"Bundle {bundle.title} is on sale.")


class AdminBundleAction(AdminPage):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self, bundle_id: str, action: str):
        user = self.require_user()
        active = action == "resume"
        self.act("admin/bundles", lambda: bundles.set_active(self.db, user, int(bundle_id), active),
                 "Bundle {result.title} " + ("is on sale again." if active else "is off sale."))


# --------------------------------------------------------------------------- revenue shares
class AdminRevenueSharesPage(AdminPage):
    def _render(self, error: LMSError | None = None, error_for: int | None = None, typed: str = "") -> None:
        if error is not None:
            self.set_status(error.status)
        # the default: what an instructor without a share of their own gets (no such instructor: -1)
        default = ledger.share_bp(self.db, -1, self.policy.platform_share_percent) / 100
        self.render_page("admin/revenue_shares.html", admin_section="revenue-shares", default=default,
                         rows=[{"id": i, "name": name, "account": account, "share": None if bp is None else bp / 100}
                               for i, name, account, bp in payouts.instructors_with_shares(self.db)],
                         error=error, error_for=error_for, typed=typed)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self._render()

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        raw_id = self.get_body_argument("instructor", "")
        if not re.fullmatch(r"[0-9]{1,9}", raw_id):
            raise InvalidInput("Choose an instructor from the list")
        instructor_id = int(raw_id)
        user = self.require_user()
        raw = self.get_body_argument("share", "").strip().removesuffix("%").strip()[:20]

        def change() -> str:
            if self.get_body_argument("reset", ""):
                payouts.reset_share(self.db, user, instructor_id)
                return "Back to the default share."
            if not re.fullmatch(r"[0-9]{1,3}", raw) or not 0 <= int(raw) <= 100:
                raise InvalidInput(f"A share is a whole percentage from 0 to 100, not {raw!r}" if raw
                                   else "Enter the instructor's share, 0 to 100")
            payouts.set_share(self.db, user, instructor_id, int(raw))
            return f"Share set to {int(raw)}% of net sales from now on."

        self.submit(change, lambda exc: self._render(exc, instructor_id, raw), "admin/revenue-shares",
                    lambda note: note)


# --------------------------------------------------------------------------- revenue reports
class AdminRevenuePage(AdminPage):
    def report(self) -> revenue_reports.Report:
        period, first, last = revenue_reports.parse_window(
            self.get_query_argument("period", "day")[:10], self.get_query_argument("from", "")[:40],
            self.get_query_argument("to", "")[:40])
        return revenue_reports.build(self.db, period, first, last)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        typed = {k: self.get_query_argument(k, "")[:40] for k in ("period", "from", "to")}
        try:
            report, error = self.report(), None
        except InvalidInput as exc:
            report, error = None, exc
            self.set_status(exc.status)
        query = "&".join(f"{k}={v}" for k, v in (("period", report.period), ("from", report.start.isoformat()),
                                                  ("to", report.end.isoformat()))) if report else ""
        self.render_page("admin/revenue.html", admin_section="revenue", report=report, error=error, typed=typed,
                         query=query, columns=revenue_reports.COLUMNS, headings=revenue_reports.HEADINGS)


class AdminRevenueExport(AdminRevenuePage):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self, kind: str):
        report = self.report()
        name = f"revenue-{report.period}-{report.start.isoformat()}-{report.end.isoformat()}.{kind}"
        if kind == "csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            body: bytes | str = revenue_reports.to_csv(report)
        else:
            self.set_header("Content-Type", "application/pdf")
            body = revenue_reports.to_pdf(report)
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


default_handlers = [
    (r"admin/courses", AdminCoursesPage),
    (r"admin/courses/" + SLUG + r"/(unpublish|feature|unfeature)", AdminCourseAction),
    (r"admin/featured", AdminFeaturedPage),
    (r"admin/featured/" + SLUG + r"/(up|down|remove)", AdminFeaturedAction),
    (r"admin/coupons", AdminCouponsPage),
    (r"admin/coupons/([0-9]{1,9})/stop", AdminCouponStop),
    (r"admin/bundles", AdminBundlesPage),
    (r"admin/bundles/([0-9]{1,9})/(stop|resume)", AdminBundleAction),
    (r"admin/revenue-shares", AdminRevenueSharesPage),
    (r"admin/revenue", AdminRevenuePage),
    (r"admin/revenue\.(csv|pdf)", AdminRevenueExport),
]
