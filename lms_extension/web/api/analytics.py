"""Analytics as JSON and CSV downloads: ``/api/v1/teach/courses/{slug}/analytics`` for the
course's instructor (or an admin), ``/api/v1/admin/growth`` for admins."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import analytics
from ..base import APIHandler, requires_user
from .spec import SECURITY, SLUG, errors, ref, response


def report_json(report: analytics.Report) -> dict:
    return {"title": report.title, "columns": [{"key": k, "heading": h} for k, h in report.columns],
            "rows": report.rows, "computed_at": report.computed_at.isoformat() if report.computed_at else None}


class ReportsMixin:
    """``?report=<name>`` picks one report (all without it); ``?format=csv`` (with a report) sends CSV."""

    def send_reports(self, reports: dict[str, analytics.Report], specs: dict, filename_prefix: str) -> None:
        name = self.get_query_argument("report", "")
        fmt = self.get_query_argument("format", "json")
        if fmt not in ("json", "csv"):
            raise InvalidInput("format must be json or csv")
        if name:
            analytics.check_report_name(name, specs)
        if fmt == "csv":
            if not name:
                raise InvalidInput("format=csv needs a report (report=<name>)")
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f'attachment; filename="{filename_prefix}-{name}.csv"')
            self.finish(analytics.to_csv(reports[name]))
            return
        chosen = {name: reports[name]} if name else reports
        self.write_json({"reports": {n: report_json(r) for n, r in chosen.items()}})


class CourseAnalyticsAPI(ReportsMixin, APIHandler):
    @requires_user
    def get(self, slug: str):
        course, reports = analytics.course_reports(self.db, self.require_user(), slug)
        self.send_reports(reports, analytics.COURSE_REPORTS, course.slug)


class GrowthAPI(ReportsMixin, APIHandler):
    @requires_user
    def get(self):
        reports = analytics.platform_reports(self.db, self.require_user())
        self.send_reports(reports, analytics.PLATFORM_REPORTS, "growth")


default_handlers = [
    (r"api/v1/teach/courses/([^/]+)/analytics", CourseAnalyticsAPI),
    (r"api/v1/admin/growth", GrowthAPI),
]

# OpenAPI ---------------------------------------------------------------------------------


def _query(name: str, values: list[str], text: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": text,
            "schema": {"type": "string", "enum": values}}


_FORMAT = _query("format", ["json", "csv"], "json (default), or csv with a report")
_REPORTS = {"200": response("The reports as the analytics job last computed them",
                            {"type": "object", "properties": {"reports": {
                                "type": "object", "additionalProperties": ref("AnalyticsReport")}}}),
            **errors(400, 401, 403, 404)}
_REPORTS["200"]["content"]["text/csv"] = {"schema": {"type": "string"}}
OPENAPI_PATHS: dict = {
    "/teach/courses/{slug}/analytics": {"get": {
        "summary": "A course's analytics: funnel, lessons (drop-off, time), exercises, quizzes, challenges",
        "security": SECURITY,
        "parameters": [SLUG, _query("report", list(analytics.COURSE_REPORTS), "one report only"), _FORMAT],
        "responses": _REPORTS}},
    "/admin/growth": {"get": {
        "summary": "Growth: sign-ups by source, active learners, cohort retention, catalog-to-purchase conversion",
        "security": SECURITY,
        "parameters": [_query("report", list(analytics.PLATFORM_REPORTS), "one report only"), _FORMAT],
        "responses": {**_REPORTS, **errors(400, 401, 403)}}},
}
OPENAPI_SCHEMAS: dict = {
    "AnalyticsReport": {"type": "object", "properties": {
        "title": {"type": "string"},
        "columns": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "heading": {"type": "string"}}}},
        "rows": {"type": "array", "items": {"type": "object"}},
        "computed_at": {"type": "string", "format": "date-time", "nullable": True}}},
}
