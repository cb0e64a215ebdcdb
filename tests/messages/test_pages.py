"""The messages pages served by the real app: the course page's "Message the staff", the compose
form with its preview, the conversation page and its reply form, the roster's "Message", the inbox
with unread counts, the header's count, blocking, the course's messaging settings; refused forms
come back with what was typed and why."""
from __future__ import annotations

import re
from html import unescape

from tests.identity import token_client as as_user

from .conftest import SLUG


def xsrf(page: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)


def form_post(client, url, page, **data):
    return client.post(url, data={"_xsrf": xsrf(page), **data}, allow_redirects=False, timeout=30)


def path_of(base: str, location: str) -> str:
    return base + location.split("/services/lms/", 1)[1]


def test_student_and_staff_talk_through_the_pages(served):
    base, _ = served
    ann, teacher = as_user("m-ann"), as_user("m-teacher")
    course = ann.get(base + f"courses/{SLUG}", timeout=30)
    assert f'href="/services/lms/courses/{SLUG}/message"' in course.text and "Message the staff" in course.text
    compose_url = base + f"courses/{SLUG}/message"
    page = ann.get(compose_url, timeout=30)
    assert page.status_code == 200 and "Message Course staff of" in unescape(page.text)
    assert 'id="m-to"' not in page.text  # classmates are off: only the staff
    # preview: rendered through the sanitiser, nothing sent
    r = form_post(ann, compose_url, page.text, body="**bold** <script>alert(1)</script>", action="preview")
    assert r.status_code == 200 and "<strong>bold</strong>" in r.text and "<script>alert" not in r.text
    assert 'id="preview"' in r.text and "&lt;script&gt;" in r.text
    # refused: comes back with what was typed
    r = form_post(ann, compose_url, page.text, body="y" * 20_500, action="send")
    assert r.status_code == 400 and "at most 20 kB" in r.text and "yyyy" in r.text
    r = form_post(ann, compose_url, page.text, body="Is lesson 1 **graded**?", action="send")
    assert r.status_code == 303, r.text[-400:]
    conv_url = path_of(base, r.headers["Location"].split("#")[0])
    cid = int(conv_url.rsplit("/", 1)[1])
    # the header counts the teacher's unread message; the inbox shows it
    home = teacher.get(base + "messages", timeout=30)
    assert re.search(r'id="messages-count">1<', home.text) and f'data-conversation="{cid}"' in home.text
    assert 'class="msg-count"' in home.text and "Is lesson 1 graded?" in home.text  # as text, no Markdown marks
    # the roster's Message link leads to the same conversation
    roster = teacher.get(base + f"teach/courses/{SLUG}/roster", timeout=30)
    assert f"courses/{SLUG}/message?to=m-ann" in roster.text
    r = teacher.get(base + f"courses/{SLUG}/message?to=m-ann", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"messages/{cid}")
    page = teacher.get(conv_url)
    assert "<strong>graded</strong>" in page.text and 'class="msg new"' in page.text
    assert re.search(r'id="messages-count" hidden>0<', page.text)  # opened: read
    r = form_post(teacher, conv_url, page.text, body="Yes, it is.", action="send")
    assert r.status_code == 303 and "#message-" in r.headers["Location"]
    r = form_post(teacher, conv_url, page.text, body="  ", action="send")
    assert r.status_code == 400 and "empty" in r.text
    page = ann.get(conv_url)
    assert "Yes, it is." in page.text and "Staff</span>" in page.text and "Only you and the staff" in page.text
    # a student who is not part of it: not there
    r = as_user("m-bob").get(conv_url)
    assert r.status_code == 404 and f"no conversation {cid}" in r.text
    assert as_user("m-bob").get(base + "messages/999999999").status_code == 404
    assert as_user("m-bob").get(base + "messages/99999999999").status_code == 404
    # outsiders cannot start one
    r = as_user("m-eve").get(compose_url)
    assert r.status_code == 403 and "once you are enrolled" in unescape(r.text)
    r = as_user("m-bob").get(compose_url + "?to=m-cid")
    assert r.status_code == 403 and "cannot message each other" in unescape(r.text)


def test_blocking_from_the_conversation_page(served):
    base, _ = served
    ann, teacher = as_user("m-ann"), as_user("m-teacher")
    page = teacher.get(base + f"courses/{SLUG}/message?to=m-ann")
    r = form_post(teacher, base + f"courses/{SLUG}/message", page.text, to="m-ann", body="Hello Ann", action="send")
    conv_url = path_of(base, r.headers["Location"].split("#")[0])
    page = ann.get(conv_url)
    assert "Block Teacher" in page.text
    r = form_post(ann, base + "messages/block", page.text, username="m-teacher", next=conv_url.rsplit("/", 1)[1])
    assert r.status_code == 303 and r.headers["Location"].endswith(conv_url.split("/services/lms/")[1])
    page = ann.get(conv_url)
    assert "You blocked Teacher" in page.text and "Course announcements still reach you" in page.text
    assert "Unblock Teacher" in page.text and "You have blocked Teacher" in page.text  # read-only for her
    page = teacher.get(conv_url)
    assert 'id="reply-form"' not in page.text and "blocked messages from you" in page.text
    r = form_post(teacher, conv_url, page.text, body="Hello?", action="send")
    assert r.status_code == 403 and "blocked messages from you" in r.text
    blocked = ann.get(base + "messages/blocked")
    assert "Teacher" in blocked.text and "Unblock" in blocked.text
    r = form_post(ann, base + "messages/unblock", blocked.text, username="m-teacher")
    assert r.status_code == 303 and ann.get(base + "messages/blocked").text.count("Unblock") == 0
    r = form_post(ann, base + "messages/block", blocked.text, username="nobody-here")
    assert r.status_code == 404 and "no user" in r.text


def test_course_settings_turn_classmates_on(served):
    base, _ = served
    teacher, ann, bob = as_user("m-teacher"), as_user("m-ann"), as_user("m-bob")
    settings_url = base + f"courses/{SLUG}/messages/settings"
    assert ann.get(settings_url).status_code == 403
    page = teacher.get(settings_url)
    assert page.status_code == 200 and 'value="0" checked' in page.text
    assert f'courses/{SLUG}/messages/settings" aria-current="page"' in page.text  # in the studio's nav
    r = form_post(teacher, settings_url, page.text, students_may_message="maybe")
    assert r.status_code == 400
    r = form_post(teacher, settings_url, page.text, students_may_message="1")
    assert r.status_code == 303
    page = teacher.get(settings_url)
    assert 'value="1" checked' in page.text and "can now message each other" in page.text
    compose = ann.get(base + f"courses/{SLUG}/message")
    assert 'id="m-to"' in compose.text  # a classmate's name may be typed now
    r = form_post(ann, base + f"courses/{SLUG}/message", compose.text, to="m-eve", body="hi", action="send")
    assert r.status_code == 404 and "has no student" in unescape(r.text) and ">hi</textarea>" in r.text
    r = form_post(ann, base + f"courses/{SLUG}/message", compose.text, to="m-bob", body="hi Bob", action="send")
    assert r.status_code == 303
    box = bob.get(base + "messages")
    assert "Ann" in box.text and "classmate" in box.text and "hi Bob" in box.text
