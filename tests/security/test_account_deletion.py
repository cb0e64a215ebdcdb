"""Deleted accounts stay deleted.

LMS rows belong to the hub *account* (an id the hub's authenticator gives each account and
the hub hands to the LMS in ``user_info``), not to a user name that a later sign-up may take
again. Deleting the hub user erases the LMS data and the home folder; invoices the law
requires are kept with the buyer anonymised; a new sign-up with the same name starts empty.

Service-level tests run on SQLite and PostgreSQL; the end-to-end test drives the real
platform: sign up, enroll, buy through the bundled Stripe test server, submit, write a file
from a kernel, DELETE the hub user, sign up again with the same name.
"""
from __future__ import annotations

import io
import json
import re
import time
import uuid

import pytest
import requests
from pypdf import PdfReader
from sqlalchemy import create_engine, func, inspect, select, text

from lms_extension.errors import Conflict, NotAuthenticated, NotFound
from lms_extension.models import Base, Enrollment, User
from lms_extension.models.commerce import (AccessGrant, Invoice, InvoiceCounter, LedgerEntry, Order, RefundRequest,
                                           Subscription)
from lms_extension.models.discovery import Review, WishlistItem
from lms_extension.models.learning import Certificate, LessonNote
from lms_extension.models.notifications import Notification
from lms_extension.models.submission import NotebookSubmission
from lms_extension.services import enrollments, lesson_extras, lessons, reviews, wishlist
from lms_extension.services.payments import access, checkout, invoices, ledger
from lms_extension.services.payments.invoices import Seller
from lms_extension.services.payments.policy import CommercePolicy
from lms_extension.services.payments.tax import TaxTable
from lms_extension.services.users import sync_hub_user
from tests.factories import make_course, make_user

PLANS = {"monthly": 2900, "yearly": 29000}


def hub_model(name: str, account: str, **extra) -> dict:
    """The identity model the hub answers on /hub/api/user for an account of LMSAuthenticator."""
    return {"kind": "user", "name": name, "admin": False, "scopes": [],
            "user_info": {"lms_account_id": account}, **extra}


def new_account() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def policy():
    return CommercePolicy(platform_share_percent=30, refund_window_days=30, refund_max_progress_percent=30,
                          payout_hold_days=30, seller=Seller("Notebook Academy GmbH", "1 Notebook Street;10115 Berlin",
                                                             "DE123456789"), taxes=TaxTable.load("builtin"))


def paid_order(session, policy, user, **what):
    """A paid order with its access, ledger postings and invoice, as fulfilment leaves them."""
    q = checkout.quote(session, policy.taxes, user=user, country="DE", plan_prices=PLANS, **what)
    order = checkout.create_order(session, user, q)
    order.status, order.paid_at = "paid", order.created_at
    order.stripe_payment_intent_id = f"pi_{uuid.uuid4().hex[:12]}"
    session.flush()
    access.grant_order(session, order)
    ledger.post_sale(session, order, platform_share_percent=policy.platform_share_percent,
                     hold_days=policy.payout_hold_days)
    invoice = invoices.issue(session, order, policy.seller, source_key=f"order:{order.id}")
    return order, invoice


def pdf_text(invoice) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(invoices.render_pdf(invoice))).pages)


def rows_of(session, user_id: int) -> dict[str, int]:
    """How many rows of each table point at ``user_id`` through a foreign key to users.id."""
    counts = {}
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "users" and fk.parent.name != "id":
                n = session.execute(select(func.count()).select_from(table).where(fk.parent == user_id)).scalar_one()
                if n:
                    counts[f"{table.name}.{fk.parent.name}"] = n
    return counts


# -- identity: the account, not the name ------------------------------------------------------

