"""The front door on the real platform: `/` shows the catalog, sign-up logs the new account in
with its display name, login and logout return where the user was (this site only), the hub's
pages wear the platform's layout, and the lesson page shows the notebook and its policy."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

FREE = "python-for-beginners"
POLICY_LESSON = "05-functions"  # courses/python-for-beginners/course.toml gives it a deadline, 5 attempts, 30 s


def login_form(p, session: requests.Session, page: requests.Response, name: str, password: str):
    """Fill in the hub's login form the way a browser does: its own action, its own xsrf."""
    action = re.search(r'<form action="([^"]+)" method="post"', page.text).group(1).replace("&amp;", "&")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    return session.post(p.url + action, data={"username": name, "password": password, "_xsrf": xsrf})


def test_front_door_shows_the_catalog_to_visitors(sqlite_platform):
    p = sqlite_platform
    for door in ("/", "/hub/", "/hub"):
        r = requests.get(p.url + door)
        assert r.status_code == 200 and r.url == p.lms, (door, r.url)
        assert f'data-slug="{FREE}"' in r.text and 'name="password"' not in r.text


def test_front_door_of_a_logged_in_user_is_the_catalog_not_a_spawn(sqlite_platform):
    p = sqlite_platform
    session = p.login("student", p.demo_password)
    r = session.get(p.url + "/")
    assert r.status_code == 200 and r.url == p.lms
    assert '(signed in as student)"' in r.text  # the LMS knows the user at once
    assert not any("/spawn" in h.headers.get("Location", "") or "/user/" in h.headers.get("Location", "")
                   for h in r.history)


def test_signup_logs_in_with_the_display_name(sqlite_platform):
    p = sqlite_platform
    session = requests.Session()
    r = p.signup("ada", "analytical-engine-1843", display_name="Ada  Lovelace", session=session,
                 email="ada@example.org")
    assert r.status_code == 200 and r.url == p.lms, (r.url, r.text[:300])
    assert '(signed in as ada)">Ada Lovelace<' in r.text  # no second login
    assert not any("/hub/login" in h.headers.get("Location", "") for h in r.history)
    # the LMS keeps the display name (reviews, certificates, invoices read it)
    me = session.get(p.lms + "my-learning")
    assert me.status_code == 200 and ">Ada Lovelace<" in me.text
    # and the password works for the next login
    assert p.login("ada", "analytical-engine-1843").get(p.lms + "login").status_code == 200


def test_signup_from_a_page_returns_to_it(sqlite_platform):
    p = sqlite_platform
    course = f"/services/lms/courses/{FREE}"
    page = requests.get(p.url + course)
    link = re.search(r'href="([^"]+)">Sign up<', page.text).group(1).replace("&amp;", "&")
    assert link == f"/hub/signup?next=%2Fservices%2Flms%2Fcourses%2F{FREE}" or link == f"/hub/signup?next={course}"
    session = requests.Session()
    form = session.get(p.url + link)
    action = re.search(r'<form action="([^"]+)" method="post"', form.text).group(1).replace("&amp;", "&")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    r = session.post(p.url + action, data={
        "email": "grace@example.org", "display_name": "Grace Hopper", "username": "grace", "_xsrf": xsrf,
        "signup_password": "cobol-compiler-1959", "signup_password_confirmation": "cobol-compiler-1959"})
    assert r.status_code == 200 and r.url == p.url + course
    assert ">Grace Hopper<" in r.text


@pytest.mark.parametrize("fields,message", [
    ({"email": "not-an-email"}, "Enter your email address"),
    ({"email": ""}, "Enter your email address"),
    ({"display_name": "   "}, "Enter a display name"),
    ({"display_name": "x" * 81}, "at most 80 characters"),
    ({"username": "Has Spaces"}, "A username has 1 to 64 characters"),
    ({"username": "../etc"}, "A username has 1 to 64 characters"),
    ({"username": "student"}, "The username student is taken"),
    ({"signup_password_confirmation": "something-else-77"}, "The two passwords differ."),
    ({"signup_password": "password123", "signup_password_confirmation": "password123"}, "too common"),
])
def test_signup_says_which_field_is_wrong(sqlite_platform, fields, message):
    p = sqlite_platform
    name = fields.get("username") or "refused" + str(abs(hash(message)) % 10_000)
    r = p.signup(name, "good-password-4471", **{k: v for k, v in fields.items() if k != "username"})
    assert r.status_code == 400 and message in r.text, r.text[:2000]
    assert 'id="signup-errors"' in r.text and 'class="topbar' in r.text
    if "username" not in fields:  # nothing was created: the name is still free
        again = p.signup(name, "good-password-4471", email="x@")
        assert again.status_code == 400 and "is taken" not in again.text


def test_login_returns_to_the_page(sqlite_platform):
    p = sqlite_platform
    course = f"{p.lms}courses/{FREE}"
    session = requests.Session()
    visitor = session.get(course)
    link = re.search(r'href="([^"]+)">Log in<', visitor.text).group(1).replace("&amp;", "&")
    form = session.get(p.url + link)  # the LMS login, through the hub's OAuth, to the hub's form
    assert form.status_code == 200 and 'id="login_submit"' in form.text and urlsplit(form.url).path == "/hub/login"
    r = login_form(p, session, form, "student", p.demo_password)
    assert r.status_code == 200 and r.url == course and '(signed in as student)"' in r.text
    # the hub's own login with ?next= a page of the LMS: there, logged in
    session = requests.Session()
    form = session.get(f"{p.url}/hub/login", params={"next": "/services/lms/my-learning"})
    r = login_form(p, session, form, "student", p.demo_password)
    assert r.status_code == 200 and r.url == p.lms + "my-learning"


