"""Pages: course analytics for instructors, growth for admins, and the storefront's visit
recording (``records_visit``, on the catalog and course pages)."""
from __future__ import annotations

import functools

from tornado import web
from tornado.ioloop import IOLoop

from ... import permissions
from ...errors import InvalidInput
from ...models.analytics import CATALOG_VISIT, COURSE_VISIT
from ...services import analytics
from ..base import BaseHandler, requires

SOURCE_COOKIE = "lms-src"
SOURCE_MAX_AGE = 30 * 24 * 3600


# -- recording visits --------------------------------------------------------------------------
def _raw_cookie(handler, name: str, value: str, max_age: int) -> None:
    """A cookie set as a plain header: ``set_cookie`` marks the response as one that set a
    cookie, and the page cache keeps no such page; this cookie changes nothing in the HTML."""
    secure = "; Secure" if handler.request.protocol == "https" else ""
    handler.add_header("Set-Cookie", f"{name}={value}; Path={handler.config.service_prefix}; Max-Age={max_age}; "
                                     f"HttpOnly; SameSite=Lax{secure}")


def _visitor(handler) -> str:
    """No cookie for counting: a visitor's page stays one that shared caches may keep."""
    secret = handler.settings["cookie_secret"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return analytics.visitor_id(secret, analytics.utcnow().date(), handler.client_address,
                                handler.request.headers.get("User-Agent", ""))


def _own_hosts(handler) -> list[str]:
    from urllib.parse import urlsplit

    return [handler.request.host_name, urlsplit(handler.config.public_url).hostname or ""]


def _signup_source(handler) -> None:
    """First visit with UTM parameters or another site's referrer: remember it in a cookie.
    A logged-in user with that cookie: attach it to their new account, then forget it."""
    raw = handler.get_cookie(SOURCE_COOKIE)
    hub_user = handler.current_user
    if raw is not None and hub_user is not None:
        fields = analytics.parse_source(raw)
        user = handler.lms_user
        if fields is not None and user is not None and analytics.attach_signup_source(handler.db, user, fields):
            handler.db.commit()
        handler.clear_cookie(SOURCE_COOKIE, path=handler.config.service_prefix)
        return
    if raw is not None:
        return
    query = {k: handler.get_query_argument(k, "") for k in ("utm_source", "utm_medium", "utm_campaign")}
    value = analytics.source_of_visit(query, handler.request.headers.get("Referer", ""), _own_hosts(handler),
                                      handler.request.path)
    if value is not None:
        _raw_cookie(handler, SOURCE_COOKIE, value, SOURCE_MAX_AGE)


def records_visit(kind: str):
    """Decorates a storefront page's ``get`` (outside ``cached_for_visitors``): the visit is
    counted even when the page comes from the cache, at the cost of appending to a list."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            recorder = self.settings["analytics_recorder"]
            visitor = _visitor(self)
            _signup_source(self)
            result = method(self, *args, **kwargs)
            hub_user = self.current_user
            slug = args[0] if kind == COURSE_VISIT and args else None
            if recorder.record(kind, slug, hub_user.get("name") if hub_user else None, visitor):
                # written in a thread after the response: the visitor never waits for it
                IOLoop.current().run_in_executor(None, recorder.flush, self.settings["session_factory"])
            return result

        if not hasattr(method, "__wrapped__"):  # a page visitors may see stays one (base._visitors_may_see)
            del wrapper.__wrapped__
        wrapper.without_recording = method  # the page as it was (benchmarks/bench_events.py compares)
        return wrapper

    return decorate


record_catalog_visit = records_visit(CATALOG_VISIT)
record_course_visit = records_visit(COURSE_VISIT)


# -- the pages ---------------------------------------------------------------------------------
def _report_arg(handler, specs: dict) -> str:
    return analytics.check_report_name(handler.get_query_argument("report", ""), specs)


def _send_csv(handler, report: analytics.Report, filename: str) -> None:
    handler.set_header("Content-Type", "text/csv; charset=utf-8")
    handler.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    handler.finish(analytics.to_csv(report))


def course_charts(reports: dict[str, analytics.Report]) -> dict:
    bar = analytics.bar_chart
    B = analytics.Bar
    return {
        "funnel": bar([B(r["step"], r["people"]) for r in reports["funnel"].rows]),
        "dropoff": bar([B(f'{r["position"]}. {r["lesson"]}', r["drop_off_percent"]) for r in reports["lessons"].rows],
                       unit=" %"),
        "time": bar([B(f'{r["position"]}. {r["lesson"]}', r["median_minutes"]) for r in reports["lessons"].rows],
                    unit=" min"),
        "exercises": bar([B(f'{r["cell"]}', r["pass_rate_percent"]) for r in reports["exercises"].rows], unit=" %"),
        "quizzes": bar([B(r["question"], r["difficulty"]) for r in reports["quizzes"].rows]),
        "challenges": bar([B(r["language"], r["pass_rate_percent"]) for r in reports["challenges"].rows], unit=" %"),
    }


class CourseAnalyticsPage(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, "Only instructors can see course analytics.")
    def get(self, slug: str):
        course, reports = analytics.course_reports(self.db, self.lms_user, slug)
        self.render_page("teach/analytics.html", course=course, studio_section="analytics", reports=reports,
                         charts=course_charts(reports),
                         computed_at=reports["funnel"].computed_at,
                         refresh_minutes=round(self.config.analytics_refresh_seconds / 60))


class CourseAnalyticsCSV(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, "Only instructors can download course analytics.")
    def get(self, slug: str):
        name = _report_arg(self, analytics.COURSE_REPORTS)
        course, reports = analytics.course_reports(self.db, self.lms_user, slug)
        _send_csv(self, reports[name], f"{course.slug}-{name}.csv")


ACTIVE_PERIODS = {"daily": "active_daily", "weekly": "active_weekly", "monthly": "active_monthly"}


class GrowthPage(BaseHandler):
    @web.authenticated
    @requires(permissions.ADMIN, "Only admins can see the growth figures.")
    def get(self):
        period = self.get_query_argument("active", "daily")
        if period not in ACTIVE_PERIODS:
            raise InvalidInput("active must be daily, weekly or monthly")
        reports = analytics.platform_reports(self.db, self.lms_user)
        active = reports[ACTIVE_PERIODS[period]]
        B = analytics.Bar
        charts = {
            "signups": analytics.bar_chart([B(r["source"], r["signups"]) for r in _by_source(reports["signups"].rows)]),
            "active": analytics.line_chart([(r["period"], r["learners"]) for r in active.rows]),
            "conversion": analytics.bar_chart([B(r["week"], r["conversion_percent"]) for r in reports["conversion"].rows],
                                              unit=" %"),
        }
        self.render_page("admin/growth.html", admin_section="growth", reports=reports, charts=charts,
                         period=period, active=active, computed_at=reports["signups"].computed_at,
                         refresh_minutes=round(self.config.analytics_refresh_seconds / 60))


def _by_source(rows: list[dict]) -> list[dict]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["source"]] = totals.get(row["source"], 0) + row["signups"]
    return [{"source": s, "signups": n} for s, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


class GrowthCSV(BaseHandler):
    @web.authenticated
    @requires(permissions.ADMIN, "Only admins can download the growth figures.")
    def get(self):
        name = _report_arg(self, analytics.PLATFORM_REPORTS)
        reports = analytics.platform_reports(self.db, self.lms_user)
        _send_csv(self, reports[name], f"growth-{name}.csv")


default_handlers = [
    (r"teach/courses/([^/]+)/analytics", CourseAnalyticsPage),
    (r"teach/courses/([^/]+)/analytics\.csv", CourseAnalyticsCSV),
    (r"admin/growth", GrowthPage),
    (r"admin/growth\.csv", GrowthCSV),
]
