"""The hub's side of account email (hub_config/auth.py), with a real hub database: the address
given at an approved or two-factor sign-up reaches the LMS, and the authenticator's writes to
the LMS database."""
from __future__ import annotations

import secrets

from jupyterhub import orm
from sqlalchemy import select

from hub_config.auth import LMSAuthenticator
from lms_extension.config import LMSConfig
from lms_extension.db import session_factory
from lms_extension.models.mail import MailOutbox
from lms_extension.services import account_email, users

PASSWORD = "copper-lantern-51-quiet"


def authenticator(engine, tmp_path) -> LMSAuthenticator:
    hub_db = orm.new_session_factory(f"sqlite:///{tmp_path / 'hub.sqlite'}")()
    config = LMSConfig(db_url=engine.url.render_as_string(hide_password=False))
    return LMSAuthenticator(_deprecated_db_session=hub_db, lms_config=config, bcrypt_rounds=4,
                            throttle_url=f"sqlite:///{tmp_path / 'throttle.sqlite'}")


def test_an_approved_sign_ups_address_reaches_the_lms_at_its_first_login(engine, tmp_path):
    auth = authenticator(engine, tmp_path)
    name = f"appr-{secrets.token_hex(3)}"
    auth.create_user(name, PASSWORD, email=f"{name}@example.org")
    # approved later; the hub creates its user at the first login (no user_info from sign-up)
    hub_user = orm.User(name=name)
    auth.db.add(hub_user)
    auth.db.commit()
    auth.add_user(hub_user)
    assert hub_user.user_info["email"] == f"{name}@example.org" and hub_user.user_info["lms_account_id"]
    with session_factory(engine)() as db:
        lms_user = users.sync_hub_user(db, {"name": name, "scopes": [], "user_info": hub_user.user_info})
        assert lms_user.email == f"{name}@example.org"
        db.commit()
    # what the hub's "Forgot password?" runs, in its own transaction on the LMS database
    links = auth.lms_links()
    assert links.hub.endswith("/hub/") and links.lms.endswith("/services/lms/")
    assert auth.lms_write(lambda db: account_email.request_password_reset(db, f"{name}@example.org", links)) == 1
    with session_factory(engine)() as db:
        rows = db.scalars(select(MailOutbox).where(MailOutbox.to_addr == f"{name}@example.org")).all()
        assert [r.kind for r in rows] == ["password_reset"]


def test_a_user_made_without_sign_up_gets_no_address(engine, tmp_path):
    auth = authenticator(engine, tmp_path)
    hub_user = orm.User(name=f"api-{secrets.token_hex(3)}")
    auth.db.add(hub_user)
    auth.db.commit()
    auth.add_user(hub_user)
    assert "email" not in hub_user.user_info