def test_a_new_account_with_a_deleted_accounts_name_starts_empty(session, tmp_path):
    make_course(session, tmp_path, "acct-free-1")
    old = sync_hub_user(session, hub_model("reused-name", new_account()))
    enrollments.enroll(session, old, "acct-free-1")
    # the hub deleted the old account without telling the LMS; someone signs up with the name
    new = sync_hub_user(session, hub_model("reused-name", new_account()))
    assert new.id != old.id
    assert enrollments.enrollments_for(session, new) == []
    assert rows_of(session, new.id) == {}
    # the old account's rows are not erased by a guess, only moved out of the name's way
    assert session.get(User, old.id).hub_name != "reused-name"
    assert session.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.user_id == old.id)) == 1


def test_renamed_account_keeps_its_data(session, tmp_path):
    make_course(session, tmp_path, "acct-free-2")
    account = new_account()
    before = sync_hub_user(session, hub_model("before-rename", account))
    enrollments.enroll(session, before, "acct-free-2")
    after = sync_hub_user(session, hub_model("after-rename", account))
    assert after.id == before.id and after.hub_name == "after-rename"
    assert [e.course.slug for e in enrollments.enrollments_for(session, after)] == ["acct-free-2"]


def test_existing_rows_are_adopted_by_their_account_on_first_sight(session, tmp_path):
    """Rows made before accounts had ids (imports, demo users, older versions) belong to the
    account that holds the name when it is first seen."""
    make_course(session, tmp_path, "acct-free-3")
    legacy = make_user(session, "legacy-user")
    enrollments.enroll(session, legacy, "acct-free-3")
    account = new_account()
    seen = sync_hub_user(session, hub_model("legacy-user", account))
    assert seen.id == legacy.id and seen.hub_account_id == account
    assert len(enrollments.enrollments_for(session, seen)) == 1


# -- deletion ---------------------------------------------------------------------------------

