"""The admin console: overview, users, settings, bulk actions, audit log."""
from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta
from urllib.parse import quote, urlencode

import requests
from sqlalchemy import func, select
from tornado import web

from ... import permissions
from ...errors import Conflict, InvalidInput, LMSError, NotFound
from ...models import User
from ...models.commerce import Invoice, Order
from ...services import account_email, accounts, admin_overview, audit, bulk, platform_settings, users
from ...services.hub_client import HubClient, HubUnavailable
from ..base import BaseHandler, requires

log = logging.getLogger("lms.admin")
ADMIN_ONLY = "the admin console is for LMS admins"
INSTRUCTORS_GROUP, ADMINS_GROUP = "instructors", "lms-admins"  # hub_config/roles.py
PAGE_SIZE = 50
MAX_PAGE = 100_000
CSV_MAX_ROWS = 50_000


class AdminHub(HubClient):
    """The hub calls of the console: groups (``HubClient``), and deleting a hub user."""

    def delete_user(self, name: str) -> bool:
        """Deletes the hub user ``name``: the hub's authenticator erases the LMS data, the home and
        the password with it (``hub_config/auth.py`` ``delete_user``). False: the hub has no such user."""
        if not self.api_url or not self.token:
            raise HubUnavailable("could not delete the account: the LMS service has no JupyterHub API address "
                                 "or token (it runs outside JupyterHub)")
        try:
            r = requests.delete(f"{self.api_url}/users/{quote(name, safe='')}", timeout=max(self.timeout, 60),
                                headers={"Authorization": f"token {self.token}"})
        except requests.RequestException:
            raise HubUnavailable("could not delete the account: JupyterHub did not answer") from None
        if r.status_code == 404:
            return False
        if r.status_code >= 300:
            try:
                detail = str(r.json().get("message") or "")[:300]
            except ValueError:
                detail = ""
            raise HubUnavailable(f"JupyterHub did not delete the account ({r.status_code}"
                                 f"{': ' + detail if detail else ''}); nothing was erased")
        return True


    def stop_server(self, name: str) -> bool:
        """Stops the user's JupyterLab (a deactivated account keeps no running server). Best
        effort: False (and logged) when the hub did not stop it; the login is refused anyway."""
        if not self.api_url or not self.token:
            return False
        try:
            r = requests.delete(f"{self.api_url}/users/{quote(name, safe='')}/server", timeout=self.timeout,
                                headers={"Authorization": f"token {self.token}"})
        except requests.RequestException as exc:
            log.warning("could not stop %s's server: %s", name, exc)
            return False
        if r.status_code in (202, 204, 400, 404):  # stopping, stopped, not running, no such user
            return True
        log.warning("could not stop %s's server: the hub answered %s", name, r.status_code)
        return False


class AdminView(BaseHandler):
    """A console page: admins only; ``render_admin`` fills the console frame."""

    @property
    def hub(self) -> AdminHub:
        made = self.settings.get("lms_admin_hub")
        return made if made is not None else AdminHub(self.hub_auth.api_url, self.hub_auth.api_token)

    def render_admin(self, template: str, section: str, status: int = 200, **ns) -> None:
        self.set_status(status)
        self.render_page(template, admin_section=section, **ns)

    def page_arg(self) -> int:
        raw = self.get_argument("page", "1").strip() or "1"
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise InvalidInput(f"page must be a whole number from 1 to {MAX_PAGE}, not {raw[:20]!r}")
        return int(raw)

    def text_arg(self, name: str, limit: int = 200) -> str:
        value = self.get_argument(name, "").strip()
        if len(value) > limit:
            raise InvalidInput(f"{name.replace('_', ' ')} is at most {limit} characters", field=name)
        if any(ord(ch) < 32 for ch in value):
            raise InvalidInput(f"{name.replace('_', ' ')} may not contain control characters", field=name)
        return value


# -- overview ------------------------------------------------------------------------------------
class OverviewPage(AdminView):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.render_admin("admin/overview.html", "overview", counts=admin_overview.counts(self.db))


# -- users ---------------------------------------------------------------------------------------
USER_ACTIONS = {
    "make_instructor": "Made {name} an instructor",
    "remove_instructor": "Removed the instructor role of {name}",
    "make_admin": "Made {name} an admin",
    "remove_admin": "Removed the admin role of {name}",
    "deactivate": "Deactivated {name}: they cannot log in nor use the LMS",
    "reactivate": "Reactivated {name}",
}


