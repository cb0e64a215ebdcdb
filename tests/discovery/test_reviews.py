"""Reviews: eligibility, validation, one per user, edits, aggregates, votes, reports, replies, XSS."""
from __future__ import annotations

import pytest

from lms_extension.errors import Conflict, Forbidden, InvalidInput, NotFound
from lms_extension.models.discovery import CourseStats
from lms_extension.services import catalog, enrollments, lessons, reviews
from lms_extension.services.users import ensure_user


def parsed_tags(html: str) -> list[tuple[str, dict]]:
    from html.parser import HTMLParser

    found = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    P().feed(html)
    return found


def enrolled(session, name, slug, *, opened=1):
    user = ensure_user(session, name)
    enrollments.enroll(session, user, slug)
    course = catalog.get_course(session, slug)
    for lesson in course.lessons[:opened]:
        lessons.deliver(session, user, slug, lesson.key)
    session.flush()
    return user


def stats(session, course) -> CourseStats:
    session.expire_all()
    return session.get(CourseStats, course.id)


def test_only_enrolled_users_past_the_minimum_progress(session, corpus):
    stranger = ensure_user(session, "stranger")
    with pytest.raises(Forbidden, match="enroll"):
        reviews.create(session, stranger, "pandas-basics", 5, "great")
    fresh = enrolled(session, "fresh", "pandas-basics", opened=0)
    with pytest.raises(Forbidden, match="50%"):
        reviews.create(session, fresh, "pandas-basics", 5, "great", min_progress=0.5)
    lessons.deliver(session, fresh, "pandas-basics", "l1")
    assert reviews.create(session, fresh, "pandas-basics", 5, "great", min_progress=0.5).rating == 5
    wes = ensure_user(session, "wes")
    with pytest.raises(Forbidden, match="own course"):
        reviews.create(session, wes, "pandas-basics", 5, "mine is best")
    with pytest.raises(NotFound):
        reviews.create(session, fresh, "no-such-course", 5, "x")


@pytest.mark.parametrize("bad", [0, 6, -1, "x", "", None, True, 4.5, [5], {"r": 5}, "5; drop"])
def test_bad_ratings_are_refused(session, corpus, bad):
    user = enrolled(session, "ann", "pandas-basics")
    with pytest.raises(InvalidInput):
        reviews.create(session, user, "pandas-basics", bad, "text")


def test_text_limits_and_types(session, corpus):
    user = enrolled(session, "ann", "pandas-basics")
    with pytest.raises(InvalidInput):
        reviews.create(session, user, "pandas-basics", 4, "x" * 5001)
    with pytest.raises(InvalidInput):
        reviews.create(session, user, "pandas-basics", 4, {"html": "<b>"})
    assert reviews.create(session, user, "pandas-basics", "4", None).body == ""


def test_one_review_per_user_and_editing_moves_the_aggregate(session, corpus):
    course = corpus["pandas-basics"]
    ann, bob = enrolled(session, "ann", "pandas-basics"), enrolled(session, "bob", "pandas-basics")
    reviews.create(session, ann, "pandas-basics", 5, "great")
    reviews.create(session, bob, "pandas-basics", 2, "meh")
    with pytest.raises(Conflict):
        reviews.create(session, ann, "pandas-basics", 1, "again")
    s = stats(session, course)
    assert (s.rating_count, s.rating_sum, s.rating_avg, s.distribution) == (2, 7, 3.5, {5: 1, 4: 0, 3: 0, 2: 1, 1: 0})
    reviews.update_own(session, bob, "pandas-basics", 4, "better on second read")
    s = stats(session, course)
    assert (s.rating_count, s.rating_sum, s.rating_avg, s.rating_2, s.rating_4) == (2, 9, 4.5, 0, 1)
    assert reviews.own_review(session, bob, course.id).body == "better on second read"
    with pytest.raises(InvalidInput):
        reviews.update_own(session, bob, "pandas-basics", 9)
    with pytest.raises(NotFound):
        reviews.update_own(session, ensure_user(session, "nobody"), "pandas-basics", 3)
    # the catalog card and the rating filter/sort read the same aggregate
    card = next(c for c in catalog.list_courses(session, catalog.CatalogQuery(q="pandas")).courses
                if c.slug == "pandas-basics")
    assert (card.rating_avg, card.rating_count) == (4.5, 2)
    assert [c.slug for c in catalog.list_courses(session, catalog.CatalogQuery(min_rating=4.5)).courses] == ["pandas-basics"]
    assert catalog.list_courses(session, catalog.CatalogQuery(sort="rating")).courses[0].slug == "pandas-basics"


def test_markdown_is_sanitized(session, corpus):
    user = enrolled(session, "mallory", "pandas-basics")
    body = ('**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> [link](javascript:alert(3)) '
            '![px](http://evil/p.png) [ok](https://example.org) <a href="x" onclick="y">a</a>')
    html = reviews.create(session, user, "pandas-basics", 3, body).body_html
    assert "<strong>bold</strong>" in html
    tags = parsed_tags(html)
    assert {t for t, _ in tags} <= {"p", "strong", "a"}
    for _, attrs in tags:
        assert not any(k.startswith("on") for k in attrs)
        assert not attrs.get("href", "").startswith("javascript")
    assert "<script" not in html  # what stayed is text, escaped
    assert 'href="https://example.org"' in html and "nofollow" in html