def test_delete_account_erases_learning_data_and_anonymises_invoices(session, tmp_path, policy):
    from lms_extension.services import accounts

    make_course(session, tmp_path, "acct-free-4", lessons=2)
    paid = make_course(session, tmp_path, "acct-paid-4", price_cents=4900, lessons=4, instructor="acct-teacher")
    account = new_account()
    user = sync_hub_user(session, hub_model("leaving-user", account))
    user.display_name = "Leaving User"
    enrollments.enroll(session, user, "acct-free-4")
    lessons.deliver(session, user, "acct-free-4", "l1")
    lesson_extras.save_note(session, user, "acct-free-4", "l1", "my private note")
    wishlist.add(session, user, "acct-paid-4")
    order, invoice = paid_order(session, policy, user, course="acct-paid-4")
    for key in ("l1", "l2"):
        lessons.deliver(session, user, "acct-paid-4", key)
    review = reviews.create(session, user, "acct-paid-4", 4, "Helpful course, signed Leaving User", min_progress=0)
    session.add(RefundRequest(order_id=order.id, user_id=user.id, reason="my card was stolen, call me on 0151..."))
    lesson = paid.lessons[0]
    session.add(NotebookSubmission(user_id=user.id, lesson_id=lesson.id, lesson_version_id=lesson.versions[-1].id,
                                   notebooks="{}", status="graded"))
    session.add(Certificate(uid=uuid.uuid4().hex, user_id=user.id, course_id=paid.id, student_name="Leaving User",
                            course_title=paid.title))
    session.flush()
    assert "Leaving User" in pdf_text(invoice)
    counter = session.get(InvoiceCounter, (invoice.seller_key, invoice.year)).last_number
    ledger_before = [(e.entry_key, e.amount_cents, e.order_id) for e in
                     session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id).order_by(LedgerEntry.id))]
    stats_before = reviews.summary(reviews.stats_for(session, paid.id))

    outcome = accounts.delete_account(session, "leaving-user")
    session.flush()
    session.expire_all()

    assert outcome.erased and outcome.invoices_kept == 1
    tomb = session.get(User, user.id)
    assert tomb.deleted_at is not None and tomb.hub_name != "leaving-user" and "Leaving" not in tomb.display_name
    assert session.scalar(select(User).where(User.hub_name == "leaving-user")) is None
    # kept for the law and the books: the order, its invoice (same number, same amounts), the ledger
    kept = rows_of(session, user.id)
    assert set(kept) <= {"orders.user_id", "refund_requests.user_id", "reviews.user_id",
                         "notifications.actor_id"}, kept
    # the instructor's "new review" notice stays theirs; it names the course, not the leaver
    for note in session.scalars(select(Notification).where(Notification.actor_id == user.id)):
        assert "Leaving" not in note.title and "leaving-user" not in note.title
    assert session.get(Order, order.id).user_id == user.id
    inv = session.get(Invoice, invoice.id)
    assert (inv.number, inv.total_cents, inv.tax_cents, inv.issued_at) == (
        invoice.number, invoice.total_cents, invoice.tax_cents, invoice.issued_at)
    assert "Leaving" not in json.dumps(inv.snapshot) and "leaving-user" not in json.dumps(inv.snapshot)
    assert inv.snapshot["buyer"]["country"] == "DE"
    text_after = pdf_text(inv)
    assert invoice.number in text_after and "49.00 USD" in text_after and "Leaving" not in text_after
    assert session.get(InvoiceCounter, (invoice.seller_key, invoice.year)).last_number == counter
    assert [(e.entry_key, e.amount_cents, e.order_id) for e in session.scalars(
        select(LedgerEntry).where(LedgerEntry.order_id == order.id).order_by(LedgerEntry.id))] == ledger_before
    assert session.scalar(select(func.count()).select_from(AccessGrant).where(AccessGrant.user_id == user.id)) == 0
    assert "0151" not in session.scalar(select(RefundRequest.reason).where(RefundRequest.user_id == user.id))
    # the review stays for other buyers, with its rating, but nobody's name on it
    kept_review = session.get(Review, review.id)
    assert kept_review is not None and kept_review.rating == 4
    assert reviews.public(kept_review)["author"] == "Deleted user"
    assert reviews.summary(reviews.stats_for(session, paid.id)) == stats_before

    # the same name signs up again: nothing of the old account
    again = sync_hub_user(session, hub_model("leaving-user", new_account()))
    assert again.id != user.id and rows_of(session, again.id) == {}
    assert enrollments.enrollments_for(session, again) == []
    assert wishlist.items(session, again) == []
    assert session.scalar(select(func.count()).select_from(LessonNote).where(LessonNote.user_id == again.id)) == 0
    with pytest.raises(NotFound):
        invoices.for_user(session, again, invoice.id)
    # an admin still retrieves the invoice (anonymised)
    admin = make_user(session, "acct-admin", admin=True)
    assert invoices.for_user(session, admin, invoice.id).id == invoice.id


def test_deleted_accounts_identity_cannot_come_back(session):
    """A token or cookie of the deleted account still cached somewhere names the old account:
    it must not get a fresh row (and with it the name) again."""
    from lms_extension.services import accounts

    account = new_account()
    sync_hub_user(session, hub_model("gone-user", account))
    accounts.delete_account(session, "gone-user")
    with pytest.raises(NotAuthenticated):
        sync_hub_user(session, hub_model("gone-user", account))
    assert accounts.delete_account(session, "gone-user").erased is False  # idempotent


def test_active_subscription_is_cancelled_at_stripe_or_deletion_refused(session, tmp_path, policy):
    from stripe_test_server.testing import running_server

    from lms_extension.services import accounts
    from lms_extension.services.payments import fulfillment

    make_course(session, tmp_path, "acct-sub-5", price_cents=9900, instructor="acct-teacher-5")
    user = sync_hub_user(session, hub_model("subscriber", new_account()))
    with running_server() as srv:
        stripe = srv.client()
        q = checkout.quote(session, policy.taxes, user=user, country="AU", plan="monthly", plan_prices=PLANS)
        order = checkout.create_order(session, user, q)
        fulfillment.start_checkout(session, stripe, order, success_url="http://x/ok", cancel_url="http://x/no")
        srv.pay(order.stripe_session_id, card="4242424242424242", email="s@example.org", name="S")
        fulfillment.sync_session(session, stripe, policy, order.stripe_session_id)
        sub = session.scalar(select(Subscription).where(Subscription.order_id == order.id))
        assert sub is not None and sub.status == "active"
        # without Stripe the LMS cannot stop the renewals: refuse rather than keep charging
        with pytest.raises(Conflict, match="subscription"):
            accounts.delete_account(session, "subscriber")
        outcome = accounts.delete_account(session, "subscriber", stripe=stripe)
        assert outcome.erased and outcome.subscriptions_cancelled == [sub.stripe_subscription_id]
        assert stripe.v1.subscriptions.retrieve(sub.stripe_subscription_id).status == "canceled"


