"""Pages: a course's roster, deadline extensions and gradebook downloads.

The roster's search, filter, sort and page are query parameters, so a view works without
JavaScript and can be bookmarked. A student's page shows their lessons and the extension form.
"""
from __future__ import annotations

from urllib.parse import quote, urlencode

from tornado import web
from tornado.ioloop import IOLoop

from ... import permissions
from ...errors import InvalidInput, LMSError
from ...models import User
from ...services import extensions, gradebook, roster
from ..base import BaseHandler, requires

SLUG = r"([a-z0-9][a-z0-9-]{0,99})"
STUDENT = r"([^/]{1,255})"
TEACHERS_ONLY = "only instructors can see a course's students"


def _download(handler: BaseHandler, name: str, kind: str, body) -> None:
    handler.set_header("Content-Type", kind)
    handler.set_header("Content-Disposition", f'attachment; filename="{name}"')
    handler.set_header("Cache-Control", "no-store")  # students' grades
    handler.finish(body)


class RosterPage(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def get(self, slug: str):
        user = self.require_user()
        asked = {name: self.get_query_argument(name, "") for name in ("q", "status", "sort", "order", "page", "per_page")}
        error = None
        try:
            page = roster.course_roster(self.db, user, slug, **{k: v for k, v in asked.items() if v})
        except InvalidInput as exc:  # a hand-edited link: say what is wrong, show the plain roster
            error = exc
            self.set_status(exc.status)
            page = roster.course_roster(self.db, user, slug)
        filters = {k: v for k, v in (("q", page.q), ("status", page.status), ("sort", page.sort),
                                     ("order", page.order)) if v and (k, v) not in (
            ("status", "all"), ("sort", "name"), ("order", "asc"))}
        if page.per_page != roster.DEFAULT_PER_PAGE:
            filters["per_page"] = str(page.per_page)
        self.render_page("teach/roster.html", course=page.course, roster=page, error=error,
                         filters=filters, query=urlencode(filters), sorts=roster.SORTS, statuses=roster.FILTERS,
                         link=lambda **changes: "?" + urlencode({**filters, **changes}))


class StudentView(BaseHandler):
    def _render(self, slug: str, username: str, error: LMSError | None = None, form: dict | None = None) -> None:
        course, row = roster.student(self.db, self.require_user(), slug, username)
        if error is not None:
            self.set_status(error.status)
        self.render_page("teach/roster_student.html", course=course, row=row, error=error, form=form or {},
                         student_path=quote(row.user.hub_name, safe=""),
                         example=extensions.DEADLINE_EXAMPLE)


class StudentPage(StudentView):
    @web.authenticated
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def get(self, slug: str, username: str):
        self._render(slug, username)


class ExtensionForm(StudentView):
    """POST ``lesson``, ``deadline`` (date and time, UTC), ``reason``, ``action`` = grant | remove."""

    @web.authenticated
    @requires(permissions.TEACH, "only instructors can change a student's deadline")
    def post(self, slug: str, username: str):
        user = self.require_user()
        form = {name: self.get_body_argument(name, "") for name in ("lesson", "deadline", "reason", "action")}
        try:
            if form["action"] == "remove":
                done = extensions.remove(self.db, user, slug, username, form["lesson"])
                notice = "Extension removed: the lesson's deadline applies again." if done else "There was no extension."
            elif form["action"] in ("grant", ""):
                extensions.grant(self.db, user, slug, username, form["lesson"], form["deadline"], form["reason"])
                notice = "Extension saved."
            else:
                raise InvalidInput("choose to save or to remove the extension")
        except InvalidInput as exc:  # the form again, with what was typed
            self.db.rollback()
            self._render(slug, username, exc, form)
            return
        self.db.commit()
        self.add_notice(notice)
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/roster/{quote(username, safe='')}",
                      status=303)


class GradebookCSV(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def get(self, slug: str):
        course, text = gradebook.csv_text(self.db, self.require_user(), slug)
        _download(self, f"{course.slug}-gradebook.csv", "text/csv; charset=utf-8", text)


class GradebookDB(BaseHandler):
    """nbgrader's ``gradebook.db``: written off the event loop (nbgrader is slow to load)."""

    @web.authenticated
    @requires(permissions.TEACH, TEACHERS_ONLY)
    async def get(self, slug: str):
        user_id = self.require_user().id
        factory = self.settings["session_factory"]

        def export() -> tuple[str, bytes]:
            with factory() as session:  # a session of its own in the worker thread
                course, data = gradebook.nbgrader_db(session, session.get(User, user_id), slug)
                return course.slug, data

        course_slug, data = await IOLoop.current().run_in_executor(None, export)
        _download(self, f"{course_slug}-gradebook.db", "application/vnd.sqlite3", data)


default_handlers = [
    (rf"teach/courses/{SLUG}/roster", RosterPage),
    (rf"teach/courses/{SLUG}/roster/{STUDENT}", StudentPage),
    (rf"teach/courses/{SLUG}/roster/{STUDENT}/extensions", ExtensionForm),
    (rf"teach/courses/{SLUG}/gradebook\.csv", GradebookCSV),
    (rf"teach/courses/{SLUG}/gradebook\.db", GradebookDB),
]
