"""The audit log: entries are appended with the change they record, found again by search, and
the database itself refuses to change or delete one."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DatabaseError

from lms_extension.errors import InvalidInput
from lms_extension.models.audit import AuditEntry
from lms_extension.models.base import utcnow
from lms_extension.services import audit
from lms_extension.services.users import ensure_user


def test_record_and_search(session):
    admin = ensure_user(session, "audit-admin", admin=True)
    audit.record(session, admin, "coupon.create", "coupon", "SPRING", after={"percent_off": 20},
                 summary="created coupon SPRING")
    before, after = audit.changes({"price_cents": 1000, "title": "A"}, {"price_cents": 1500, "title": "A"})
    assert (before, after) == ({"price_cents": 1000}, {"price_cents": 1500})
    audit.record(session, admin, "course.update", "course", "python-basics", before=before, after=after)
    audit.record(session, None, "course.publish", "course", "python-basics")

    page = audit.search(session, actor="audit-admin")
    assert page.total == 2 and [e.action for e in page.entries] == ["course.update", "coupon.create"]
    assert audit.search(session, action="course.").total == 2
    assert audit.search(session, text="1500").entries[0].action == "course.update"
    assert audit.search(session, target_type="coupon", target_id="SPRING").total == 1
    assert audit.search(session, since=utcnow() + timedelta(hours=1)).total == 0
    row = audit.decoded(audit.search(session, action="course.update").entries[0])
    assert row["before"] == {"price_cents": 1000} and row["actor"] == "audit-admin"
    assert audit.search(session, action="course.publish").entries[0].actor_name == "system"
    with pytest.raises(InvalidInput):
        audit.search(session, limit=0)


def test_search_escapes_like_wildcards(session):
    audit.record(session, None, "user.deactivate", "user", "x")
    assert audit.search(session, action="user%").total == 0


@pytest.mark.parametrize("statement", [
    lambda: update(AuditEntry).values(summary="rewritten"),
    lambda: delete(AuditEntry),
])
def test_entries_cannot_be_changed_or_deleted(session, statement):
    entry = audit.record(session, None, "refund.approve", "order", "7", summary="original")
    with pytest.raises(DatabaseError, match="only be appended"):
        with session.begin_nested():
            session.execute(statement())
    assert session.scalar(text("select summary from audit_log where id = :i"), {"i": entry.id}) == "original"
