"""The notifications API, pages, live stream and unsubscribe link on the real app."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from lms_extension.models import User
from lms_extension.services import notifications
from tests.factories import make_user


def _users(service, *names):
    with service.factory() as db:
        ids = [make_user(db, n).id for n in names]
        db.commit()
    return ids


def _notify(service, user_ids, title="Hello", kind="reply", **kw):
    """As the worker would: its own session, committed."""
    with service.factory() as db:
        notifications.notify(db, user_ids=user_ids, kind=kind, title=title, body="body", url="courses/x", **kw)
        db.commit()


def test_api_lists_newest_first_with_unread_and_pages(service, tag):
    alice, = _users(service, f"alice-{tag}")
    for i in range(3):
        _notify(service, [alice], title=f"n{i}")
    api = service.client(f"alice-{tag}")
    r = api.api("GET", "api/v1/me/notifications?limit=2")
    assert r.status_code == 200, r.text
    page = r.json()
    assert [n["title"] for n in page["notifications"]] == ["n2", "n1"] and page["unread"] == 3
    assert page["notifications"][0]["kind"] == "reply" and page["notifications"][0]["read"] is False
    rest = api.api("GET", f"api/v1/me/notifications?limit=2&before={page['next_before']}").json()
    assert [n["title"] for n in rest["notifications"]] == ["n0"] and rest["next_before"] is None
    assert api.api("GET", "api/v1/me/notifications?limit=zero").status_code == 400
    assert api.api("GET", "api/v1/me/notifications?limit=1000").status_code == 400
    huge = api.api("GET", f"api/v1/me/notifications?before={10**20}")  # beyond any id: every row, no 500
    assert huge.status_code == 200 and huge.json()["unread"] == 3, huge.text
    r = api.api("POST", "api/v1/me/notifications/read", json={"ids": [10**20, -1]})
    assert r.status_code == 200 and r.json() == {"marked": 0, "unread": 3}, r.text
    assert service.client(None).api("GET", "api/v1/me/notifications").status_code in (401, 403)


def test_api_marks_read_and_never_touches_or_shows_anyone_elses(service, tag):
    alice, bob = _users(service, f"alice-{tag}", f"bob-{tag}")
    _notify(service, [alice], title="for alice")
    _notify(service, [bob], title="for bob secret")
    a, b = service.client(f"alice-{tag}"), service.client(f"bob-{tag}")
    bobs = b.api("GET", "api/v1/me/notifications").json()["notifications"]
    assert [n["title"] for n in bobs] == ["for bob secret"]
    assert "for bob" not in a.api("GET", "api/v1/me/notifications").text
    # alice sends bob's id: nothing changes, nothing leaks
    r = a.api("POST", "api/v1/me/notifications/read", json={"ids": [bobs[0]["id"]]})
    assert r.status_code == 200 and r.json() == {"marked": 0, "unread": 1}
    assert b.api("GET", "api/v1/me/notifications").json()["unread"] == 1
    r = a.api("POST", "api/v1/me/notifications/read", json={"all": True})
    assert r.json() == {"marked": 1, "unread": 0}
    assert b.api("GET", "api/v1/me/notifications").json()["unread"] == 1
    mine = b.api("POST", "api/v1/me/notifications/read", json={"ids": [bobs[0]["id"]]})
    assert mine.json() == {"marked": 1, "unread": 0}
    for bad in ({"ids": "1"}, {"ids": [True]}, {}, [1, 2], {"all": "yes"}):
        r = a.api("POST", "api/v1/me/notifications/read", json=bad)
        assert r.status_code == 400 and r.json()["message"], (bad, r.text)
    assert a.api("POST", "api/v1/me/notifications/read", data="{not json").status_code == 400


def test_openapi_documents_both_endpoints(service):
    doc = service.client(None).api("GET", "api/v1/openapi.json")
    assert doc.status_code == 200, doc.status_code
    from openapi_spec_validator import validate
    validate(doc.json())
    paths = doc.json()["paths"]
    assert "get" in paths["/me/notifications"] and "post" in paths["/me/notifications/read"]


def _stream(service, name, events: queue.Queue, stop: threading.Event):
    import requests
    with requests.get(service.base + "notifications/stream", headers={"X-Test-User": name},
                      stream=True, timeout=30) as r:
        events.put(("status", r.status_code, r.headers.get("Content-Type")))
        event = None
        for line in r.iter_lines(decode_unicode=True):
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "unread":
                events.put(("unread", json.loads(line[5:])["unread"], time.monotonic()))


def test_the_stream_delivers_a_count_made_by_another_process(service, tag):
    alice, = _users(service, f"alice-{tag}")
    _notify(service, [alice], title="first")
    events, stop = queue.Queue(), threading.Event()
    thread = threading.Thread(target=_stream, args=(service, f"alice-{tag}", events, stop), daemon=True)
    thread.start()
    assert events.get(timeout=10)[:3] == ("status", 200, "text/event-stream; charset=utf-8")
    assert events.get(timeout=10)[:2] == ("unread", 1)
    made = time.monotonic()
    _notify(service, [alice], title="second")  # a session of its own, as the worker's
    kind, unread, at = events.get(timeout=10)
    assert (kind, unread) == ("unread", 2) and at - made < 3
    with service.factory() as db:
        notifications.mark_read(db, alice, everything=True)
        db.commit()
    assert events.get(timeout=10)[:2] == ("unread", 0)
    # a notice made by another process (the worker is one): the stream sees it too
    code = ("import sys; from lms_extension.db import make_engine, session_factory; "
            "from lms_extension.services import notifications as n; "
            "db = session_factory(make_engine(sys.argv[1]))(); "
            "n.notify(db, user_ids=[int(sys.argv[2])], kind='grade_released', title='From the worker', body='', url=''); "
            "db.commit()")
    made = time.monotonic()
    subprocess.run([sys.executable, "-c", code, service.config.db_url, str(alice)], check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[2])
    kind, unread, at = events.get(timeout=10)
    assert (kind, unread) == ("unread", 1) and at - made < 10
    stop.set()


def test_the_stream_needs_a_login(service):
    r = service.client(None).get("notifications/stream")
    assert r.status_code in (401, 403)  # never a redirect into a login the page did not ask for


def test_notifications_page_lists_links_and_marks_read(service, tag):
    alice, = _users(service, f"alice-{tag}")
    _notify(service, [alice], title="Your grade is out")
    browser = service.client(f"alice-{tag}")
    page = browser.get("notifications")
    assert page.status_code == 200 and "Your grade is out" in page.text
    nid = notifications.list_for(service.factory(), alice)["notifications"][0]["id"]
    assert f'href="/services/lms/notifications/{nid}"' in page.text and "1 unread" in page.text
    # someone else's notice: not found, and it stays unread
    assert service.client(f"mallory-{tag}").get(f"notifications/{nid}").status_code == 404
    assert "1 unread" in browser.get("notifications").text
    opened = browser.get(f"notifications/{nid}")  # the link: marks it read, goes to its target
    assert opened.status_code == 302 and opened.headers["Location"] == "/services/lms/courses/x"
    assert "All read." in browser.get("notifications").text
    _notify(service, [alice], title="Second")
    nid = notifications.list_for(service.factory(), alice)["notifications"][0]["id"]
    r = browser.post("notifications", {"id": str(nid)})
    assert r.status_code == 303
    assert "All read." in browser.get("notifications").text
    assert browser.post("notifications", {"id": "abc"}).status_code == 400


def test_preferences_page_saves_the_grid(service, tag):
    alice, = _users(service, f"alice-{tag}")
    browser = service.client(f"alice-{tag}")
    page = browser.get("notifications/preferences")
    assert page.status_code == 200 and page.text.count('type="checkbox"') == len(notifications.KINDS) * len(notifications.CHANNELS)
    r = browser.post("notifications/preferences", [("on", "reply:in_app"), ("on", "announcement:email")])
    assert r.status_code == 303
    with service.factory() as db:
        prefs = notifications.preferences(db, alice)
    assert prefs["reply"] == {"in_app": True, "email": False, "push": False}
    assert prefs["announcement"] == {"in_app": False, "email": True, "push": False}
    assert prefs["grade_released"] == {"in_app": False, "email": False, "push": False}
    assert 'value="reply:in_app" id="pref-reply-in_app" checked' in browser.get("notifications/preferences").text
    assert browser.post("notifications/preferences", [("on", "nonsense:email")]).status_code == 400


def test_unsubscribe_link_confirms_then_turns_off_exactly_that_kinds_email(service, tag):
    alice, = _users(service, f"alice-{tag}")
    token = notifications.unsubscribe_token(service.config.cookie_secret, alice, "announcement")
    visitor = service.client(None)  # the link works without a login, as a mail client follows it
    page = visitor.get(f"notifications/unsubscribe/{token}")
    assert page.status_code == 200 and "Course announcements" in page.text and 'id="confirm-unsubscribe"' in page.text
    with service.factory() as db:
        assert notifications.preferences(db, alice)["announcement"]["email"] is True  # GET changes nothing
    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click, no cookie, no xsrf token
    import requests
    r = requests.post(service.base + f"notifications/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code == 200 and 'id="unsubscribed"' in r.text
    with service.factory() as db:
        prefs = notifications.preferences(db, alice)
    assert prefs["announcement"] == {"in_app": True, "email": False, "push": True}
    assert all(p["email"] == notifications.KINDS[k].email for k, p in prefs.items() if k != "announcement")
    assert 'id="already-off"' in visitor.get(f"notifications/unsubscribe/{token}").text


def test_a_tampered_unsubscribe_token_is_refused_with_a_400_page(service, tag):
    alice, bob = _users(service, f"alice-{tag}", f"bob-{tag}")
    token = notifications.unsubscribe_token(service.config.cookie_secret, alice, "announcement")
    forged_for_bob = notifications.unsubscribe_token("guessed secret", bob, "announcement")
    payload, sig = token.split(".")
    bobs_payload = forged_for_bob.split(".")[0]
    import requests
    for bad in (bobs_payload + "." + sig, forged_for_bob, payload + "." + sig[::-1], "nothing-here"):
        page = service.client(None).get(f"notifications/unsubscribe/{bad}")
        assert page.status_code == 400 and "not valid" in page.text and "<html" in page.text, bad
        r = requests.post(service.base + f"notifications/unsubscribe/{bad}", data="List-Unsubscribe=One-Click",
                          timeout=30)
        assert r.status_code == 400
    with service.factory() as db:
        assert notifications.preferences(db, bob)["announcement"]["email"] is True
        assert notifications.preferences(db, alice)["announcement"]["email"] is True
        assert db.get(User, bob) is not None and db.scalar(select(User.id).where(User.id == alice)) == alice
