"""Discovery through the real proxy, hub and service: reviews, votes, moderation, wishlist,
featured, search, previews, with real hub tokens and roles (SQLite and PostgreSQL)."""
import pytest
import requests

FREE, PAID = "python-for-beginners", "data-analysis-with-pandas"


@pytest.fixture(scope="module")
def people(platform):
    return {name: platform.as_user(platform.token(name)) for name in ("rev-ann", "rev-bob", "admin", "instructor")}


def test_review_lifecycle(platform, people):
    ann, bob, admin, teacher = people["rev-ann"], people["rev-bob"], people["admin"], people["instructor"]
    api = platform.lms + "api/v1/"
    assert ann.post(api + f"courses/{FREE}/reviews", json={"rating": 5}).status_code == 403  # not enrolled
    assert ann.post(api + f"courses/{FREE}/enroll").status_code in (200, 201)
    r = ann.post(api + f"courses/{FREE}/reviews", json={"rating": 5})
    assert r.status_code == 403 and "%" in r.json()["message"]  # no lesson opened yet
    lessons = ann.get(api + f"courses/{FREE}").json()["lessons"]
    for lesson in lessons:
        assert ann.get(api + f"courses/{FREE}/lessons/{lesson['id']}/notebook").status_code == 200
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "x"}, {"rating": True}, {}, {"rating": 3, "text": 7}):
        r = ann.post(api + f"courses/{FREE}/reviews", json=bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid_input", bad
    assert ann.post(api + f"courses/{FREE}/reviews", data="{not json").status_code == 400
    r = ann.post(api + f"courses/{FREE}/reviews", json={"rating": 4, "text": "Nice <script>alert(1)</script> **bold**"})
    assert r.status_code == 201, r.text
    review = r.json()
    assert "<script" not in review["html"] and "<strong>bold</strong>" in review["html"]
    assert ann.post(api + f"courses/{FREE}/reviews", json={"rating": 1}).status_code == 409
    assert ann.put(api + f"courses/{FREE}/reviews/mine", json={"rating": 5}).json()["rating"] == 5
    listing = requests.get(api + f"courses/{FREE}/reviews").json()
    assert listing["summary"]["count"] >= 1 and listing["summary"]["distribution"]["5"] >= 1
    # votes, reply, report and moderation with real roles
    rid = review["id"]
    assert ann.post(api + f"reviews/{rid}/helpful").status_code == 403
    assert bob.post(api + f"reviews/{rid}/helpful").json()["helpful"] == 1
    assert bob.post(api + f"reviews/{rid}/reply", json={"text": "me too"}).status_code == 403
    assert teacher.post(api + f"reviews/{rid}/reply", json={"text": "Thanks!"}).json()["reply"]["text"] == "Thanks!"
    assert bob.post(api + f"reviews/{rid}/report", json={"reason": "spam"}).status_code == 201
    assert bob.get(api + "moderation/reports").status_code == 403
    reports = admin.get(api + "moderation/reports").json()["reports"]
    report = next(r for r in reports if r["review"]["id"] == rid)
    assert admin.post(api + f"moderation/reports/{report['id']}", json={"action": "nope"}).status_code == 400
    assert admin.post(api + f"moderation/reports/{report['id']}", json={"action": "dismiss"}).json()["status"] == "dismissed"
    # the course page shows it
    page = requests.get(platform.lms + f"courses/{FREE}")
    assert page.status_code == 200 and "Thanks!" in page.text and 'id="reviews"' in page.text


def test_wishlist_featured_search_preview(platform, people):
    ann, admin = people["rev-ann"], people["admin"]
    api = platform.lms + "api/v1/"
    assert ann.put(api + f"me/wishlist/{PAID}").status_code == 201
    assert ann.put(api + f"me/wishlist/{PAID}").status_code == 200
    assert [c["slug"] for c in ann.get(api + "me/wishlist").json()["courses"]] == [PAID]
    assert ann.put(api + "me/wishlist/ghost").status_code == 404
    assert ann.delete(api + f"me/wishlist/{PAID}").status_code == 200
    assert ann.delete(api + f"me/wishlist/{PAID}").status_code == 404
    assert ann.put(api + "featured", json={"courses": [PAID]}).status_code == 403
    assert admin.put(api + "featured", json={"courses": "x"}).status_code == 400
    assert admin.put(api + "featured", json={"courses": [PAID, FREE]}).status_code == 200
    assert [c["slug"] for c in requests.get(api + "featured").json()["courses"]] == [PAID, FREE]
    assert 'id="featured"' in requests.get(platform.lms).text
    found = requests.get(api + "courses", params={"q": "pandsa"}).json()
    assert found["courses"][0]["slug"] == PAID and found["corrected"]
    assert requests.get(api + "courses", params={"q": 'NEAR("'}).status_code == 200
    assert requests.get(api + f"courses/{PAID}/recommendations").status_code == 200
    assert ann.get(api + "me/recommendations").status_code == 200
    preview_key = next(ls["id"] for ls in requests.get(api + f"courses/{PAID}").json()["lessons"] if ls["free_preview"])
    preview = requests.get(platform.lms + f"courses/{PAID}/preview/{preview_key}")
    assert preview.status_code == 200 and "notebook-preview" in preview.text