def test_every_reference_to_a_user_is_either_erased_or_kept_on_purpose():
    """A table added later with a user_id must be classified, or its rows would outlive the account."""
    from lms_extension.services import accounts

    referencing = {f"{t.name}.{fk.parent.name}" for t in Base.metadata.sorted_tables for fk in t.foreign_keys
                   if fk.column.table.name == "users" and fk.parent.name != "id"}
    classified = set(accounts.ERASED) | set(accounts.KEPT)
    assert referencing - classified == set(), "classify these in services/accounts.py"


# -- migration on databases with data -----------------------------------------------------------

def _empty_database(kind, tmp_path):
    from tests.conftest import _pg_available, _new_pg_database

    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'upgrade.sqlite'}", lambda: None
    if not _pg_available():
        pytest.skip("PostgreSQL is not reachable (start it to run the PostgreSQL half)")
    return _new_pg_database()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_upgrades_a_database_with_users(kind, tmp_path):
    from alembic import command

    from lms_extension.db import alembic_config, make_engine, upgrade

    url, drop = _empty_database(kind, tmp_path)
    engine = make_engine(url)
    try:
        upgrade(engine, "0007")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (hub_name, display_name, is_instructor, is_admin, last_seen_at, "
                              "created_at) VALUES ('old-a', 'A', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                              "('old-b', 'B', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO learner_profiles (user_id, timezone, leaderboard_opt_out) "
                              "SELECT id, 'Europe/Berlin', false FROM users"))
        upgrade(engine)
        with engine.connect() as conn:  # nothing pointing at a user was lost on the way
            assert conn.execute(text("SELECT count(*) FROM learner_profiles")).scalar_one() == 2
        columns = {c["name"] for c in inspect(engine).get_columns("users")}
        assert {"hub_account_id", "deleted_at"} <= columns
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT hub_name, hub_account_id, deleted_at FROM users ORDER BY hub_name")).all()
            assert [tuple(r) for r in rows] == [("old-a", None, None), ("old-b", None, None)]
            conn.execute(text("UPDATE users SET hub_account_id = 'x' WHERE hub_name = 'old-a'"))
        with pytest.raises(Exception):  # one row per account
            with engine.begin() as conn:
                conn.execute(text("UPDATE users SET hub_account_id = 'x' WHERE hub_name = 'old-b'"))
        command.downgrade(alembic_config(engine), "0007")
        assert "hub_account_id" not in {c["name"] for c in inspect(engine).get_columns("users")}
        upgrade(engine)
    finally:
        engine.dispose()
        drop()


# -- end to end: the hub deletes the user ------------------------------------------------------

FREE, PAID, LESSON = "python-for-beginners", "data-analysis-with-pandas", "01-hello-python"
CARD = {"email": "leaver@example.org", "card_number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123",
        "name": "Lea Leaver", "country": "DE"}


def _lms_db(p):
    return create_engine(p.env.get("LMS_DB_URL") or f"sqlite:///{p.data_dir / 'lms.sqlite'}")


