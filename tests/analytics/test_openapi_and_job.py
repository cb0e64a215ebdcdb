"""The analytics routes are in the OpenAPI document; the worker's job computes the reports."""
from __future__ import annotations

import re
from types import SimpleNamespace

from openapi_spec_validator import validate
from sqlalchemy import func, select

from lms_extension import jobs
from lms_extension.db import session_factory
from lms_extension.models.analytics import AnalyticsReport
from lms_extension.web.api import analytics as analytics_api, openapi
from lms_extension.web.app import HANDLER_MODULES


def test_analytics_routes_are_documented():
    doc = openapi.document("/services/lms/", HANDLER_MODULES)
    validate(doc)
    documented = {re.sub(r"\{[^}]+\}", "{}", "/api/v1" + path) for path in doc["paths"]}
    for pattern, _ in analytics_api.default_handlers:
        assert "/" + pattern.replace("([^/]+)", "{}") in documented, pattern
    params = {p["name"] for p in doc["paths"]["/teach/courses/{slug}/analytics"]["get"]["parameters"]}
    assert params == {"slug", "report", "format"}


def test_the_worker_runs_the_analytics_job(engine):
    config = SimpleNamespace(trending_refresh_seconds=0, judge0_expiry_seconds=0, analytics_refresh_seconds=60, wishlist_delivery_seconds=0, deadline_reminder_seconds=0, digest_seconds=0,
                             stripe_secret_key="", stripe_api_base="", reconcile_interval_seconds=0,
                             checkout_expiry_seconds=0)
    job = next(j for j in jobs.configured_jobs(config) if j.name == "analytics_refresh")
    assert job.interval == 60
    factory = session_factory(engine)
    assert jobs.run_due(factory, [job], "analytics-test") == ["analytics_refresh"]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(AnalyticsReport)
                        .where(AnalyticsReport.scope == "platform")) == 7
    assert jobs.run_due(factory, [job], "analytics-test") == []  # once per interval
    off = SimpleNamespace(**{**vars(config), "analytics_refresh_seconds": 0})
    assert "analytics_refresh" not in [j.name for j in jobs.configured_jobs(off)]
