"""The catalog's price filter in currency units and its language filter, through the real Tornado
app on SQLite and PostgreSQL (visitors)."""
from __future__ import annotations

import re

import pytest
import requests

from lms_extension.db import session_factory
from lms_extension.services import catalog

from .conftest import CORPUS, import_row, load_corpus
from .test_web import served  # noqa: F401  (the fixture)

PRICES = {row[0]: row[7] for row in CORPUS}


def slugs(html: str) -> list[str]:
    return sorted(re.findall(r'<a class="card" href="[^"]*" data-slug="([^"]+)"', html))


def expected(low: int | None = None, high: int | None = None) -> list[str]:
    return sorted(s for s, p in PRICES.items() if (low is None or p >= low) and (high is None or p <= high))


@pytest.fixture
def shop(served, tmp_path):  # noqa: F811
    base, engine, _, _ = served
    with session_factory(engine)() as session:
        load_corpus(session, tmp_path)
        # an unpublished course in German: its language is no option
        draft = import_row(session, tmp_path / "draft", ("entwurf", "Entwurf", "x", "y", "Programming", "beginner",
                                                          "de", 900, "guido", ["Eins"]))
        draft.published = False
        session.commit()
    return base


def test_price_filter_is_in_currency_units(shop):
    for params, low, high in [({"min_price": "19"}, 1900, None), ({"max_price": "29.00"}, None, 2900),
                              ({"min_price": "19.01", "max_price": "49"}, 1901, 4900),
                              ({"min_price": "0", "max_price": "0"}, 0, 0), ({"max_price": "28,99"}, None, 2899)]:
        r = requests.get(shop, params=params, timeout=30)
        assert r.status_code == 200, r.text[:300]
        assert slugs(r.text) == expected(low, high), params
        assert expected(low, high)  # each case keeps some courses
    page = requests.get(shop, params={"min_price": "19.5"}, timeout=30).text
    assert 'name="min_price"' in page and 'value="19.50"' in page and "cents" not in page.lower()
    api = requests.get(shop + "api/v1/courses", params={"min_price": "19.99", "limit": 100}, timeout=30).json()
    assert sorted(c["slug"] for c in api["courses"]) == expected(1999)
    old = requests.get(shop + "api/v1/courses", params={"min_price_cents": 1999, "limit": 100}, timeout=30).json()
    assert sorted(c["slug"] for c in old["courses"]) == expected(1999)  # the API's cents still work


@pytest.mark.parametrize("params, message", [
    ({"min_price": "abc"}, "Minimum price must be an amount like 19.99"),
    ({"max_price": "-5"}, "Maximum price cannot be negative"),
    ({"min_price": "1e5"}, "must be an amount"), ({"min_price": "NaN"}, "must be an amount"),
    ({"min_price": "inf"}, "must be an amount"), ({"min_price": "19.999"}, "must be an amount"),
    ({"min_price": "1,000"}, "must be an amount"), ({"min_price": "9" * 40}, "must be an amount"),
    ({"max_price": "2000000"}, "at most 1,000,000"), ({"min_price": "<script>"}, "must be an amount"),
    ({"min_price": "50", "max_price": "10"}, "Minimum price is above the maximum price"),
])
def test_bad_prices_get_a_clear_message_not_an_error_page(shop, params, message):
    r = requests.get(shop, params={"q": "python", **params}, timeout=30)
    assert r.status_code == 400
    notice = re.search(r'<p class="error" role="alert" id="filter-error">(.*?)</p>', r.text, re.S)
    assert notice and message in notice.group(1).replace("&#39;", "'")
    assert "<script>" not in r.text.split('id="filter-error"')[1].split("</p>")[0]
    assert slugs(r.text)  # the rest of the search still shows
    api = requests.get(shop + "api/v1/courses", params=params, timeout=30)
    assert api.status_code == 400 and message in api.json()["message"]


def test_language_filter_lists_the_languages_courses_have(shop):
    page = requests.get(shop, timeout=30).text
    select = re.search(r'<select name="language".*?</select>', page, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    assert options == [("", "Any language"), ("en", "English"), ("fr", "French")]  # not the draft's German
    r = requests.get(shop, params={"language": "fr"}, timeout=30)
    assert slugs(r.text) == ["python-avance"]
    assert re.search(r'<option value="fr" selected>', r.text)


def test_pager_keeps_the_filters(shop):
    r = requests.get(shop, params={"min_price": "10", "language": "en", "limit": 2}, timeout=30)
    nxt = re.search(r'<a class="btn btn-ghost" href="\?([^"]+)">Next</a>', r.text).group(1).replace("&amp;", "&")
    assert "min_price=10" in nxt and "language=en" in nxt and "limit=2" in nxt and "offset=2" in nxt
    second = requests.get(shop + "?" + nxt, timeout=30)
    assert second.status_code == 200 and set(slugs(second.text)) <= set(expected(1000))


def test_language_names(session):
    assert catalog.language_name("en") == "English" and catalog.language_name("xx") == "XX"
