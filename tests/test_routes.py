"""Route patterns: a numeric id in a URL is bounded, so that an id too large for the database's
INTEGER (PostgreSQL refuses it with an error, which was a 500) is a plain 404 at the router."""
from __future__ import annotations

import re

from lms_extension.web import app

UNBOUNDED_NUMBER = re.compile(r"\[0-9\]\+|\\d\+|\[0-9\]\*|\\d\*")


def test_numeric_path_parameters_are_bounded():
    loose = [(module.__name__, pattern) for module in app.HANDLER_MODULES
             for pattern, *_ in getattr(module, "default_handlers", [])
             if UNBOUNDED_NUMBER.search(pattern)]
    assert not loose, f"use [0-9]{{1,9}} for ids: {loose}"


def test_a_huge_id_does_not_match():
    from lms_extension.web.api import submissions
    patterns = [re.compile(p + "$") for p, *_ in submissions.default_handlers]
    assert any(p.match("api/v1/submissions/123456789") for p in patterns)
    assert not any(p.match("api/v1/submissions/99999999999999999999") for p in patterns)
