"""The Q&A pages served by the real app: list, search, new-thread form with preview, thread page
with its buttons, the lesson page's include; refused forms keep what was typed."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from lms_extension.db import session_factory
from lms_extension.models.audit import AuditEntry
from tests.identity import token_client as as_user

from .conftest import SLUG


def xsrf(page: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)


def form_post(client, url, page, **data):
    return client.post(url, data={"_xsrf": xsrf(page), **data}, allow_redirects=False, timeout=30)


def test_ask_answer_accept_through_the_pages(served):
    base, engine = served
    ann, teacher, bob = as_user("f-ann"), as_user("f-teacher"), as_user("f-bob")
    new_url = base + f"courses/{SLUG}/forum/new"
    page = ann.get(new_url + "?lesson=l1", timeout=30)
    assert page.status_code == 200 and 'id="new-thread-form"' in page.text
    assert '<option value="l1" selected>' in page.text
    # preview renders server-side through the sanitiser; nothing is stored
    r = form_post(ann, new_url, page.text, title="Help", body="**bold** <script>alert(1)</script>", action="preview",
                  lesson="l1")
    assert r.status_code == 200 and "<strong>bold</strong>" in r.text and "<script>alert" not in r.text
    assert "&lt;script&gt;" in r.text and 'id="preview"' in r.text
    # a refused form keeps what was typed
    r = form_post(ann, new_url, page.text, title="Help", body="typed text", lesson="l1", cell_id="nope",
                  action="post")
    assert r.status_code == 400 and "has no cell 'nope'" in unescape(r.text) and "typed text" in r.text
    r = form_post(ann, new_url, page.text, title="Why -16?", body="`square(-4)` gives -16", lesson="l1",
                  cell_id="sol", action="post")
    assert r.status_code == 302, r.text[-500:]
    thread_url = base + r.headers["Location"].split("/services/lms/", 1)[1]
    tid = int(thread_url.rsplit("/", 1)[1])

    listing = bob.get(base + f"courses/{SLUG}/forum", timeout=30)
    assert listing.status_code == 200 and f'data-thread="{tid}"' in listing.text and "Unread" in listing.text
    assert bob.get(base + f"courses/{SLUG}/forum?q=square").text.count("data-thread=") == 1
    assert bob.get(base + f"courses/{SLUG}/forum?q=nothing-like-it").text.count("data-thread=") == 0
    r = bob.get(base + f"courses/{SLUG}/forum?lesson=zz")
    assert r.status_code == 400 and "no lesson 'zz'" in unescape(r.text)

    page = teacher.get(thread_url, timeout=30)
    assert page.status_code == 200 and "cell <code>sol</code>" in page.text and 'id="moderation"' in page.text
    r = form_post(teacher, thread_url + "/reply", page.text, body="Use `x * x`", action="post")
    assert r.status_code == 302
    page = ann.get(thread_url)
    assert "Staff answered" in page.text and "Accept answer" in page.text
    answer = int(re.findall(r'data-post="(\d+)"', page.text)[-1])
    assert form_post(ann, thread_url + "/accept", page.text, post=str(answer)).status_code == 302
    assert form_post(ann, base + f"forum/posts/{answer}/vote", page.text, value="1").status_code == 302
    page = ann.get(thread_url)
    assert "Accepted answer" in page.text and "1 vote" in page.text and "Unaccept" in page.text
    # a comment on the answer, from its Comment link
    page = bob.get(thread_url + f"?comment={answer}")
    assert f"Comment on post {answer}" in page.text and f'name="parent" value="{answer}"' in page.text
    r = form_post(bob, thread_url + "/reply", page.text, body="Works for me too", parent=str(answer), action="post")
    assert r.status_code == 302
    page = ann.get(thread_url)
    assert re.search(r'class="forum-comments">\s*<article[^>]*>\s*<div class="post-head">\s*<strong class="post-author">f-bob',
                     page.text)
    # an empty reply comes back with a sentence, a 100 kB one too; nothing stored
    r = form_post(ann, thread_url + "/reply", page.text, body="   ", action="post")
    assert r.status_code == 400 and "empty" in r.text
    r = form_post(ann, thread_url + "/reply", page.text, body="y" * 100_500, action="post")
    assert r.status_code == 400 and "at most 100 kB" in r.text
    assert ann.get(base + f"api/v1/threads/{tid}").json()["replies"] == 2
    # the lesson page lists the lesson's threads
    lesson = bob.get(base + f"courses/{SLUG}/lessons/l1")
    assert lesson.status_code == 200 and 'id="lesson-threads"' in lesson.text and "Why -16?" in lesson.text
    assert "Why -16?" not in bob.get(base + f"courses/{SLUG}/lessons/l2").text
    # and the course page leads its members there
    course = bob.get(base + f"courses/{SLUG}")
    assert f'id="course-qa" href="/services/lms/courses/{SLUG}/forum"' in course.text


def test_pages_refuse_outsiders_and_hide_private_threads(served):
    base, engine = served
    bob = as_user("f-bob")
    page = bob.get(base + f"courses/{SLUG}/forum/new")
    r = form_post(bob, base + f"courses/{SLUG}/forum/new", page.text, title="Private", body="my grade",
                  private="1", anonymous="1", action="post")
    thread_url = base + r.headers["Location"].split("/services/lms/", 1)[1]
    r = as_user("f-eve").get(base + f"courses/{SLUG}/forum")
    assert r.status_code == 403 and "enrolled students and staff" in r.text and "Traceback" not in r.text
    r = as_user("f-ann").get(thread_url)
    assert r.status_code == 404 and "Traceback" not in r.text
    page = as_user("f-teacher").get(thread_url)
    assert page.status_code == 200 and "Private to staff" in page.text and "Show author" in page.text
    assert "f-bob" not in page.text and "the course staff can see who wrote it" in page.text
    post = re.search(r'data-post="(\d+)"', page.text).group(1)
    teacher = as_user("f-teacher")
    r = form_post(teacher, base + f"forum/posts/{post}/reveal", page.text)
    assert r.status_code == 302
    shown = teacher.get(thread_url)
    assert "was written by f-bob" in shown.text and "audit log" in shown.text
    with session_factory(engine)() as s:
        assert s.scalars(select(AuditEntry.actor_name).where(AuditEntry.action == "forum.post.reveal")).all() \
            == ["f-teacher"]
