"""Domain services on both databases: catalog, enrollment, lesson delivery, roles."""
import pytest

from lms_extension.errors import Forbidden, InvalidInput, NotFound, PaymentRequired
from lms_extension.services import catalog, enrollments, lessons, progress
from lms_extension.services.users import sync_hub_user
from tests.factories import make_course, make_user


def test_enroll_free_course_once(session, tmp_path):
    make_course(session, tmp_path, "free-one")
    alice = make_user(session)
    first, created = enrollments.enroll(session, alice, "free-one")
    again, created_again = enrollments.enroll(session, alice, "free-one")
    assert created and not created_again and first.id == again.id
    assert [e.course.slug for e in enrollments.enrollments_for(session, alice)] == ["free-one"]


def test_paid_course_needs_payment(session, tmp_path):
    make_course(session, tmp_path, "paid-one", price_cents=4900)
    alice = make_user(session)
    with pytest.raises(PaymentRequired, match="49.00 USD"):
        enrollments.enroll(session, alice, "paid-one")
    assert enrollments.enrollments_for(session, alice) == []


def test_instructor_of_paid_course_may_enroll(session, tmp_path):
    make_course(session, tmp_path, "paid-two", price_cents=100, instructor="prof")
    prof = make_user(session, "prof", instructor=True)
    enrollment, created = enrollments.enroll(session, prof, "paid-two")
    assert created and enrollment.source == "staff"


def test_unknown_course_is_not_found(session):
    with pytest.raises(NotFound):
        enrollments.enroll(session, make_user(session), "nope")


def test_lesson_delivery_rules(session, tmp_path):
    make_course(session, tmp_path, "paid-three", price_cents=900)
    bob = make_user(session, "bob")
    preview = lessons.deliver(session, bob, "paid-three", "l1")  # free preview
    assert preview.version == 1 and "SECRET-HIDDEN" not in preview.notebook
    with pytest.raises(Forbidden, match="enroll"):
        lessons.deliver(session, bob, "paid-three", "l2")
    with pytest.raises(NotFound):
        lessons.deliver(session, bob, "paid-three", "l9")
    anonymous_preview = lessons.deliver(session, None, "paid-three", "l1")
    assert anonymous_preview.filename == "l1.ipynb"


def test_progress_and_resume(session, tmp_path):
    course = make_course(session, tmp_path, "resume-me", lessons=3)
    carol = make_user(session, "carol")
    enrollment, _ = enrollments.enroll(session, carol, "resume-me")
    assert enrollments.resume_lesson(course, enrollment).key == "l1"
    lessons.deliver(session, carol, "resume-me", "l2")
    lessons.deliver(session, carol, "resume-me", "l2")
    assert enrollments.resume_lesson(course, enrollment).key == "l2"
    assert progress.started_counts(session, carol, [course.id]) == {course.id: 1}


def test_catalog_filters_sorting_and_validation(session, tmp_path):
    make_course(session, tmp_path, "cheap", price_cents=100)
    make_course(session, tmp_path, "pricey", price_cents=9900)
    make_course(session, tmp_path, "gratis")
    page = catalog.list_courses(session, catalog.CatalogQuery(sort="price_desc", limit=100))
    slugs = [c.slug for c in page.courses]
    assert slugs.index("pricey") < slugs.index("cheap") < slugs.index("gratis")
    free = catalog.list_courses(session, catalog.CatalogQuery(free=True, limit=100))
    assert "gratis" in [c.slug for c in free.courses] and "cheap" not in [c.slug for c in free.courses]
    found = catalog.list_courses(session, catalog.CatalogQuery(q="PRICEY"))
    assert [c.slug for c in found.courses] == ["pricey"] and found.total == 1
    for bad in (dict(sort="random"), dict(level="expert"), dict(limit=0), dict(limit=1000), dict(offset=-1), dict(q="x" * 201)):
        with pytest.raises(InvalidInput):
            catalog.list_courses(session, catalog.CatalogQuery(**bad))


def test_unpublished_course_hidden_except_from_its_instructor(session, tmp_path):
    make_course(session, tmp_path, "draft", extra_toml="published = false", instructor="drafter")
    with pytest.raises(NotFound):
        catalog.get_course(session, "draft")
    assert "draft" not in [c.slug for c in catalog.list_courses(session, catalog.CatalogQuery(limit=100)).courses]
    drafter = make_user(session, "drafter", instructor=True)
    assert catalog.get_course(session, "draft", viewer=drafter).slug == "draft"


def test_roles_follow_hub_scopes(session):
    user = sync_hub_user(session, {"name": "dana", "scopes": ["custom:lms:teach"]})
    assert user.is_instructor and not user.is_admin and user.instructor is not None
    user = sync_hub_user(session, {"name": "dana", "scopes": []})
    assert not user.is_instructor
    admin = sync_hub_user(session, {"name": "root", "admin": True, "scopes": []})
    assert admin.is_admin and admin.is_instructor
