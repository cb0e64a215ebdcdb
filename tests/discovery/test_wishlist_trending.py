"""Wishlist and its price events; featured and trending shelves."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lms_extension.errors import Forbidden, InvalidInput, NotFound
from lms_extension.models import Course, Enrollment
from lms_extension.models.base import utcnow
from lms_extension.models.discovery import CourseStats
from lms_extension.services import enrollments, trending, wishlist
from lms_extension.services.users import ensure_user

from .conftest import CORPUS, import_row


def test_add_remove_and_list(session, corpus):
    ann = ensure_user(session, "ann")
    assert wishlist.add(session, ann, "ml-intro")[1] is True
    assert wishlist.add(session, ann, "ml-intro")[1] is False
    wishlist.add(session, ann, "sql-db")
    assert [c.slug for c in wishlist.items(session, ann)] == ["sql-db", "ml-intro"]
    assert wishlist.remove(session, ann, "sql-db") is True
    assert wishlist.remove(session, ann, "sql-db") is False
    assert [c.slug for c in wishlist.items(session, ann)] == ["ml-intro"]
    assert wishlist.wishlisted_ids(session, ann, [corpus["ml-intro"].id, corpus["sql-db"].id]) == {corpus["ml-intro"].id}
    with pytest.raises(NotFound):
        wishlist.add(session, ann, "nope")


def test_price_drop_on_reimport_stores_an_event_per_wishlisting_user(session, corpus, tmp_path):
    ann, bob = ensure_user(session, "ann"), ensure_user(session, "bob")
    wishlist.add(session, ann, "ml-intro")
    wishlist.add(session, bob, "ml-intro")
    wishlist.add(session, bob, "sql-db")
    row = next(r for r in CORPUS if r[0] == "ml-intro")
    import_row(session, tmp_path / "up", row, price=5900)  # dearer: nothing
    assert wishlist.pending_events(session) == []
    import_row(session, tmp_path / "down", row, price=2900)
    events = wishlist.pending_events(session)
    assert sorted((e.user_id, e.kind, e.old_price_cents, e.new_price_cents) for e in events) == \
        sorted([(ann.id, "price_drop", 5900, 2900), (bob.id, "price_drop", 5900, 2900)])
    assert [e.course_id for e in wishlist.pending_events(session, ann)] == [corpus["ml-intro"].id]


def test_coupon_events(session, corpus):
    ann = ensure_user(session, "ann")
    wishlist.add(session, ann, "sql-db")
    assert wishlist.record_coupon(session, corpus["sql-db"].id, "SPRING20", percent_off=20) == 1
    assert wishlist.record_coupon(session, corpus["ml-intro"].id, "NOBODY") == 0
    (event,) = wishlist.pending_events(session, ann)
    assert (event.kind, event.coupon_code, event.percent_off) == ("coupon", "SPRING20", 20)
    for bad in (dict(coupon_code=""), dict(coupon_code="x" * 65), dict(coupon_code="OK", percent_off=0)):
        with pytest.raises(InvalidInput):
            wishlist.record_coupon(session, corpus["sql-db"].id, **bad)


def test_trending_decays_with_time_and_counts_enrollments(session, corpus):
    now = utcnow()
    # python-start: 3 enrollments 60 days ago; pandas-basics: 2 enrollments today and a 5-star review
    for i in range(3):
        enrollments.enroll(session, ensure_user(session, f"old{i}"), "python-start")
    session.flush()
    session.execute(update(Enrollment).where(Enrollment.course_id == corpus["python-start"].id)
                    .values(created_at=now - timedelta(days=60)))
    for i in range(2):
        enrollments.enroll(session, ensure_user(session, f"new{i}"), "pandas-basics")
    session.flush()
    assert trending.refresh(session, now=now, half_life_days=7) == 2
    top = [c.slug for c in trending.trending_cards(session)]
    assert top == ["pandas-basics"]  # 60 days old is past the 8 half-lives window
    assert trending.refresh(session, now=now, half_life_days=30) == 2
    assert [c.slug for c in trending.trending_cards(session)] == ["pandas-basics", "python-start"]
    counts = dict(session.execute(select(CourseStats.course_id, CourseStats.enrollment_count)).all())
    assert counts[corpus["python-start"].id] == 3 and counts[corpus["pandas-basics"].id] == 2
    from lms_extension.services import catalog
    pop = catalog.list_courses(session, catalog.CatalogQuery(sort="popularity")).courses
    assert [c.slug for c in pop[:2]] == ["python-start", "pandas-basics"]


def test_featured_is_admin_curated(session, corpus):
    admin, ann = ensure_user(session, "root", admin=True), ensure_user(session, "ann")
    with pytest.raises(Forbidden):
        trending.set_featured(session, ann, ["ml-intro"])
    with pytest.raises(NotFound):
        trending.set_featured(session, admin, ["ml-intro", "ghost"])
    with pytest.raises(InvalidInput):
        trending.set_featured(session, admin, "ml-intro")
    trending.set_featured(session, admin, ["sql-db", "ml-intro", "sql-db"])
    assert [c.slug for c in trending.featured_cards(session)] == ["sql-db", "ml-intro"]
    trending.set_featured(session, admin, [])
    assert trending.featured_cards(session) == []


def test_wishlist_queries_do_not_grow_with_its_length(session, engine, tmp_path):
    from sqlalchemy import event

    from lms_extension.services import recommendations, reviews

    from lms_extension.services.course_import import import_course, load_course_folder

    from .conftest import write_course_folder

    ann = ensure_user(session, "ann")
    statements = []

    def counted(fn):
        listener = lambda *a, **k: statements.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            statements.clear()
            fn()
            return len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", listener)

    per_size = []
    for size in (3, 30):
        for i in range(size):
            slug = f"w{size}-{i}"
            import_course(session, load_course_folder(write_course_folder(
                tmp_path / str(size), slug, f"Course {slug}", "s", "d", "Web", "beginner", "en", 900, "t", ["L"])))
            wishlist.add(session, ann, slug)
        session.flush()
        course_id = session.scalar(select(Course.id).where(Course.slug == f"w{size}-0"))
        per_size.append((
            counted(lambda: assert_len(wishlist.items(session, ann), size if size == 3 else 33)),
            counted(lambda: reviews.list_for_course(session, course_id, viewer=ann)),
            counted(lambda: recommendations.cards(session, [(course_id, 1.0)] * 1)),
        ))
    assert per_size[0] == per_size[1], per_size


def assert_len(items, n):
    assert len(items) == n


def test_bundles_show_their_savings(session, corpus):
    from lms_extension.models.commerce import Bundle, BundleCourse

    bundle = Bundle(slug="data-pack", title="Data pack", price_cents=5000, currency="usd", active=True)
    session.add(bundle)
    session.flush()
    for slug in ("ml-intro", "sql-db", "stats-bayes"):  # 4900 + 1900 + 7900
        session.add(BundleCourse(bundle_id=bundle.id, course_id=corpus[slug].id))
    session.add(Bundle(slug="off", title="Inactive", price_cents=1, currency="usd", active=False))
    session.flush()
    (offer,) = trending.bundle_offers(session)
    assert (offer.slug, offer.course_count, offer.list_price_cents, offer.savings_cents) == ("data-pack", 3, 14700, 9700)


def test_enrolling_in_a_free_course_removes_it_from_the_wishlist(session, corpus):
    ann, bob = ensure_user(session, "free-ann"), ensure_user(session, "free-bob")
    for user in (ann, bob):
        wishlist.add(session, user, "python-start")
        wishlist.add(session, user, "ml-intro")
    enrollments.enroll(session, ann, "python-start")
    assert [c.slug for c in wishlist.items(session, ann)] == ["ml-intro"]
    assert sorted(c.slug for c in wishlist.items(session, bob)) == ["ml-intro", "python-start"]
    enrollments.enroll(session, ann, "python-start")  # enrolled already: nothing else changes
    assert [c.slug for c in wishlist.items(session, ann)] == ["ml-intro"]


def test_a_course_owned_before_it_left_wishlists_automatically_is_not_listed(session, corpus):
    ann = ensure_user(session, "old-ann")
    wishlist.add(session, ann, "python-start")
    wishlist.add(session, ann, "sql-db")
    # an enrollment from before enrolling removed wishes: written as the enrollments service did then
    session.add(Enrollment(user_id=ann.id, course_id=corpus["python-start"].id, source="free"))
    session.flush()
    assert [c.slug for c in wishlist.items(session, ann)] == ["sql-db"]


def test_stored_events_become_notifications_once(session, corpus, tmp_path):
    from lms_extension.models.notifications import Notification

    ann, bob = ensure_user(session, "ann"), ensure_user(session, "bob")
    wishlist.add(session, ann, "ml-intro")
    wishlist.add(session, bob, "ml-intro")
    row = next(r for r in CORPUS if r[0] == "ml-intro")
    import_row(session, tmp_path / "up", row, price=5900)
    import_row(session, tmp_path / "down", row, price=2900)
    wishlist.add(session, ann, "sql-db")
    wishlist.record_coupon(session, corpus["sql-db"].id, "SPRING20", percent_off=20)
    enrollments_of_bob = session.scalar(select(Enrollment).where(Enrollment.user_id == bob.id))
    assert enrollments_of_bob is None
    # Bob got the course meanwhile: no advert for what he has
    session.add(Enrollment(user_id=bob.id, course_id=corpus["ml-intro"].id))
    session.flush()
    assert wishlist.deliver_events(session) == 3
    assert wishlist.pending_events(session) == [] and wishlist.deliver_events(session) == 0
    session.flush()
    told = sorted((n.user_id, n.kind, n.title) for n in session.scalars(select(Notification)))
    title = corpus["ml-intro"].title
    assert told == sorted([(ann.id, "wishlist_price_drop", f"{title} is now $29.00"),
                           (ann.id, "coupon", f"20% off {corpus['sql-db'].title} with SPRING20")])