def _wait(check, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _buy(p, api) -> dict:
    r = api.post(f"{p.lms}api/v1/payments/checkout", json={"course": PAID, "country": "DE"})
    assert r.status_code == 201, r.text
    order, url = r.json()["order"], r.json()["checkout_url"]
    paid = requests.post(url, data=CARD, allow_redirects=False, timeout=10)  # the hosted page, as a browser
    assert paid.status_code == 303, paid.text[:300]

    def is_paid():
        body = api.get(f"{p.lms}api/v1/payments/orders/{order['id']}").json()
        return body if body["status"] == "paid" and body["invoices"] else None
    return _wait(is_paid, "the order to be paid")


def test_deleting_the_hub_user_erases_lms_data_and_home(platform):
    from tests.e2e.kernel import run_code

    p, name = platform, "leaver"
    assert p.signup(name, "first-password-4821").status_code == 200
    p.login(name, "first-password-4821")  # the hub user is made at first login
    token = p.token(name)
    api = p.as_user(token)
    v1 = p.lms + "api/v1/"
    assert api.post(v1 + f"courses/{FREE}/enroll").status_code == 201
    for lesson in api.get(v1 + f"courses/{FREE}").json()["lessons"]:
        assert api.get(v1 + f"courses/{FREE}/lessons/{lesson['id']}/notebook").status_code == 200
    assert api.put(v1 + f"courses/{FREE}/lessons/{LESSON}/note", json={"body": "Lea's private note"}).status_code == 200
    assert api.post(v1 + f"courses/{FREE}/reviews", json={"rating": 5, "text": "Great, says Lea"}).status_code == 201
    assert api.put(v1 + f"me/wishlist/{FREE}").status_code in (200, 201)
    order = _buy(p, api)
    [invoice] = order["invoices"]
    release = api.get(v1 + f"courses/{FREE}/lessons/{LESSON}/notebook").json()["notebook"]
    assert api.post(v1 + f"courses/{FREE}/lessons/{LESSON}/submissions",
                    json={"notebooks": {f"{LESSON}.ipynb": release}}).status_code == 202
    p.start_server(name)
    out = run_code(p.url, name, token, "open('diary.txt', 'w').write('Lea was here'); print('written')")
    assert out["error"] is None and "written" in out["stdout"], out
    home = p.data_dir / "homes" / name
    assert (home / "diary.txt").exists() or (p.data_dir / "homes" / ".images" / f"{name}.img").exists()
    engine = _lms_db(p)
    account = p.hub("GET", f"users/{name}").json()["user_info"]["lms_account_id"]
    with engine.connect() as conn:  # the LMS row is the hub account's, by its id
        old_id, old_account = conn.execute(text("SELECT id, hub_account_id FROM users WHERE hub_name = :n"),
                                           {"n": name}).one()
    assert old_account == account

    r = p.hub("DELETE", f"users/{name}")  # what the hub's admin page does too
    assert r.status_code == 204, r.text

    # the home, its image and the sign-up record (password) are gone
    assert not home.exists() and not (p.data_dir / "homes" / ".images" / f"{name}.img").exists()
    with pytest.raises(AssertionError):
        p.login(name, "first-password-4821")
    assert api.get(v1 + "me/enrollments").status_code in (401, 403)  # the hub revoked the token
    with engine.connect() as conn:
        tomb = conn.execute(text("SELECT hub_name, display_name, deleted_at FROM users WHERE id = :i"),
                            {"i": old_id}).one()
        assert tomb.deleted_at is not None and name not in tomb.hub_name and "Lea" not in tomb.display_name
        assert conn.execute(text("SELECT count(*) FROM users WHERE hub_name = :n"), {"n": name}).scalar_one() == 0
        for table in ("enrollments", "lesson_progress", "lesson_notes", "wishlist_items", "notebook_submissions",
                      "access_grants", "xp_events", "activity_days"):
            n = conn.execute(text(f"SELECT count(*) FROM {table} WHERE user_id = :i"), {"i": old_id}).scalar_one()
            assert n == 0, f"{table} still holds {n} rows of the deleted account"
        kept = conn.execute(text("SELECT number, total_cents, tax_cents, snapshot FROM invoices WHERE id = :i"),
                            {"i": invoice["id"]}).one()
        assert kept.number == invoice["number"] and kept.total_cents == 4900 and kept.tax_cents == 782
        snapshot = kept.snapshot if isinstance(kept.snapshot, dict) else json.loads(kept.snapshot)
        assert "Lea" not in json.dumps(snapshot) and name not in json.dumps(snapshot).replace(tomb.hub_name, "")
    admin = p.as_user(p.token("admin"))
    pdf = admin.get(f"{v1}payments/invoices/{invoice['id']}/pdf")
    assert pdf.status_code == 200
    body = "".join(pg.extract_text() for pg in PdfReader(io.BytesIO(pdf.content)).pages)
    assert invoice["number"] in body and "49.00 USD" in body and "Deleted user" in body and "Lea" not in body
    reviews_now = requests.get(v1 + f"courses/{FREE}/reviews").json()["reviews"]
    assert all(rv["author"] != name for rv in reviews_now)

    # the same name signs up again: an empty account and an empty home
    assert p.signup(name, "second-password-9377").status_code == 200
    p.login(name, "second-password-9377")
    fresh_token = p.token(name)
    fresh = p.as_user(fresh_token)
    assert fresh.get(v1 + "me/enrollments").json()["enrollments"] == []
    new_account = p.hub("GET", f"users/{name}").json()["user_info"]["lms_account_id"]
    with engine.connect() as conn:
        new_id, seen_account = conn.execute(text("SELECT id, hub_account_id FROM users WHERE hub_name = :n"),
                                            {"n": name}).one()
    assert new_id != old_id and seen_account == new_account != account
    assert fresh.get(v1 + "payments/orders").json()["orders"] == []
    assert fresh.get(v1 + "me/wishlist").json()["courses"] == []
    assert fresh.get(v1 + "me/certificates").status_code == 200 and not fresh.get(v1 + "me/certificates").json().get(
        "certificates")
    assert fresh.get(v1 + f"courses/{FREE}/reviews/mine").status_code in (403, 404)
    assert fresh.get(f"{v1}payments/invoices/{invoice['id']}/pdf").status_code == 404
    p.start_server(name)
    out = run_code(p.url, name, fresh_token, "import os, json; print(json.dumps(sorted(os.listdir('.'))))")
    assert out["error"] is None, out
    assert "diary.txt" not in json.loads(out["stdout"].strip().splitlines()[-1])
    p.stop_server(name)
    engine.dispose()


def _docker_engine() -> bool:
    import shutil
    import subprocess

    return bool(shutil.which("docker")) and subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                                                          capture_output=True, timeout=10).returncode == 0


