"""The admin console's commerce pages on the real app: courses (unpublish, feature), featured,
coupons, bundles, revenue shares; refunds and review moderation reachable from the console.
Only admins get in; bad forms answer 400/404/409 with the form as typed and change nothing;
every change leaves an audit entry."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from lms_extension.errors import NotFound
from lms_extension.models import Course, Instructor, User
from lms_extension.models.audit import AuditEntry
from lms_extension.models.commerce import Bundle, Coupon, InstructorAccount
from lms_extension.services import reviews, trending
from lms_extension.services.payments import checkout
from lms_extension.services.payments.tax import TaxTable
from tests.factories import make_course

from .conftest import text_of

PAGES = ["admin/courses", "admin/featured", "admin/coupons", "admin/bundles", "admin/revenue-shares",
         "admin/revenue", "admin/revenue.csv", "admin/revenue.pdf"]
POSTS = ["admin/featured", "admin/coupons", "admin/bundles", "admin/revenue-shares", "admin/coupons/1/stop",
         "admin/bundles/1/stop", "admin/courses/some-course/unpublish", "admin/featured/some-course/up"]


def audit_actions(service, actor: str) -> list[str]:
    with service.factory() as db:
        return list(db.scalars(select(AuditEntry.action).where(AuditEntry.actor_name == actor).order_by(AuditEntry.id)))


def published(service, slug: str) -> bool:
    with service.factory() as db:
        return db.scalars(select(Course.published).where(Course.slug == slug)).one()


def test_only_admins_get_in(service, world):
    for who in ("t1", "student"):
        for path in PAGES:
            r = world[who].get(path)
            assert r.status_code == 403 and "the admin console needs the LMS admin role" in text_of(r.text), (who, path)
        for path in POSTS:
            assert world[who].post(path, {"course": world["mine"]}).status_code == 403, (who, path)
    for path in PAGES:
        assert world["visitor"].get(path).status_code in (302, 303), path  # to the login
    assert published(service, world["mine"])
    for path in PAGES[:6]:
        page = world["admin"].get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert 'aria-label="Admin console"' in page.text and 'aria-current="page"' in page.text


def test_courses_unpublish_and_feature(service, world):
    admin, mine, tag = world["admin"], world["mine"], world["tag"]
    page = admin.get("admin/courses", params={"q": mine})
    assert page.status_code == 200 and f'data-slug="{mine}"' in page.text and world["theirs"] not in page.text
    assert f"t1-{tag}" in page.text  # the instructor
    done = admin.follow(admin.post(f"admin/courses/{mine}/feature"))
    assert "is featured" in done.text
    assert mine in world["visitor"].api("GET", "api/v1/featured").text
    assert "is featured already" in admin.follow(admin.post(f"admin/courses/{mine}/feature")).text
    done = admin.follow(admin.post(f"admin/courses/{mine}/unpublish"))
    assert "unpublished" in done.text and not published(service, mine)
    assert world["visitor"].get(f"courses/{mine}").status_code == 404  # out of the catalog
    assert mine not in world["visitor"].api("GET", "api/v1/featured").text  # and off the shelf
    assert "is not published" in admin.follow(admin.post(f"admin/courses/{mine}/unpublish")).text
    assert admin.post("admin/courses/no-such-course/unpublish").status_code == 404
    done = admin.follow(admin.post(f"admin/courses/{mine}/unfeature"))
    assert "no longer featured" in done.text
    assert audit_actions(service, f"admin-{tag}") == ["featured.update", "course.unpublish", "featured.update"]


def test_featured_list(service, world, tmp_path):
    admin, mine, theirs, tag = world["admin"], world["mine"], world["theirs"], world["tag"]
    with service.factory() as db:
        make_course(db, tmp_path, f"draft-{tag}", price_cents=900, instructor=f"t1-{tag}",
                    extra_toml="published = false")
        db.commit()
        before = trending.featured_slugs(db)
    for slug in (mine, theirs):
        assert admin.post("admin/featured", {"course": slug}).status_code == 303
    page = admin.get("admin/featured")
    assert page.text.index(f'data-slug="{mine}"') < page.text.index(f'data-slug="{theirs}"')
    admin.post(f"admin/featured/{theirs}/up")
    with service.factory() as db:
        order = trending.featured_slugs(db)
    assert order.index(theirs) < order.index(mine)
    for course, status, message in [("", 400, "Choose a course to feature"),
                                    ("no-such-course", 404, "there is no such course"),
                                    (f"draft-{tag}", 400, "is not published"),
                                    (mine, 409, "is featured already")]:
        r = admin.post("admin/featured", {"course": course})
        assert r.status_code == status and message in text_of(r.text), (course, r.status_code)
        assert 'id="featured-error"' in r.text
    admin.post(f"admin/featured/{mine}/remove")
    admin.post(f"admin/featured/{theirs}/remove")
    assert "is not featured" in admin.follow(admin.post(f"admin/featured/{mine}/remove")).text
    with service.factory() as db:
        assert trending.featured_slugs(db) == before
    assert audit_actions(service, f"admin-{tag}").count("featured.update") == 5


def test_platform_coupons(service, world):
    admin, tag = world["admin"], world["tag"]
    code = f"ALL{tag}".upper()
    done = admin.follow(admin.post("admin/coupons", {"code": code, "discount_type": "amount", "discount": "10",
                                                     "currency": "usd", "course": ""}))
    assert f"Coupon {code} created" in done.text and "Any purchase" in done.text
    # an instructor's coupon shows too, with its course
    world["t1"].post(f"teach/courses/{world['mine']}/coupons", {"code": f"T1{tag}", "discount_type": "percent",
                                                                 "discount": "5"})
    page = admin.get("admin/coupons")
    assert f'data-code="T1{tag.upper()}"' in page.text and f"Course mine-{tag}" in page.text
    with service.factory() as db:
        q = checkout.quote(db, TaxTable.load("builtin"), user=None, country="US", course=world["theirs"], coupon=code)
        assert q.discount_cents == 1000
    for fields, status, message in [({"code": "a b"}, 400, "A code is 2 to 64 letters"),
                                    ({"course": "no-such-course"}, 400, "Choose a course from the list"),
                                    ({"currency": "xyz"}, 400, "Choose the currency from the list"),
                                    ({"discount": "abc"}, 400, "A percentage off is a whole number"),
                                    ({"code": code}, 409, "exists")]:
        form = {"code": f"NEW{tag}", "discount_type": "percent", "discount": "10", "currency": "usd", **fields}
        r = admin.post("admin/coupons", form)
        assert r.status_code == status and message in text_of(r.text), (fields, r.status_code)
    with service.factory() as db:
        assert db.scalars(select(Coupon).where(Coupon.code == f"NEW{tag}".upper())).first() is None
        coupon_id = db.scalars(select(Coupon.id).where(Coupon.code == code)).one()
    assert "stopped" in admin.follow(admin.post(f"admin/coupons/{coupon_id}/stop")).text
    assert "already inactive" in admin.follow(admin.post(f"admin/coupons/{coupon_id}/stop")).text
    assert admin.post("admin/coupons/99999999/stop").status_code == 404
    assert audit_actions(service, f"admin-{tag}") == ["coupon.create", "coupon.deactivate"]


def test_bundles(service, world):
    admin, mine, theirs, tag = world["admin"], world["mine"], world["theirs"], world["tag"]
    form = [("slug", f"pack-{tag}"), ("title", "Both courses"), ("price", "59.90"), ("currency", "usd"),
            ("courses", mine), ("courses", theirs)]
    done = admin.follow(admin.post("admin/bundles", form))
    assert "Bundle Both courses is on sale" in done.text and "$59.90" in done.text
    with service.factory() as db:
        bundle = db.scalars(select(Bundle).where(Bundle.slug == f"pack-{tag}")).one()
        assert bundle.price_cents == 5990 and {c.slug for c in bundle.courses} == {mine, theirs}
        bundle_id = bundle.id
    bad = [({"price": "-1"}, 400, "The price cannot be negative"),
           ({"price": "cheap"}, 400, "The price is an amount like 99"),
           ({"price": "0"}, 400, "A bundle costs more than nothing"),
           ({"slug": "Not A Slug"}, 400, "The address name is lowercase letters"),
           ({"title": ""}, 400, "Enter the bundle's title"),
           ({"title": "x" * 201}, 400, "The title is limited to 200 characters"),
           ({"currency": "eur"}, 400, "is priced in USD, the bundle in EUR"),
           ({"courses": [mine]}, 400, "Choose at least two courses"),
           ({"courses": [mine, "no-such-course"]}, 404, "no course 'no-such-course'"),
           ({"courses": [mine, "NOT A SLUG"]}, 404, "no course 'NOT A SLUG'"),
           ({"slug": f"pack-{tag}"}, 409, "exists")]
    for fields, status, message in bad:
        values = {"slug": f"other-{tag}", "title": "Other", "price": "10", "currency": "usd", "courses": [mine, theirs],
                  **fields}
        items = [(k, v) for k, v in values.items() if k != "courses"] + [("courses", c) for c in values["courses"]]
        r = admin.post("admin/bundles", items)
        assert r.status_code == status and message in text_of(r.text), (fields, r.status_code, text_of(r.text)[-400:])
        assert 'id="bundle-error"' in r.text and f'value="{values["title"][:50]}' in r.text
        assert r.text.count("checked") == len([c for c in values["courses"] if c in (mine, theirs)])
    with service.factory() as db:
        assert db.scalars(select(Bundle).where(Bundle.slug == f"other-{tag}")).first() is None
    assert "off sale" in admin.follow(admin.post(f"admin/bundles/{bundle_id}/stop")).text
    with service.factory() as db, pytest.raises(NotFound):
        checkout.quote(db, TaxTable.load("builtin"), user=None, country="US", bundle=f"pack-{tag}")
    assert "already off sale" in admin.follow(admin.post(f"admin/bundles/{bundle_id}/stop")).text
    assert "on sale again" in admin.follow(admin.post(f"admin/bundles/{bundle_id}/resume")).text
    assert admin.post("admin/bundles/99999999/stop").status_code == 404
    assert audit_actions(service, f"admin-{tag}") == ["bundle.create", "bundle.deactivate", "bundle.activate"]


def share_bp(service, name: str):
    with service.factory() as db:
        return db.scalars(select(InstructorAccount.revenue_share_bp).join(Instructor, Instructor.id == InstructorAccount.instructor_id)
                          .join(User, User.id == Instructor.user_id).where(User.hub_name == name)).one_or_none()


def test_revenue_shares(service, world):
    admin, tag = world["admin"], world["tag"]
    page = admin.get("admin/revenue-shares")
    assert page.status_code == 200 and f'data-instructor="t1-{tag}"' in page.text and "(default)" in page.text
    with service.factory() as db:
        instructor_id = db.scalars(select(Instructor.id).join(User, User.id == Instructor.user_id)
                                   .where(User.hub_name == f"t1-{tag}")).one()
    done = admin.follow(admin.post("admin/revenue-shares", {"instructor": str(instructor_id), "share": "80"}))
    assert "Share set to 80%" in done.text and share_bp(service, f"t1-{tag}") == 8000
    for share, message in [("101", "A share is a whole percentage from 0 to 100"),
                           ("-5", "A share is a whole percentage from 0 to 100"),
                           ("half", "A share is a whole percentage from 0 to 100"),
                           ("", "Enter the instructor's share")]:
        r = admin.post("admin/revenue-shares", {"instructor": str(instructor_id), "share": share})
        assert r.status_code == 400 and message in text_of(r.text), share
        assert 'aria-invalid="true"' in r.text
    assert share_bp(service, f"t1-{tag}") == 8000
    assert admin.post("admin/revenue-shares", {"instructor": "x", "share": "5"}).status_code == 400
    assert admin.post("admin/revenue-shares", {"instructor": "99999999", "share": "5"}).status_code == 404
    admin.post("admin/revenue-shares", {"instructor": str(instructor_id), "reset": "1"})
    assert share_bp(service, f"t1-{tag}") is None
    with service.factory() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.actor_name == f"admin-{tag}").order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["revenue_share.set", "revenue_share.reset"]
    assert '"share_percent": 80' in entries[0].after


def test_refunds_and_moderation_from_the_console(service, world):
    admin, mine, tag = world["admin"], world["mine"], world["tag"]
    console = admin.get("admin/courses").text
    assert 'href="/services/lms/refunds"' in console and 'href="/services/lms/moderation"' in console
    assert admin.get("refunds").status_code == 200
    # a reported review links to its course, inside the console
    with service.factory() as db:
        from lms_extension.services import enrollments
        from lms_extension.models.discovery import Review

        student = db.scalars(select(User).where(User.hub_name == f"student-{tag}")).one()
        course = db.scalars(select(Course).where(Course.slug == mine)).one()
        review = Review(course_id=course.id, user_id=student.id, rating=1, body="spam", body_html="<p>spam</p>")
        db.add(review)
        db.flush()
        reporter = db.scalars(select(User).where(User.hub_name == f"t2-{tag}")).one()
        reviews.report(db, reporter, review.id, "advertising")
        db.commit()
    page = admin.get("moderation")
    assert page.status_code == 200 and 'aria-current="page">Reviews<' in page.text
    assert f'href="/services/lms/courses/{mine}#reviews"' in page.text and f"Course {mine}" in page.text
    report_id = int(page.text.split('name="report" value="')[1].split('"')[0])
    assert admin.post("moderation", {"report": str(report_id), "action": "remove"}).status_code == 302
    assert audit_actions(service, f"admin-{tag}") == ["review.remove"]
    assert world["t1"].get("moderation").status_code == 403


def test_an_admin_decides_a_refund_on_the_refunds_page_and_it_is_audited(service, world, tmp_path):
    from lms_extension.services.payments import refunds

    from .test_revenue import sell

    admin, tag = world["admin"], world["tag"]
    with service.factory() as db:
        buyer = db.scalars(select(User).where(User.hub_name == f"student-{tag}")).one()
        order = sell(db, buyer, world["theirs"], utcnow_day())
        request = refunds.request_refund(db, service.app.settings["lms_commerce_policy"], buyer, order.id, "not for me")
        db.commit()
        request_id = request.id
    page = admin.get("refunds")
    assert page.status_code == 200 and f'data-request="{request_id}"' in page.text and "not for me" in page.text
    assert world["t1"].post(f"refunds/{request_id}", {"decision": "reject"}).status_code == 403  # not their course
    done = admin.follow(admin.post(f"refunds/{request_id}", {"decision": "reject"}))
    assert "Rejected." in done.text
    with service.factory() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "refund.reject",
                                                    AuditEntry.target_id == str(request_id))).one()
        assert entry.actor_name == f"admin-{tag}" and '"amount_cents": 2900' in entry.after


def utcnow_day() -> str:
    from lms_extension.models.base import utcnow

    return utcnow().date().isoformat()