def test_helpful_votes(session, corpus):
    ann, bob, cid = enrolled(session, "ann", "pandas-basics"), ensure_user(session, "bob"), None
    review = reviews.create(session, ann, "pandas-basics", 5, "great")
    with pytest.raises(Forbidden):
        reviews.vote_helpful(session, ann, review.id)
    assert reviews.vote_helpful(session, bob, review.id).helpful_count == 1
    assert reviews.vote_helpful(session, bob, review.id).helpful_count == 1  # once per user
    assert reviews.vote_helpful(session, ensure_user(session, "cat"), review.id).helpful_count == 2
    assert reviews.vote_helpful(session, bob, review.id, helpful=False).helpful_count == 1
    with pytest.raises(NotFound):
        reviews.vote_helpful(session, bob, 10**9)
    page = reviews.list_for_course(session, review.course_id, viewer=ensure_user(session, "cat"))
    assert page.voted == {review.id} and cid is None


def test_report_moderation_removes_from_aggregate(session, corpus):
    course = corpus["pandas-basics"]
    ann, bob = enrolled(session, "ann", "pandas-basics"), enrolled(session, "bob", "pandas-basics")
    spam = reviews.create(session, ann, "pandas-basics", 1, "buy pills")
    reviews.create(session, bob, "pandas-basics", 5, "good")
    with pytest.raises(Forbidden):
        reviews.report(session, ann, spam.id, "self")
    with pytest.raises(InvalidInput):
        reviews.report(session, bob, spam.id, "  ")
    first = reviews.report(session, bob, spam.id, "spam")
    with pytest.raises(Conflict):
        reviews.report(session, bob, spam.id, "spam again")
    reviews.report(session, ensure_user(session, "cat"), spam.id, "spam too")
    with pytest.raises(Forbidden):
        reviews.moderation_queue(session, bob)
    admin = ensure_user(session, "root", admin=True)
    assert {r.review_id for r in reviews.moderation_queue(session, admin)} == {spam.id}
    with pytest.raises(InvalidInput):
        reviews.resolve_report(session, admin, first.id, "explode")
    reviews.resolve_report(session, admin, first.id, "remove")
    assert reviews.moderation_queue(session, admin) == []  # every report on it closed
    s = stats(session, course)
    assert (s.rating_count, s.rating_avg, s.rating_1) == (1, 5.0, 0)
    assert [r.body for r in reviews.list_for_course(session, course.id).reviews] == ["good"]
    with pytest.raises(Conflict):
        reviews.resolve_report(session, admin, first.id, "dismiss")


def test_instructor_reply(session, corpus):
    ann = enrolled(session, "ann", "pandas-basics")
    review = reviews.create(session, ann, "pandas-basics", 4, "nice")
    with pytest.raises(Forbidden):
        reviews.reply(session, ann, review.id, "thanks me")
    with pytest.raises(Forbidden):
        reviews.reply(session, ensure_user(session, "guido"), review.id, "not my course")
    wes = ensure_user(session, "wes")
    with pytest.raises(InvalidInput):
        reviews.reply(session, wes, review.id, "")
    out = reviews.reply(session, wes, review.id, "Thanks! <script>x</script>")
    assert out.reply_html.startswith("<p>Thanks!") and "<script" not in out.reply_html
    assert reviews.public(out)["reply"]["text"].startswith("Thanks!")


def test_listing_sorts_and_paging(session, corpus):
    course = corpus["pandas-basics"]
    users = [enrolled(session, f"u{i}", "pandas-basics") for i in range(4)]
    made = [reviews.create(session, u, "pandas-basics", 1 + i, f"r{i}") for i, u in enumerate(users)]
    reviews.vote_helpful(session, users[0], made[2].id)
    page = reviews.list_for_course(session, course.id, sort="helpful", limit=2)
    assert page.reviews[0].id == made[2].id and page.total == 4 and len(page.reviews) == 2
    for bad in (dict(sort="x"), dict(limit=0), dict(limit=51), dict(offset=-1)):
        with pytest.raises(InvalidInput):
            reviews.list_for_course(session, course.id, **bad)


def test_a_new_review_tells_the_instructor(session, corpus):
    from sqlalchemy import select

    from lms_extension.models import Course
    from lms_extension.models.notifications import Notification

    reader = enrolled(session, "reviewer-n", "pandas-basics", opened=1)
    review = reviews.create(session, reader, "pandas-basics", 4, "Clear and practical", min_progress=0.0)
    course = session.scalars(select(Course).where(Course.slug == "pandas-basics")).one()
    session.flush()
    told = session.scalars(select(Notification).where(Notification.kind == "new_review",
                                                      Notification.user_id == course.instructor.user_id)).all()
    assert [(n.title, n.url) for n in told] == [
        (f"New review of {course.title}: \u2605\u2605\u2605\u2605\u2606", f"courses/pandas-basics#review-{review.id}")]
    assert not session.scalars(select(Notification).where(Notification.user_id == reader.id)).all()
