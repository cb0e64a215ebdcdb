"""The hub's authenticator reads the console's run-time settings and account states from the LMS
database at each sign-up and login (SQLite and PostgreSQL): an approved-mode sign-up waits for
an admin, the 2FA requirement applies to whom the setting says, a deactivated account cannot
log in and its hub login ends at the next refresh."""
from __future__ import annotations

import asyncio
import secrets
from types import SimpleNamespace

import pytest
from jupyterhub import orm

from hub_config.auth import LMSAuthenticator, TwoFactorEnrollment
from lms_extension.config import LMSConfig
from lms_extension.db import session_factory
from lms_extension.services import platform_settings, users

PASSWORD = "copper-lantern-51-quiet"


@pytest.fixture
def lms(engine):
    return session_factory(engine)


def authenticator(engine, tmp_path, **traits) -> LMSAuthenticator:
    hub_db = orm.new_session_factory(f"sqlite:///{tmp_path / 'hub.sqlite'}")()
    config = LMSConfig(db_url=engine.url.render_as_string(hide_password=False))
    return LMSAuthenticator(_deprecated_db_session=hub_db, lms_config=config, bcrypt_rounds=4,
                            throttle_url=f"sqlite:///{tmp_path / 'throttle.sqlite'}", **traits)


def settle(lms, **values) -> None:
    """The console's settings as an admin saved them (committed: the hub reads its own connection)."""
    with lms() as db:
        boss = users.ensure_user(db, "hub-test-admin", admin=True)
        platform_settings.update(db, boss, values, platform_settings.defaults_from(LMSConfig()))
        db.commit()


def handler():
    return SimpleNamespace(request=SimpleNamespace(headers={}, remote_ip="127.0.0.1"))


def login(auth, name: str, **extra):
    h = handler()
    return asyncio.run(auth.authenticate(h, {"username": name, "password": PASSWORD, **extra})), h


def test_an_approved_mode_sign_up_waits_for_an_admin(engine, lms, tmp_path):
    auth = authenticator(engine, tmp_path, open_signup=True)  # the start-up configuration said open
    settle(lms, signup_mode="approved")
    name = f"new-{secrets.token_hex(3)}"
    info = auth.create_user(name, PASSWORD, email=f"{name}@example.org")
    assert info is not None and not info.is_authorized
    user, h = login(auth, name)
    assert user is None and h.lms_login_refusal == "not_authorized"
    # the admin approves on the hub's Authorize page: NativeAuthenticator's flag
    info.is_authorized = True
    auth.db.commit()
    assert login(auth, name)[0] == name
    settle(lms, signup_mode="open")
    other = auth.create_user(f"open-{secrets.token_hex(3)}", PASSWORD, email="o@example.org")
    assert other.is_authorized


def test_the_two_factor_requirement_follows_the_setting(engine, lms, tmp_path):
    auth = authenticator(engine, tmp_path, open_signup=True, require_2fa=True)
    name = f"learner-{secrets.token_hex(3)}"
    auth.create_user(name, PASSWORD, email="l@example.org")
    settle(lms, signup_mode="open", require_2fa="everyone")
    with pytest.raises(TwoFactorEnrollment):
        login(auth, name)
    settle(lms, require_2fa="staff")
    assert login(auth, name)[0] == name  # a student: not staff
    settle(lms, require_2fa="off")
    assert auth.two_factor_mode() == "off"


def test_a_deactivated_account_cannot_log_in_and_its_hub_login_ends(engine, lms, tmp_path):
    auth = authenticator(engine, tmp_path, open_signup=True)
    settle(lms, signup_mode="open", require_2fa="off")
    name = f"gone-{secrets.token_hex(3)}"
    auth.create_user(name, PASSWORD, email="g@example.org")
    assert login(auth, name)[0] == name
    with lms() as db:
        target = users.ensure_user(db, name)
        users.set_active(db, None, target, False)
        db.commit()
    user, h = login(auth, name)
    assert user is None and h.lms_login_refusal == "deactivated"
    assert asyncio.run(auth.refresh_user(SimpleNamespace(name=name))) is False
    assert auth.refresh_pre_spawn is True
    with lms() as db:
        users.set_active(db, None, users.by_name(db, name), True)
        db.commit()
    assert login(auth, name)[0] == name
    assert asyncio.run(auth.refresh_user(SimpleNamespace(name=name))) is True


def test_without_the_lms_database_the_hubs_own_settings_hold(tmp_path):
    hub_db = orm.new_session_factory(f"sqlite:///{tmp_path / 'hub.sqlite'}")()
    auth = LMSAuthenticator(_deprecated_db_session=hub_db, bcrypt_rounds=4, open_signup=False, require_2fa=True,
                            lms_config=LMSConfig(db_url="postgresql+psycopg://nobody@127.0.0.1:9/none"),
                            throttle_url=f"sqlite:///{tmp_path / 'throttle.sqlite'}")
    assert auth.signup_mode() == "approved" and auth.two_factor_mode() == "staff"
    assert auth.lms_deactivated("anyone") is False