def stays_here(p, r: requests.Response) -> bool:
    here = urlsplit(p.url).netloc
    return urlsplit(r.url).netloc == here and all(
        urlsplit(h.headers.get("Location", "/")).netloc in ("", here) for h in r.history)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "///evil.example",
                                    "http:evil.example", "javascript:alert(1)", "/\\evil.example"])
def test_login_and_logout_never_leave_the_site(sqlite_platform, target):
    p = sqlite_platform
    # a backslash path is this site's (JupyterHub escapes it): a 404 here, never evil.example
    home = None if target.startswith("/\\") else p.lms
    session = requests.Session()
    form = session.get(f"{p.url}/hub/login", params={"next": target})
    r = login_form(p, session, form, "student", p.demo_password)
    assert stays_here(p, r), [h.headers.get("Location") for h in r.history]
    assert home is None or (r.status_code == 200 and r.url == home)
    # the LMS's own login link: the catalog
    r = session.get(p.lms + "login", params={"next": target})
    assert r.status_code == 200 and r.url == p.lms
    # logout
    r = session.get(f"{p.url}/hub/logout", params={"next": target})
    assert stays_here(p, r) and (home is None or (r.status_code == 200 and r.url == home))


def test_logout_returns_to_the_catalog_logged_out(sqlite_platform):
    p = sqlite_platform
    session = p.login("student", p.demo_password)
    page = session.get(p.lms + "my-learning")
    link = re.search(r'id="logout" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    r = session.get(p.url + link)  # a page only the user sees: back to the catalog
    assert r.status_code == 200 and r.url == p.lms
    assert 'id="login"' in r.text and "signed in as" not in r.text  # at once, not after the auth cache
    assert session.get(p.lms + "my-learning").url.startswith(f"{p.url}/hub/login")
    # from a page visitors see too, back to that page
    session = p.login("student", p.demo_password)
    course = session.get(p.lms + "login", params={"next": f"/services/lms/courses/{FREE}"})
    link = re.search(r'id="logout" href="([^"]+)"', course.text).group(1).replace("&amp;", "&")
    r = session.get(p.url + link)
    assert r.url == f"{p.lms}courses/{FREE}" and 'id="login"' in r.text


def test_hub_pages_wear_the_platform_layout(sqlite_platform):
    p = sqlite_platform
    for path, status in (("/hub/nonexistent", 404), ("/hub/login", 200), ("/hub/signup", 200)):
        r = requests.get(p.url + path)
        assert r.status_code == status, path
        assert '<header class="topbar' in r.text and '<footer class="footer wrap">' in r.text, path
        assert 'href="/services/lms/static/lms.css"' in r.text, path
    missing = requests.get(p.url + "/hub/nonexistent")
    assert "Back to the catalog" in missing.text and "None" not in missing.text
    assert requests.get(p.lms + "static/lms.css").status_code == 200
    assert requests.get(p.lms + "static/hub.css").status_code == 200


def test_lesson_page_shows_notebook_policy_and_attempts(sqlite_platform):
    p = sqlite_platform
    token = p.token("lena")
    api = p.as_user(token)
    assert api.post(p.lms + f"api/v1/courses/{FREE}/enroll").status_code in (200, 201)
    page = api.get(p.lms + f"courses/{FREE}/lessons/{POLICY_LESSON}")
    assert page.status_code == 200
    notebook = page.text.split('id="lesson-notebook"', 1)[1]
    assert "Functions" in notebook and "<script" not in notebook
    assert "BEGIN SOLUTION" not in page.text and "BEGIN HIDDEN TESTS" not in page.text
    assert f"/hub/user-redirect/lms/open?course={FREE}&amp;lesson={POLICY_LESSON}" in page.text
    policy = page.text.split('id="lesson-policy"', 1)[1].split("</ul>", 1)[0]
    assert "2027-06-30 23:59 UTC" in policy and "10% per started day" in policy
    assert re.search(r"0 of 5 used\s*<span[^>]*>· 5 left", policy), policy
    assert "30 s between submissions" in policy
    # a submission counts at once; the cooldown shows how long to wait
    notebook_json = api.get(p.lms + f"api/v1/courses/{FREE}/lessons/{POLICY_LESSON}/notebook").json()["notebook"]
    r = api.post(p.lms + f"api/v1/courses/{FREE}/lessons/{POLICY_LESSON}/submissions",
                 json={"notebooks": {f"{POLICY_LESSON}.ipynb": notebook_json}})
    assert r.status_code == 202, r.text
    policy = api.get(p.lms + f"courses/{FREE}/lessons/{POLICY_LESSON}").text.split('id="lesson-policy"', 1)[1]
    assert re.search(r"1 of 5 used\s*<span[^>]*>· 4 left", policy)
    assert re.search(r"next in \d+ s", policy.split("</ul>", 1)[0])


def test_lesson_page_needs_enrollment(sqlite_platform):
    p = sqlite_platform
    api = p.as_user(p.token("nora"))
    r = api.get(p.lms + f"courses/{FREE}/lessons/{POLICY_LESSON}")
    assert r.status_code == 403 and "enroll in" in r.text and 'id="lesson-notebook"' not in r.text
