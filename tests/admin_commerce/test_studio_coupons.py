"""An instructor's coupons for their own course (teach/courses/<slug>/coupons): made, listed with
their uses, stopped; every refusal a 400/403/404/409 with a clear message and nothing stored; the
coupon takes money off that course only, through the real checkout pricing."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from lms_extension.errors import InvalidInput, NotFound
from lms_extension.models import User
from lms_extension.models.audit import AuditEntry
from lms_extension.models.commerce import Coupon
from lms_extension.services.payments import bundles, checkout, coupons
from lms_extension.services.payments.tax import TaxTable

from .conftest import text_of

TAXES = TaxTable.load("builtin")


def stored(service, code: str) -> Coupon | None:
    with service.factory() as db:
        return db.scalars(select(Coupon).where(Coupon.code == code.upper())).one_or_none()


def quote(service, code: str, **item):
    with service.factory() as db:
        return checkout.quote(db, TAXES, user=None, country="US", coupon=code,
                              plan_prices={"monthly": 1900, "yearly": 19000}, **item)


def test_instructor_makes_a_coupon_for_their_course_only(service, world):
    t1, mine, theirs, tag = world["t1"], world["mine"], world["theirs"], world["tag"]
    page = t1.get(f"teach/courses/{mine}/coupons")
    assert page.status_code == 200 and "No coupons for this course yet" in page.text
    assert 'aria-current="page">Coupons<' in page.text  # the studio's navigation
    code = f"SPRING{tag}".upper()
    r = t1.post(f"teach/courses/{mine}/coupons", {"code": code.lower(), "discount_type": "percent", "discount": "25",
                                                   "max_uses": "10", "expires": (date.today() + timedelta(days=30)).isoformat()})
    listing = t1.follow(r)
    assert f"Coupon {code} created" in listing.text and f'data-code="{code}"' in listing.text
    assert "25% off" in listing.text and "0 of 10" in listing.text
    coupon = stored(service, code)
    assert coupon.percent_off == 25 and coupon.max_uses == 10 and coupon.course_id is not None
    # the checkout's own pricing: 25 % off this course ...
    q = quote(service, code, course=mine)
    assert q.coupon.code == code and q.discount_cents == 4900 * 25 // 100
    # ... and refused for another instructor's course, a bundle and a plan
    with pytest.raises(InvalidInput, match="cannot be used"):
        quote(service, code, course=theirs)
    with service.factory() as db:
        admin = db.scalars(select(User).where(User.hub_name == f"admin-{tag}")).one()
        bundles.create_bundle(db, admin, slug=f"pack-{tag}", title="Pack", price_cents=5000, currency="usd",
                              course_slugs=[mine, theirs])
        db.commit()
    with pytest.raises(InvalidInput, match="cannot be used"):
        quote(service, code, bundle=f"pack-{tag}")
    with pytest.raises(InvalidInput, match="cannot be used"):
        quote(service, code, plan="monthly")
    # audited, with who did it
    with service.factory() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "coupon.create",
                                                    AuditEntry.target_id == code)).one()
        assert entry.actor_name == f"t1-{tag}" and '"percent_off": 25' in entry.after


def test_an_amount_off_coupon_is_in_the_course_currency(service, world):
    code = f"FIVE{world['tag']}".upper()
    world["t1"].post(f"teach/courses/{world['mine']}/coupons",
                     {"code": code, "discount_type": "amount", "discount": "5,50", "max_uses": "", "expires": ""})
    coupon = stored(service, code)
    assert coupon.amount_off_cents == 550 and coupon.currency == "usd" and coupon.max_uses is None
    assert quote(service, code, course=world["mine"]).discount_cents == 550


@pytest.mark.parametrize("fields, message", [
    ({"code": ""}, "Enter a code"),
    ({"code": "has space"}, "A code is 2 to 64 letters"),
    ({"code": "X" * 65}, "A code is 2 to 64 letters"),
    ({"code": "<script>alert(1)</script>"}, "A code is 2 to 64 letters"),
    ({"discount_type": "free"}, "Choose a percentage or an amount off"),
    ({"discount": ""}, "Enter the discount"),
    ({"discount": "0"}, "A percentage off is a whole number from 1 to 100"),
    ({"discount": "101"}, "A percentage off is a whole number from 1 to 100"),
    ({"discount": "12.5"}, "A percentage off is a whole number from 1 to 100"),
    ({"discount": "9" * 5000}, "A percentage off is a whole number from 1 to 100"),
    ({"discount_type": "amount", "discount": "-5"}, "The amount off cannot be negative"),
    ({"discount_type": "amount", "discount": "five"}, "The amount off is an amount like 5 or 4.99"),
    ({"discount_type": "amount", "discount": "0.00"}, "The amount off must be more than zero"),
    ({"max_uses": "0"}, "Uses is a whole number of at least 1"),
    ({"max_uses": "ten"}, "Uses is a whole number of at least 1"),
    ({"max_uses": "100000000"}, "Uses is at most 1,000,000"),
    ({"expires": "31/12/2030"}, "The last day is a date like 2026-12-31"),
    ({"expires": "2020-01-01"}, "The last day is already past"),
])
def test_bad_coupon_forms_are_refused_and_typed_values_kept(service, world, fields, message):
    code = f"BAD{world['tag']}".upper()
    form = {"code": code, "discount_type": "percent", "discount": "10", "max_uses": "", "expires": "", **fields}
    r = world["t1"].post(f"teach/courses/{world['mine']}/coupons", form)
    assert r.status_code == 400, r.text[:300]
    assert message in text_of(r.text)
    assert 'id="coupon-error"' in r.text and 'id="coupon-form"' in r.text
    if fields.get("code", code) and len(fields.get("code", code)) < 100:
        assert 'value="%s"' % (fields.get("code", code).replace("<", "&lt;").replace(">", "&gt;")) in r.text
    assert "<script>alert" not in r.text
    assert stored(service, form["code"] if len(form["code"]) <= 64 else "X") is None


def test_a_code_that_exists_is_a_409_and_the_first_coupon_stays(service, world):
    code = f"TWICE{world['tag']}".upper()
    form = {"code": code, "discount_type": "percent", "discount": "10"}
    assert world["t1"].post(f"teach/courses/{world['mine']}/coupons", form).status_code == 303
    r = world["t2"].post(f"teach/courses/{world['theirs']}/coupons", {**form, "discount": "90"})
    assert r.status_code == 409 and "exists" in r.text
    assert stored(service, code).percent_off == 10


def test_other_people_cannot_make_or_stop_my_coupons(service, world):
    mine, code = world["mine"], f"MINE{world['tag']}".upper()
    form = {"code": code, "discount_type": "percent", "discount": "100"}
    r = world["t2"].post(f"teach/courses/{mine}/coupons", form)
    assert r.status_code == 403 and "only the course's instructor or an admin" in text_of(r.text)
    assert world["t2"].get(f"teach/courses/{mine}/coupons").status_code == 403
    r = world["student"].post(f"teach/courses/{mine}/coupons", form)
    assert r.status_code == 403 and "only instructors make coupons" in r.text
    assert world["visitor"].get(f"teach/courses/{mine}/coupons").status_code in (302, 303)  # to the login
    assert world["t1"].get("teach/courses/no-such-course/coupons").status_code == 404
    assert stored(service, code) is None
    # an admin may act for the instructor
    assert world["admin"].post(f"teach/courses/{mine}/coupons", form).status_code == 303
    coupon_id = stored(service, code).id
    # the other instructor can neither stop it on my course nor through their own
    assert world["t2"].post(f"teach/courses/{mine}/coupons/{coupon_id}/stop").status_code == 403
    assert world["t2"].post(f"teach/courses/{world['theirs']}/coupons/{coupon_id}/stop").status_code == 404
    assert stored(service, code).active


def test_stopping_a_coupon_ends_it_at_checkout(service, world):
    t1, mine, code = world["t1"], world["mine"], f"STOP{world['tag']}".upper()
    t1.post(f"teach/courses/{mine}/coupons", {"code": code, "discount_type": "percent", "discount": "50"})
    assert quote(service, code, course=mine).discount_cents == 2450
    coupon_id = stored(service, code).id
    page = t1.follow(t1.post(f"teach/courses/{mine}/coupons/{coupon_id}/stop"))
    assert f"Coupon {code} stopped" in page.text and "Stopped" in page.text
    assert not stored(service, code).active
    with pytest.raises(InvalidInput):
        quote(service, code, course=mine)
    again = t1.follow(t1.post(f"teach/courses/{mine}/coupons/{coupon_id}/stop"))
    assert "already inactive" in again.text
    assert t1.post(f"teach/courses/{mine}/coupons/999999/stop").status_code == 404
    with service.factory() as db:
        assert db.scalars(select(AuditEntry).where(AuditEntry.action == "coupon.deactivate",
                                                   AuditEntry.target_id == code)).one().actor_name == f"t1-{world['tag']}"
