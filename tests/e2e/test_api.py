"""The JSON API through the real proxy, hub and service, on SQLite and PostgreSQL."""
import pytest
import requests
from openapi_spec_validator import validate

from lms_extension.web import app as web_app

FREE, PAID = "python-for-beginners", "data-analysis-with-pandas"


@pytest.fixture(scope="module")
def alice(platform):
    return platform.as_user(platform.token("alice"))


def test_catalog_is_public(platform):
    r = requests.get(platform.lms + "api/v1/courses")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 3
    course = next(c for c in body["courses"] if c["slug"] == FREE)
    assert {"slug", "title", "price_cents", "currency", "category", "level"} <= set(course)
    assert course["price_cents"] == 0


def test_catalog_filters(platform):
    r = requests.get(platform.lms + "api/v1/courses", params={"free": "false", "sort": "price_asc"})
    prices = [c["price_cents"] for c in r.json()["courses"]]
    assert prices and all(p > 0 for p in prices) and prices == sorted(prices)
    r = requests.get(platform.lms + "api/v1/courses", params={"q": "pandas"})
    assert [c["slug"] for c in r.json()["courses"]][0] == PAID  # other courses use pandas too


def test_course_detail_lists_lessons(platform):
    body = requests.get(platform.lms + f"api/v1/courses/{FREE}").json()
    assert len(body["lessons"]) >= 6
    assert {"id", "title", "free_preview"} == set(body["lessons"][0])


def test_enroll_free_then_again(platform, alice):
    r = alice.post(platform.lms + f"api/v1/courses/{FREE}/enroll")
    assert r.status_code == 201, r.text
    assert alice.post(platform.lms + f"api/v1/courses/{FREE}/enroll").status_code == 200
    mine = alice.get(platform.lms + "api/v1/me/enrollments").json()["enrollments"]
    assert [e["course"]["slug"] for e in mine] == [FREE]


def test_paid_course_is_402(platform, alice):
    r = alice.post(platform.lms + f"api/v1/courses/{PAID}/enroll")
    assert r.status_code == 402
    assert r.json()["error"] == "payment_required" and "buy" in r.json()["message"]


def test_lesson_notebook_access(platform, alice):
    lessons = requests.get(platform.lms + f"api/v1/courses/{PAID}").json()["lessons"]
    preview = next(ls for ls in lessons if ls["free_preview"])
    locked = next(ls for ls in lessons if not ls["free_preview"])
    ok = alice.get(platform.lms + f"api/v1/courses/{PAID}/lessons/{preview['id']}/notebook")
    assert ok.status_code == 200 and "BEGIN SOLUTION" not in ok.json()["notebook"]
    assert "BEGIN HIDDEN TESTS" not in ok.json()["notebook"]
    denied = alice.get(platform.lms + f"api/v1/courses/{PAID}/lessons/{locked['id']}/notebook")
    assert denied.status_code == 403 and "enroll" in denied.json()["message"]


@pytest.mark.parametrize("path", [
    "api/v1/courses/no-such-course", "api/v1/courses/no-such-course/lessons/x/notebook",
    "api/v1/nothing-here", "courses/no-such-course",
])
def test_unknown_is_404(platform, alice, path):
    r = alice.get(platform.lms + path)
    assert r.status_code == 404


def test_unknown_lesson_is_404(platform, alice):
    r = alice.get(platform.lms + f"api/v1/courses/{FREE}/lessons/nope/notebook")
    assert r.status_code == 404 and "nope" in r.json()["message"]


def test_enroll_unknown_course_is_404(platform, alice):
    assert alice.post(platform.lms + "api/v1/courses/nope/enroll").status_code == 404


def test_needs_login(platform):
    r = requests.get(platform.lms + "api/v1/me/enrollments")
    assert r.status_code == 401 and r.json()["message"]
    r = requests.post(platform.lms + f"api/v1/courses/{FREE}/enroll")
    assert r.status_code == 401
    bad = requests.get(platform.lms + "api/v1/me/enrollments", headers={"Authorization": "token not-a-token"})
    assert bad.status_code == 401


def test_malformed_json_is_400(platform, alice):
    r = alice.post(platform.lms + f"api/v1/courses/{FREE}/enroll", data=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]


def test_oversized_body_is_413(platform, alice):
    r = alice.post(platform.lms + f"api/v1/courses/{FREE}/enroll", data=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413 and "limit" in r.json()["message"]


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"limit": "0"}, {"sort": "random"},
                                    {"level": "guru"}, {"free": "maybe"}, {"offset": "-3"}])
def test_bad_query_is_400(platform, params):
    r = requests.get(platform.lms + "api/v1/courses", params=params)
    assert r.status_code == 400 and r.json()["message"]


def test_openapi_matches_routes(platform):
    doc = requests.get(platform.lms + "api/v1/openapi.json").json()
    validate(doc)
    documented = {"/api/v1" + path for path in doc["paths"]}
    routed = set()
    for module in web_app.HANDLER_MODULES:
        for pattern, _handler in module.default_handlers:
            if pattern.startswith("api/v1/") and pattern != "api/v1/openapi.json":
                routed.add("/" + __import__("re").sub(r"\([^()]*\)", "{}", pattern).replace("\\.", "."))  # each group a parameter
    normalized = {__import__("re").sub(r"\{[^}]+\}", "{}", p) for p in documented}
    assert normalized == routed
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code in op["responses"]:
                assert code.isdigit(), (path, method, code)