def _filters(handler: AdminView) -> dict:
    return {"q": handler.text_arg("q"), "role": handler.get_argument("role", ""),
            "state": handler.get_argument("state", "")}


class UsersPage(AdminView):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.show()

    def show(self, error: LMSError | None = None, status: int = 200) -> None:
        try:
            filters = _filters(self)
            page = self.page_arg()
            rows, total = users.search(self.db, **filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        except InvalidInput as exc:
            if error is None:
                error, status = exc, 400
            filters, page = {"q": "", "role": "", "state": ""}, 1
            rows, total = users.search(self.db, limit=PAGE_SIZE)
        self.render_admin("admin/users.html", "users", status=status, rows=rows, total=total, page=page,
                          pages=max(1, -(-total // PAGE_SIZE)), filters=filters, error=error,
                          query=urlencode({k: v for k, v in filters.items() if v}), actor=self.lms_user,
                          roles=users.ROLE_FILTERS, states=users.STATE_FILTERS,
                          verified=account_email.verified_ids(self.db, rows))


def _target(db, name: str) -> User:
    user = users.by_name(db, name) if name and len(name) <= 255 else None
    if user is None or user.deleted_at is not None:
        raise NotFound("no such user")
    return user


class UserActionPage(UsersPage):
    """One change to one account: a role (through the hub's groups) or its state."""

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        actor = self.require_user()
        name, action = self.get_body_argument("user", ""), self.get_body_argument("action", "")
        try:
            if action not in USER_ACTIONS:
                raise InvalidInput("choose what to change: " + ", ".join(USER_ACTIONS))
            target = _target(self.db, name)
            self.change(actor, target, action)
        except LMSError as exc:
            self.db.rollback()
            if exc.status in (401, 403, 404):
                raise
            self.show(exc, exc.status)
            return
        self.db.commit()
        self.add_notice(USER_ACTIONS[action].format(name=target.hub_name))
        query = self.get_body_argument("back", "")
        self.redirect(self.config.service_prefix + "admin/users" + (f"?{query}" if query and len(query) < 600
                                                                      and "\n" not in query else ""), status=303)

    def change(self, actor: User, target: User, action: str) -> None:
        if action in ("deactivate", "reactivate"):
            if users.set_active(self.db, actor, target, action == "reactivate") and action == "deactivate":
                self.db.commit()  # deactivated first: the login is refused even if the server cannot be stopped
                self.hub.stop_server(target.hub_name)
            return
        name = target.hub_name
        if action == "make_instructor":
            users.set_roles(self.db, actor, target, is_instructor=True, is_admin=bool(target.is_admin),
                            change="make instructor")
            self.hub.add_to_group(INSTRUCTORS_GROUP, [name])
        elif action == "remove_instructor":
            users.set_roles(self.db, actor, target, is_instructor=False, is_admin=bool(target.is_admin),
                            change="remove the instructor role")
            self.hub.remove_from_group(INSTRUCTORS_GROUP, [name])
        elif action == "make_admin":
            users.set_roles(self.db, actor, target, is_instructor=True, is_admin=True, change="make admin")
            self.hub.add_to_group(ADMINS_GROUP, [name])
        elif action == "remove_admin":
            if target.id == actor.id:
                raise Conflict("you cannot remove your own admin role: ask another admin")
            teaches = name in self.hub.group_members(INSTRUCTORS_GROUP)
            users.set_roles(self.db, actor, target, is_instructor=teaches, is_admin=False, change="remove admin")
            self.hub.remove_from_group(ADMINS_GROUP, [name])


class DeleteUserPage(AdminView):
    """Deleting an account, after a confirmation that says what is kept and what is erased."""

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.confirm(_target(self.db, self.get_argument("user", "")))

    def confirm(self, target: User, error: LMSError | None = None, status: int = 200) -> None:
        orders = self.db.scalar(select(func.count(Order.id)).where(Order.user_id == target.id)) or 0
        invoices = self.db.scalar(select(func.count(Invoice.id)).join(Order, Order.id == Invoice.order_id)
                                  .where(Order.user_id == target.id)) or 0
        self.render_admin("admin/delete_user.html", "users", status=status, target=target, orders=orders,
                          invoices=invoices, error=error, erased=sorted({k.split(".")[0].replace("_", " ")
                                                                         for k in accounts.ERASED}),
                          kept=accounts.KEPT)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        actor = self.require_user()
        target = _target(self.db, self.get_body_argument("user", ""))
        name, account_id = target.hub_name, target.hub_account_id
        try:
            if self.get_body_argument("confirm", "").strip() != name:
                raise InvalidInput(f"type the username {name} to confirm the deletion", field="confirm")
            if target.id == actor.id:
                raise Conflict("you cannot delete your own account here")
            before = {"name": name, "display_name": target.display_name, "email": target.email,
                      "instructor": bool(target.is_instructor), "admin": bool(target.is_admin)}
            self.db.commit()  # no transaction of ours holds the rows the hub's deletion erases
            in_hub = self.hub.delete_user(name)  # the hub erases the LMS data, the home, the password
            self.db.expire_all()  # the hub's deletion erased rows this session had loaded
            outcome = accounts.delete_account(self.db, name, account_id=account_id,
                                              stripe=self.application.settings.get("lms_stripe_client"))
            audit.record(self.db, actor, "user.delete", "user", name, before=before, after={"deleted": True},
                         summary=f"Deleted the account {name}" + ("" if in_hub else " (not in the hub)"))
        except LMSError as exc:
            self.db.rollback()
            if exc.status in (401, 403, 404):
                raise
            self.confirm(_target(self.db, name), exc, exc.status)
            return
        self.db.commit()
        kept = f"; {outcome.invoices_kept} invoice(s) kept, anonymised" if outcome.invoices_kept else ""
        self.add_notice(f"Deleted the account {name}{kept}.")
        self.redirect(self.config.service_prefix + "admin/users", status=303)


# -- settings ------------------------------------------------------------------------------------
class SettingsPage(AdminView):
    @property
    def defaults(self) -> dict:
        return platform_settings.defaults_from(self.config)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.show(platform_settings.effective(self.db, self.defaults))

    def show(self, values: dict, error: LMSError | None = None, status: int = 200) -> None:
        self.render_admin("admin/settings.html", "settings", status=status, values=values, defaults=self.defaults,
                          settings=platform_settings.SETTINGS, changed=platform_settings.overridden(self.db),
                          error=error, problems=(error.details.get("problems") or {}) if error else {})

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        typed = {key: self.get_body_argument(key, "")[:50] for key in platform_settings.SETTINGS
                 if self.get_body_argument(key, None) is not None}
        try:
            platform_settings.update(self.db, self.require_user(), typed, self.defaults, from_form=True)
        except InvalidInput as exc:
            self.db.rollback()
            self.show({**platform_settings.effective(self.db, self.defaults), **typed}, exc, 400)
            return
        self.db.commit()
        self.add_notice("Settings saved.")
        self.redirect(self.config.service_prefix + "admin/settings", status=303)


# -- bulk actions --------------------------------------------------------------------------------
class BulkPage(AdminView):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        self.show({"action": "", "course": "", "names": "", "source": "list", "q": "", "role": "", "state": ""})

    def show(self, form: dict, *, plan: bulk.Plan | None = None, names: list[str] | None = None,
             error: LMSError | None = None, status: int = 200) -> None:
        from ...models import Course

        courses = list(self.db.scalars(select(Course).order_by(Course.title)))
        self.render_admin("admin/bulk.html", "bulk", status=status, form=form, plan=plan, names=names or [],
                          error=error, actions=bulk.ACTIONS, course_actions=bulk.COURSE_ACTIONS, courses=courses,
                          roles=users.ROLE_FILTERS, states=users.STATE_FILTERS)

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def post(self):
        actor = self.require_user()
        arg = self.get_body_argument
        form = {"action": arg("action", "")[:40], "course": arg("course", "")[:200], "names": arg("names", ""),
                "source": arg("source", "list")[:10], "q": arg("q", "")[:200], "role": arg("role", "")[:20],
                "state": arg("state", "")[:20]}
        names: list[str] = []
        try:
            names = self.names(form)
            course = form["course"] if form["action"] in bulk.COURSE_ACTIONS else None
            if arg("mode", "dry_run") == "apply":
                expected = arg("expected", "").split()  # browsers send the lines with CRLF
                result = bulk.apply(self.db, actor, form["action"], names, course, expected=expected, hub=self.hub)
                self.db.commit()
                if result.action == "deactivate":  # their logins are refused now; their servers stop too
                    for name in result.names:
                        self.hub.stop_server(name)
                self.add_notice(f"{bulk.ACTIONS[result.action]}: {len(result.changes)} changed, "
                                f"{len(result.skipped)} skipped.")
                self.redirect(self.config.service_prefix + "admin/bulk", status=303)
                return
            result = bulk.plan(self.db, actor, form["action"], names, course)
        except LMSError as exc:
            self.db.rollback()
            if exc.status in (401, 403):
                raise
            self.show(form, names=names, error=exc, status=exc.status)
            return
        self.db.rollback()  # a dry run changes nothing
        self.show(form, plan=result, names=names)

    def names(self, form: dict) -> list[str]:
        if self.get_body_argument("mode", "dry_run") == "apply":
            return bulk.parse_names(self.get_body_argument("resolved", ""))
        if form["source"] == "filter":
            if form["role"] not in users.ROLE_FILTERS or form["state"] not in users.STATE_FILTERS:
                raise InvalidInput("choose a role and a state from the lists", field="filter")
            return bulk.names_from_filter(self.db, q=form["q"], role=form["role"], state=form["state"])
        if form["source"] != "list":
            raise InvalidInput("choose who: a list of usernames or the filter", field="source")
        text = form["names"]
        for upload in self.request.files.get("csv") or []:
            try:
                text += "\n" + upload["body"].decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InvalidInput("the CSV file must be UTF-8 text", field="csv") from None
        return bulk.parse_names(text)


# -- audit log -----------------------------------------------------------------------------------


def _diff(entry: dict) -> list[tuple[str, object, object]]:
    """(field, before, after) rows of an entry's documents, for reading."""
    before, after = entry["before"], entry["after"]
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("", before, after)] if before is not None or after is not None else []
    return [(key, before.get(key, ""), after.get(key, "")) for key in list(dict.fromkeys([*before, *after]))]


class AuditView(AdminView):
    def search_args(self) -> dict:
        since, until = audit.parse_day(self.text_arg("since", 10), "since"), audit.parse_day(self.text_arg("until", 10), "until")
        if since and until and since > until:
            raise InvalidInput("the start date is after the end date", field="since")
        return {"text": self.text_arg("text"), "actor": self.text_arg("actor"), "action": self.text_arg("action", 80),
                "target_type": self.text_arg("target_type", 40), "target_id": self.text_arg("target_id"),
                "since": since, "until": until + timedelta(days=1) if until else None}

    def typed(self) -> dict:
        return {k: self.get_argument(k, "")[:200] for k in ("text", "actor", "action", "target_type", "target_id",
                                                            "since", "until")}


class AuditPage(AuditView):
    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        error, status = None, 200
        try:
            page = self.page_arg()
            result = audit.search(self.db, **self.search_args(), offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        except InvalidInput as exc:
            error, status, page = exc, 400, 1
            result = audit.search(self.db, limit=PAGE_SIZE)
        entries = [audit.decoded(e) for e in result.entries]
        query = urlencode({k: v for k, v in self.typed().items() if v}) if error is None else ""
        self.render_admin("admin/audit.html", "audit", status=status, entries=[(e, _diff(e)) for e in entries],
                          total=result.total, page=page, pages=max(1, -(-result.total // PAGE_SIZE)),
                          typed=self.typed(), query=query, error=error)


class AuditCSV(AuditView):
    """The current search as CSV (newest first)."""

    @web.authenticated
    @requires(permissions.ADMIN, ADMIN_ONLY)
    def get(self):
        args = self.search_args()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "at", "actor", "action", "target_type", "target_id", "summary", "before", "after"])
        offset = 0
        while offset < CSV_MAX_ROWS:
            page = audit.search(self.db, **args, offset=offset, limit=1000)
            for e in page.entries:
                writer.writerow([_cell(v) for v in (e.id, e.at.isoformat() if e.at else "", e.actor_name, e.action,
                                                    e.target_type, e.target_id, e.summary, e.before, e.after)])
            offset += 1000
            if offset >= page.total:
                break
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="audit-log.csv"')
        self.finish(out.getvalue())


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


default_handlers = [
    (r"admin", OverviewPage),
    (r"admin/users", UsersPage),
    (r"admin/users/action", UserActionPage),
    (r"admin/users/delete", DeleteUserPage),
    (r"admin/settings", SettingsPage),
    (r"admin/bulk", BulkPage),
    (r"admin/audit", AuditPage),
    (r"admin/audit\.csv", AuditCSV),
]
