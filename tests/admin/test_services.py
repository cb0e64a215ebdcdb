"""The console's services on SQLite and PostgreSQL: run-time settings, account state and
roles, user search, bulk plans and their application; each change leaves an audit entry."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lms_extension.config import LMSConfig
from lms_extension.errors import Conflict, Forbidden, InvalidInput, LMSError, NotFound
from lms_extension.models import Enrollment
from lms_extension.models.base import utcnow
from lms_extension.models.commerce import Order
from lms_extension.services import audit, bulk, enrollments, platform_settings as ps, users
from lms_extension.services.payments import ledger, refunds
from lms_extension.services.payments.policy import CommercePolicy
from tests.conftest import own_engine
from tests.factories import make_course, make_user

@pytest.fixture(scope="module")
def engine(db_url, tmp_path_factory):
    """A database of these tests' own: the page tests beside them commit settings and log entries,
    and these count them from none (each test still rolls back)."""
    yield from own_engine(db_url, tmp_path_factory)


DEFAULTS = ps.defaults_from(LMSConfig(open_signup=False, require_2fa=False, refund_window_days=30,
                                      platform_share_percent=30))


def entries(session, action: str) -> list[dict]:
    return [audit.decoded(e) for e in audit.search(session, action=action, limit=100).entries]


# -- settings ------------------------------------------------------------------------------------
def test_settings_default_to_the_configuration(session):
    assert DEFAULTS == {"signup_mode": "approved", "require_2fa": "off", "refund_window_days": 30,
                        "instructor_share_percent": 70}
    assert ps.effective(session, DEFAULTS) == DEFAULTS
    assert ps.refund_window_days(session, 30) == 30


def test_a_change_overrides_the_default_and_is_audited_with_before_and_after(session):
    boss = make_user(session, "set-boss", admin=True)
    values = ps.update(session, boss, {"refund_window_days": 14, "signup_mode": "open"}, DEFAULTS)
    assert values["refund_window_days"] == 14 and values["signup_mode"] == "open"
    assert ps.refund_window_days(session, 30) == 14 and ps.signup_mode(session, "approved") == "open"
    assert ps.overridden(session) >= {"refund_window_days", "signup_mode"}
    (entry,) = entries(session, "settings.update")
    assert entry["actor"] == "set-boss"
    assert entry["before"] == {"refund_window_days": 30, "signup_mode": "approved"}
    assert entry["after"] == {"refund_window_days": 14, "signup_mode": "open"}
    # the same values again change nothing and add no entry
    ps.update(session, boss, {"refund_window_days": 14}, DEFAULTS)
    assert len(entries(session, "settings.update")) == 1


@pytest.mark.parametrize("raw, message", [
    ({"refund_window_days": -1}, "from 0 to 365"),
    ({"refund_window_days": 366}, "from 0 to 365"),
    ({"refund_window_days": "14"}, "whole number"),
    ({"refund_window_days": True}, "whole number"),
    ({"refund_window_days": 1.5}, "whole number"),
    ({"instructor_share_percent": 101}, "from 0 to 100"),
    ({"signup_mode": "sometimes"}, "open, approved"),
    ({"require_2fa": ["staff"]}, "off, staff, everyone"),
    ({"free_money": 1}, "unknown setting"),
])
def test_bad_values_are_refused_and_nothing_is_stored(session, raw, message):
    boss = make_user(session, "set-boss2", admin=True)
    with pytest.raises(InvalidInput, match=message):
        ps.update(session, boss, raw, DEFAULTS)
    assert ps.effective(session, DEFAULTS) == DEFAULTS and not entries(session, "settings.")


def test_form_values_are_parsed_from_text_and_every_problem_reported(session):
    assert ps.parse({"refund_window_days": " 7 ", "instructor_share_percent": "80"}, from_form=True) == \
        {"refund_window_days": 7, "instructor_share_percent": 80}
    with pytest.raises(InvalidInput) as info:
        ps.parse({"refund_window_days": "seven", "instructor_share_percent": "1e3"}, from_form=True)
    assert set(info.value.details["problems"]) == {"refund_window_days", "instructor_share_percent"}


def test_the_refund_window_setting_decides_refund_eligibility(session, tmp_path):
    boss = make_user(session, "set-boss3", admin=True)
    buyer = make_user(session, "set-buyer")
    course = make_course(session, tmp_path, "set-course", price_cents=4900, instructor="set-teacher")
    order = Order(user_id=buyer.id, kind="course", course_id=course.id, status="paid", currency="usd", country="US",
                  subtotal_cents=4900, total_cents=4900, paid_at=utcnow() - timedelta(days=20))
    session.add(order)
    session.flush()
    policy = CommercePolicy(refund_window_days=30)
    assert refunds.eligibility(session, policy, order) is None
    ps.update(session, boss, {"refund_window_days": 14}, DEFAULTS)
    assert refunds.eligibility(session, policy, order) == "refunds can be asked within 14 days of purchase"


def test_the_default_revenue_share_setting_applies_to_instructors_without_their_own(session, tmp_path):
    boss = make_user(session, "set-boss4", admin=True)
    make_course(session, tmp_path, "share-course", instructor="share-teacher")
    teacher = users.by_name(session, "share-teacher")
    assert ledger.share_bp(session, teacher.instructor.id, 30) == 7000
    ps.update(session, boss, {"instructor_share_percent": 85}, DEFAULTS)
    assert ledger.share_bp(session, teacher.instructor.id, 30) == 8500


# -- account state and roles ---------------------------------------------------------------------
def test_a_deactivated_account_cannot_use_the_lms_until_reactivated(session):
    boss = make_user(session, "st-boss", admin=True)
    user = make_user(session, "st-user")
    model = {"name": "st-user", "kind": "user", "scopes": []}
    assert users.sync_hub_user(session, model) is user
    assert users.set_active(session, boss, user, False) is True
    assert users.is_deactivated(session, "st-user")
    with pytest.raises(Forbidden, match="deactivated"):
        users.sync_hub_user(session, model)
    assert users.set_active(session, boss, user, False) is False  # already: no second entry
    users.set_active(session, boss, user, True)
    assert users.sync_hub_user(session, model) is user and not users.is_deactivated(session, "st-user")
    assert [e["action"] for e in entries(session, "user.")] == ["user.reactivate", "user.deactivate"]
    assert entries(session, "user.deactivate")[0]["before"] == {"active": True}


def test_an_admin_cannot_deactivate_themselves(session):
    boss = make_user(session, "st-boss2", admin=True)
    with pytest.raises(Conflict, match="your own"):
        users.set_active(session, boss, boss, False)


def test_role_flags_follow_and_are_audited(session):
    boss = make_user(session, "st-boss3", admin=True)
    user = make_user(session, "st-learner")
    assert users.set_roles(session, boss, user, is_instructor=True, is_admin=False, change="make instructor")
    assert user.is_instructor and user.instructor is not None
    (entry,) = entries(session, "user.roles")
    assert entry["before"] == {"instructor": False} and entry["after"] == {"instructor": True}
    assert not users.set_roles(session, boss, user, is_instructor=True, is_admin=False, change="again")


def test_search_by_name_display_name_email_role_and_state(session):
    make_user(session, "srch-ada")
    grace = make_user(session, "srch-grace", instructor=True)
    users.sync_hub_user(session, {"name": "srch-grace", "scopes": [], "user_info": {"email": "hopper@navy.example"}})
    grace.display_name = "Grace Hopper"
    session.flush()
    names = lambda **kw: [u.hub_name for u in users.search(session, **kw)[0]]  # noqa: E731
    assert names(q="srch-") == ["srch-grace", "srch-ada"]
    assert names(q="HOPPER") == ["srch-grace"]
    assert names(q="navy.example") == ["srch-grace"]
    assert names(q="srch%") == []  # a literal %, not a wildcard
    assert "srch-ada" in names(q="srch", role="student") and "srch-ada" not in names(q="srch", role="instructor")
    users.set_active(session, None, grace, False)
    assert names(q="srch", state="deactivated") == ["srch-grace"]
    assert names(q="srch", state="active") == ["srch-ada"]
    for bad in ({"role": "king"}, {"state": "gone"}, {"q": "x" * 201}, {"q": "a\x00b"}, {"limit": 0}):
        with pytest.raises(InvalidInput):
            users.search(session, **bad)


def test_the_email_from_the_hub_is_erased_with_the_account(session):
    from lms_extension.services import accounts

    users.sync_hub_user(session, {"name": "mail-me", "scopes": [], "user_info": {"email": "me@example.org"}})
    user = users.by_name(session, "mail-me")
    assert user.email == "me@example.org"
    accounts.delete_account(session, "mail-me")
    session.refresh(user)
    assert user.email == "" and user.deleted_at is not None


# -- bulk ----------------------------------------------------------------------------------------
def test_parse_names_from_text_and_csv():
    assert bulk.parse_names("ada\n grace,linus;ada\r\nusername\n\"ken\"\t dmr") == ["ada", "grace", "linus", "ken", "dmr"]
    assert bulk.parse_names("email,username\nada@example.org,ada\nx@example.org,grace\n") == ["ada", "grace"]
    assert bulk.parse_names("ada,grace\nlinus\n") == ["ada", "grace", "linus"]
    with pytest.raises(InvalidInput, match="at most"):
        bulk.parse_names("\n".join(f"u{i}" for i in range(bulk.MAX_USERS + 1)))
    with pytest.raises(InvalidInput, match="characters"):
        bulk.parse_names("a" * (bulk.MAX_INPUT_CHARS + 1))


def test_a_dry_run_shows_each_change_and_each_skip_and_changes_nothing(session):
    boss = make_user(session, "bk-boss", admin=True)
    for name in ("bk-a", "bk-b"):
        make_user(session, name)
    gone = make_user(session, "bk-c")
    users.set_active(session, boss, gone, False)
    plan = bulk.plan(session, boss, "deactivate", ["bk-a", "bk-b", "bk-c", "bk-boss", "nobody-here", "<script>"])
    assert [(c.name, c.before, c.after) for c in plan.changes] == [("bk-a", "active", "deactivated"),
                                                                   ("bk-b", "active", "deactivated")]
    assert {s.name: s.reason for s in plan.skipped} == {
        "bk-c": "already deactivated", "bk-boss": "you cannot deactivate your own account",
        "nobody-here": "no such user", "<script>": "not a username"}
    assert not users.is_deactivated(session, "bk-a")


def test_apply_changes_exactly_the_dry_runs_list_and_audits_each(session):
    boss = make_user(session, "bk-boss2", admin=True)
    for name in ("bk-d", "bk-e"):
        make_user(session, name)
    names = ["bk-d", "bk-e", "bk-nobody"]
    plan = bulk.plan(session, boss, "deactivate", names)
    done = bulk.apply(session, boss, "deactivate", names, expected=plan.names)
    assert done.names == ["bk-d", "bk-e"]
    assert users.is_deactivated(session, "bk-d") and users.is_deactivated(session, "bk-e")
    assert {e["target_id"] for e in entries(session, "user.deactivate")} >= {"bk-d", "bk-e"}
    (run,) = entries(session, "bulk.apply")
    assert run["after"]["skipped"] == [{"user": "bk-nobody", "reason": "no such user"}]


def test_apply_refuses_when_the_plan_changed_since_the_dry_run(session):
    boss = make_user(session, "bk-boss3", admin=True)
    make_user(session, "bk-f")
    g = make_user(session, "bk-g")
    plan = bulk.plan(session, boss, "deactivate", ["bk-f", "bk-g"])
    users.set_active(session, boss, g, False)  # someone else did it meanwhile
    with pytest.raises(Conflict, match="dry run"):
        bulk.apply(session, boss, "deactivate", ["bk-f", "bk-g"], expected=plan.names)
    assert not users.is_deactivated(session, "bk-f")


def test_bulk_enroll_and_revoke(session, tmp_path):
    boss = make_user(session, "bk-boss4", admin=True)
    course = make_course(session, tmp_path, "bk-course", price_cents=4900, instructor="bk-teacher")
    a, b = make_user(session, "bk-h"), make_user(session, "bk-i")
    enrollments.grant(session, b.id, course.id, "purchase")
    plan = bulk.plan(session, boss, "enroll", ["bk-h", "bk-i"], "bk-course")
    assert [c.name for c in plan.changes] == ["bk-h"] and plan.skipped[0].reason == "already enrolled (purchase)"
    bulk.apply(session, boss, "enroll", ["bk-h", "bk-i"], "bk-course", expected=plan.names)
    held = {e.user_id: e.source for e in session.scalars(select(Enrollment).where(Enrollment.course_id == course.id))}
    assert held == {a.id: "admin", b.id: "purchase"}
    revoke = bulk.plan(session, boss, "revoke", ["bk-h", "bk-i"], "bk-course")
    assert [c.name for c in revoke.changes] == ["bk-h"] and "refund" in revoke.skipped[0].reason
    bulk.apply(session, boss, "revoke", ["bk-h", "bk-i"], "bk-course", expected=revoke.names)
    held = {e.user_id for e in session.scalars(select(Enrollment).where(Enrollment.course_id == course.id))}
    assert held == {b.id}
    assert [e["action"] for e in entries(session, "enrollment.")] == ["enrollment.revoke", "enrollment.grant"]
    with pytest.raises(NotFound):
        bulk.plan(session, boss, "enroll", ["bk-h"], "no-such-course")
    with pytest.raises(InvalidInput, match="course"):
        bulk.plan(session, boss, "enroll", ["bk-h"], "")


def test_role_actions_need_the_hub_and_a_refusal_raises(session):
    boss = make_user(session, "bk-boss5", admin=True)
    make_user(session, "bk-j")
    make_user(session, "bk-k")

    class Refusing:  # a hub that refuses: the error reaches the caller, who rolls back
        def add_to_group(self, group, names):
            raise LMSError("could not add bk-j to the hub group 'instructors': JupyterHub did not answer")

    with pytest.raises(LMSError, match="did not answer"):
        bulk.apply(session, boss, "add_instructor", ["bk-j"], hub=Refusing())
    with pytest.raises(InvalidInput, match="hub"):
        bulk.apply(session, boss, "add_instructor", ["bk-k"], hub=None)


@pytest.mark.parametrize("action, names, message", [
    ("explode", ["a"], "choose an action"),
    ("deactivate", [], "at least one user"),
])
def test_bad_bulk_requests(session, action, names, message):
    boss = make_user(session, "bk-boss6", admin=True)
    with pytest.raises(InvalidInput, match=message):
        bulk.plan(session, boss, action, names)
