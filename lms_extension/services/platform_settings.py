"""Settings an admin changes at run time, on the console's settings page: the one writer of
``platform_settings``.

Each setting has a start-up default from ``LMSConfig`` (``defaults_from``); a stored row
overrides it until changed again. Readers pass the default they were configured with and get
the effective value (``get``): the refund window (``payments/refunds.py``), the default
revenue share (``payments/ledger.py``), and the hub, which reads the sign-up mode and the
2FA requirement from the LMS database at sign-up and login (``hub_config/auth.py``).
Every change is audited with its before and after.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models.admin import PlatformSetting
from ..models.base import utcnow
from . import audit

SIGNUP_MODES = ("open", "approved")
TWO_FACTOR_MODES = ("off", "staff", "everyone")
MAX_REFUND_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    help: str
    kind: str  # "choice" or "int"
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0
    unit: str = ""

    def check(self, raw: Any, *, from_form: bool = False) -> Any:
        """The value ``raw`` as this setting's type, or ``InvalidInput`` saying what is allowed.
        ``from_form``: text typed in a form ("14"); otherwise JSON values of the right type."""
        if self.kind == "choice":
            if not isinstance(raw, str) or raw.strip() not in self.choices:
                raise InvalidInput(f"{self.label} must be one of: {', '.join(self.choices)}", field=self.key)
            return raw.strip()
        if from_form and isinstance(raw, str):
            text = raw.strip()
            if not text or not text.lstrip("-").isdigit() or len(text) > 9:
                raise InvalidInput(f"{self.label} must be a whole number from {self.minimum} to {self.maximum}, "
                                   f"not {raw[:20]!r}", field=self.key)
            raw = int(text)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidInput(f"{self.label} must be a whole number from {self.minimum} to {self.maximum}",
                               field=self.key)
        if not self.minimum <= raw <= self.maximum:
            raise InvalidInput(f"{self.label} must be from {self.minimum} to {self.maximum}{self.unit}, not {raw}",
                               field=self.key)
        return raw


SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("signup_mode", "Sign-up", "open: new accounts log in at once; approved: an admin approves each new "
            "account first (on the hub's Authorize users page).", "choice", SIGNUP_MODES),
    Setting("require_2fa", "Two-factor authentication", "off: optional; staff: instructors and admins must use it; "
            "everyone: every account must. Who has none yet is shown the key to set it up at their next login.",
            "choice", TWO_FACTOR_MODES),
    Setting("refund_window_days", "Refund window", "Days after a purchase in which a student may ask for a refund.",
            "int", minimum=0, maximum=MAX_REFUND_WINDOW_DAYS, unit=" days"),
    Setting("instructor_share_percent", "Default revenue share",
            "Percent of each sale (tax excluded) an instructor keeps, unless their own share is set on the "
            "Revenue shares page. Applies to sales from now on.", "int", minimum=0, maximum=100, unit=" %"),
)}


def defaults_from(config) -> dict[str, Any]:
    """The start-up defaults from ``LMSConfig`` (what the settings are without a stored change)."""
    return {
        "signup_mode": "open" if config.open_signup else "approved",
        "require_2fa": "staff" if config.require_2fa else "off",
        "refund_window_days": int(config.refund_window_days),
        "instructor_share_percent": 100 - int(config.platform_share_percent),
    }


def _stored(session: Session) -> dict[str, Any]:
    values = {}
    for row in session.scalars(select(PlatformSetting)):
        try:
            values[row.key] = json.loads(row.value)
        except ValueError:
            continue  # a broken row: the default holds
    return values


def get(session: Session, key: str, default: Any) -> Any:
    """The effective value of ``key``: the stored change if there is a valid one, else ``default``."""
    setting = SETTINGS[key]
    row = session.get(PlatformSetting, key)
    if row is None:
        return default
    try:
        return setting.check(json.loads(row.value))
    except (ValueError, InvalidInput):
        return default


def effective(session: Session, defaults: dict[str, Any]) -> dict[str, Any]:
    """Every setting's effective value."""
    stored = _stored(session)
    values = {}
    for key, setting in SETTINGS.items():
        try:
            values[key] = setting.check(stored[key]) if key in stored else defaults[key]
        except InvalidInput:
            values[key] = defaults[key]
    return values


def overridden(session: Session) -> set[str]:
    """The keys an admin has changed (the others follow the configuration)."""
    return set(session.scalars(select(PlatformSetting.key)))


def parse(raw: dict, *, from_form: bool = False) -> dict[str, Any]:
    """Checked values of the known settings in ``raw``; unknown keys are refused. Every
    problem is reported at once (``InvalidInput`` with ``problems``: field -> message)."""
    if not isinstance(raw, dict):
        raise InvalidInput("the settings must be an object of setting names and values")
    unknown = sorted(str(k)[:40] for k in raw if k not in SETTINGS)
    if unknown:
        raise InvalidInput(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    values, problems = {}, {}
    for key, value in raw.items():
        try:
            values[key] = SETTINGS[key].check(value, from_form=from_form)
        except InvalidInput as exc:
            problems[key] = exc.message
    if problems:
        raise InvalidInput("; ".join(problems.values()), problems=problems)
    return values


def update(session: Session, actor, changes: dict[str, Any], defaults: dict[str, Any], *,
           from_form: bool = False) -> dict[str, Any]:
    """Store the changed settings (checked with ``parse``) and audit them as one
    ``settings.update`` entry with the values before and after; returns the effective values.
    Values equal to the current ones change nothing and leave no entry."""
    values = parse(changes, from_form=from_form)
    before = effective(session, defaults)
    changed = {k: v for k, v in values.items() if before[k] != v}
    for key, value in changed.items():
        row = session.get(PlatformSetting, key)
        if row is None:
            session.add(PlatformSetting(key=key, value=json.dumps(value), updated_at=utcnow()))
        else:
            row.value, row.updated_at = json.dumps(value), utcnow()
    if changed:
        session.flush()
        old, new = audit.changes(before, {**before, **changed})
        audit.record(session, actor, "settings.update", "settings", "platform", before=old, after=new,
                     summary="Changed " + ", ".join(f"{SETTINGS[k].label.lower()} from {old[k]} to {new[k]}"
                                                    for k in changed))
    return effective(session, defaults)


# the readers' shorthands: the configured default in, the effective value out
def refund_window_days(session: Session, default: int) -> int:
    return get(session, "refund_window_days", default)


def instructor_share_percent(session: Session, default: int) -> int:
    return get(session, "instructor_share_percent", default)


def signup_mode(session: Session, default: str) -> str:
    return get(session, "signup_mode", default)


def two_factor_mode(session: Session, default: str) -> str:
    return get(session, "require_2fa", default)