@pytest.mark.skipif(not _docker_engine(), reason="needs a Docker engine (the home volume lives in it)")
def test_deleting_a_docker_users_home_removes_its_home_volume():
    """A home volume ``lms-home-<name>`` (Docker homes before they had a size limit) would come
    back to the next account of the same name; deleting the user removes it."""
    import asyncio
    import subprocess
    import types

    from dockerspawner import DockerSpawner

    from hub_config.auth import remove_home
    from hub_config.docker_spawner import HOME_VOLUME

    name = f"gone-{uuid.uuid4().hex[:6]}"
    hub = types.SimpleNamespace(api_url="http://127.0.0.1:1/hub/api", base_url="/hub/", public_host="",
                                url="http://127.0.0.1:1/hub/")
    spawner = DockerSpawner(user=types.SimpleNamespace(name=name, id=1, url=f"/user/{name}/", server=None), hub=hub)
    volume = HOME_VOLUME.format(username=spawner.escaped_name)
    subprocess.run(["docker", "volume", "create", volume], check=True, capture_output=True)
    try:
        asyncio.run(remove_home(spawner))
        asyncio.run(remove_home(spawner))  # again: nothing left to remove is fine
        assert subprocess.run(["docker", "volume", "inspect", volume], capture_output=True).returncode != 0
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)
