"""Pages for instructors: the teaching dashboard, a new course, the course editor (with a live
Markdown preview), the lessons with their sources and policies, publish/unpublish, zip import and
export and pulls from a git URL. Every form re-renders with its message and what was typed when
the input is refused; the services decide and record what changed."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from tornado import web

from ... import permissions
from ...errors import Conflict, InvalidInput, LMSError, PayloadTooLarge
from ...models.course import LEVELS
from ...services import course_authoring as authoring, covers, teaching
from ...services.course_import import CURRENCIES
from ..base import BaseHandler, requires
from ..markdown import render_markdown

SLUG_RE = r"([a-z0-9][a-z0-9-]{0,99})"
TEACHERS_ONLY = "only instructors have a teaching page"
EDITORS_ONLY = "only instructors can edit courses"
PRICE = re.compile(r"\d{1,9}(?:[.,]\d{1,2})?")
COURSE_FORM = ("title", "subtitle", "description", "category", "level", "language", "price", "currency",
               "pass_threshold")


class TeachView(BaseHandler):
    def _render(self, error: LMSError | None = None, error_slug: str | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        rows = teaching.courses_taught(self.db, self.require_user())
        self.render_page("teach.html", rows=rows, error=error, error_slug=error_slug,
                         max_kb=covers.MAX_IMAGE_BYTES // 1000)


class TeachPage(TeachView):
    @web.authenticated
    @requires(permissions.TEACH, TEACHERS_ONLY)
    def get(self):
        self._render()


class CoverUpload(TeachView):
    """A new cover image for one of the instructor's courses (multipart ``cover``); from the course
    editor (``from=editor``) it returns there."""

    @web.authenticated
    @requires(permissions.TEACH, "only instructors can change a course's cover")
    def post(self, slug: str):
        files = self.request.files.get("cover") or []
        from_editor = self.get_body_argument("from", "") == "editor"
        try:
            if len(files) != 1:
                raise InvalidInput("choose one image file for the cover")
            authoring.upload_cover(self.db, self.settings["storage"], self.require_user(), slug, files[0]["body"])
        except (InvalidInput, PayloadTooLarge) as exc:
            self.db.rollback()
            if from_editor:
                course = authoring.course_for_teacher(self.db, self.require_user(), slug)
                render_editor(self, course, error=exc, error_at="cover")
            else:
                self._render(exc, slug)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()  # the cards show the new cover at once
        self.add_notice("Cover saved.")
        target = f"teach/courses/{slug}" if from_editor else "teach"
        self.redirect(self.config.service_prefix + target, status=303)


# -- a course's fields ---------------------------------------------------------------------------
def price_to_cents(raw: str) -> int:
    raw = (raw or "").strip()
    if not raw:
        return 0
    if not PRICE.fullmatch(raw):
        raise InvalidInput("Price must be an amount like 19.99 (0 for a free course)", field="price_cents")
    units, _, fraction = raw.replace(",", ".").partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])


def cents_to_price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}" if cents % 100 else str(cents // 100)


def threshold_from_percent(raw: str):
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        percent = float(raw.replace(",", "."))
    except ValueError:
        raise InvalidInput("Completion threshold is a percentage from 1 to 100", field="pass_threshold") from None
    if not 1 <= percent <= 100:
        raise InvalidInput("Completion threshold is a percentage from 1 to 100", field="pass_threshold")
    return round(percent / 100, 4)


def course_typed(session, course) -> dict:
    threshold = authoring.completion_threshold(session, course)
    return {"title": course.title, "subtitle": course.subtitle, "description": course.description,
            "category": course.category, "level": course.level, "language": course.language,
            "price": cents_to_price(course.price_cents), "currency": course.currency,
            "pass_threshold": "" if threshold is None else f"{threshold * 100:g}"}


def form_fields(handler, *, slug: bool = False) -> tuple[dict, dict]:
    """(typed, data): what the form sent (to show again) and the service's field values."""
    typed = {name: handler.get_body_argument(name, "") for name in COURSE_FORM + (("slug",) if slug else ())}
    data = {k: typed[k] for k in ("title", "subtitle", "description", "category", "level", "language", "currency")}
    if slug:
        data["slug"] = typed["slug"].strip()
    data["price_cents"] = price_to_cents(typed["price"])
    return typed, data


def studio_options() -> dict:
    return {"levels": LEVELS, "currencies": sorted(CURRENCIES), "limits": {
        "title": authoring.MAX_TITLE, "subtitle": authoring.MAX_SUBTITLE, "description": authoring.MAX_DESCRIPTION,
        "category": authoring.MAX_CATEGORY}}


def render_editor(handler, course, *, error: LMSError | None = None, error_at: str = "course",
                  typed: dict | None = None) -> None:
    if error is not None:
        handler.set_status(error.status)
    typed = typed or course_typed(handler.db, course)
    handler.render_page(
        "teach/course.html", course=course, studio_section="course", typed=typed, error=error, error_at=error_at,
        preview_html=render_markdown(typed.get("description", "")), max_kb=covers.MAX_IMAGE_BYTES // 1000,
        pending=authoring.has_unpublished_changes(handler.db, course), **studio_options())


class NewCoursePage(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def get(self):
        self._render({"level": "beginner", "language": "en", "currency": "usd", "price": "0"})

    def _render(self, typed: dict, error: LMSError | None = None) -> None:
        if error is not None:
            self.set_status(error.status)
        self.render_page("teach/new_course.html", typed=typed, error=error,
                         preview_html=render_markdown(typed.get("description", "")), **studio_options())

    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def post(self):
        typed = {name: self.get_body_argument(name, "") for name in COURSE_FORM + ("slug",)}
        try:
            typed, data = form_fields(self, slug=True)
            course = authoring.create_course(self.db, self.require_user(), data)
            threshold = threshold_from_percent(typed["pass_threshold"])
            if threshold is not None:
                authoring.set_completion_threshold(self.db, self.require_user(), course.slug, threshold)
        except (InvalidInput, PayloadTooLarge, Conflict) as exc:
            self.db.rollback()
            self._render(typed, exc)
            return
        self.db.commit()
        self.add_notice("Course created as a draft. Add lessons, then publish it.")
        self.redirect(f"{self.config.service_prefix}teach/courses/{course.slug}/lessons", status=303)


class CourseEditor(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def get(self, slug: str):
        render_editor(self, authoring.course_for_teacher(self.db, self.require_user(), slug))

    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def post(self, slug: str):
        user = self.require_user()
        course = authoring.course_for_teacher(self.db, user, slug)
        typed = {name: self.get_body_argument(name, "") for name in COURSE_FORM}
        try:
            typed, data = form_fields(self)
            authoring.update_course(self.db, user, slug, data)
            authoring.set_completion_threshold(self.db, user, slug, threshold_from_percent(typed["pass_threshold"]))
        except (InvalidInput, PayloadTooLarge) as exc:
            self.db.rollback()
            render_editor(self, authoring.course_for_teacher(self.db, user, slug), error=exc, typed=typed)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.add_notice("Course saved." + (" Students see the changes now." if course.published else ""))
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}", status=303)


class MarkdownPreview(BaseHandler):
    """The description as students will see it: the same sanitiser as the course page."""

    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def post(self):
        text = self.get_body_argument("text", "")
        if len(text) > authoring.MAX_DESCRIPTION:
            raise PayloadTooLarge(f"a description is at most {authoring.MAX_DESCRIPTION} characters")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(render_markdown(text))


class PublishAction(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def post(self, slug: str, action: str):
        user = self.require_user()
        back = self.get_body_argument("from", "") == "lessons"
        try:
            if action == "publish":
                result = authoring.publish(self.db, user, slug)
                made = len(result["new_versions"])
                message = "Published." + (f" {made} lesson version(s) are new." if made else " No lesson changed.")
            else:
                authoring.unpublish(self.db, user, slug)
                message = "Unpublished: the course is hidden from the catalog; enrolled students keep access."
        except InvalidInput as exc:
            self.db.rollback()
            course = authoring.course_for_teacher(self.db, user, slug)
            if back:
                render_lessons(self, course, error=exc)
            else:
                render_editor(self, course, error=exc, error_at="publish")
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.add_notice(message)
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}" + ("/lessons" if back else ""), status=303)


# -- lessons -------------------------------------------------------------------------------------
def policy_form(policy: dict | None) -> dict:
    policy = policy or {}
    deadline = policy.get("deadline")
    local = ""
    if deadline:
        local = datetime.fromisoformat(deadline).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")
    return {"deadline": local, "late_policy": policy.get("late_policy", "none"),
            "late_percent_per_day": policy.get("late_percent_per_day", ""),
            "max_attempts": policy.get("max_attempts", ""), "cooldown_seconds": policy.get("cooldown_seconds", "")}


def render_lessons(handler, course, *, error: LMSError | None = None, error_key: str | None = None,
                   typed: dict | None = None) -> None:
    if error is not None:
        handler.set_status(error.status)
    rows = authoring.lesson_rows(handler.db, course)
    handler.render_page("teach/lessons.html", course=course, studio_section="lessons", rows=rows, error=error,
                        error_key=error_key, typed=typed or {}, policy_form=policy_form,
                        max_notebook_mb=min(authoring.MAX_NOTEBOOK_BYTES, handler.config.max_body_bytes) / (1 << 20),
                        max_zip_mb=min(authoring.MAX_ZIP_BYTES, handler.config.max_body_bytes) / (1 << 20),
                        pending=authoring.has_unpublished_changes(handler.db, course))


def _whole(raw: str, label: str):
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput(f"{label} must be a whole number")
    return int(raw)


def policy_from_form(handler) -> dict:
    deadline = handler.get_body_argument("deadline", "").strip()
    raw: dict = {}
    if deadline:
        try:
            raw["deadline"] = datetime.fromisoformat(deadline).replace(tzinfo=timezone.utc).isoformat()
        except ValueError:
            raise InvalidInput("Deadline must be a date and time (UTC)") from None
    late = handler.get_body_argument("late_policy", "none")
    if late != "none":
        raw["late_policy"] = late
    percent = handler.get_body_argument("late_percent_per_day", "").strip()
    if percent:
        try:
            raw["late_percent_per_day"] = float(percent.replace(",", "."))
        except ValueError:
            raise InvalidInput("Late penalty per day must be a number from 1 to 100") from None
    attempts = _whole(handler.get_body_argument("max_attempts", ""), "Attempts")
    if attempts is not None:
        raw["max_attempts"] = attempts
    cooldown = _whole(handler.get_body_argument("cooldown_seconds", ""), "Cooldown")
    if cooldown:
        raw["cooldown_seconds"] = cooldown
    return raw


def notebook_upload(handler) -> bytes:
    files = handler.request.files.get("notebook") or []
    if len(files) != 1:
        raise InvalidInput("choose one notebook file (.ipynb)")
    if not files[0]["filename"].lower().endswith(".ipynb"):
        raise InvalidInput("the lesson source must be a Jupyter notebook (.ipynb)")
    return files[0]["body"]


class LessonsPage(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def get(self, slug: str):
        render_lessons(self, authoring.course_for_teacher(self.db, self.require_user(), slug))

    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def post(self, slug: str):
        """A new lesson: id, title and its source notebook."""
        user = self.require_user()
        authoring.course_for_teacher(self.db, user, slug)
        typed = {"key": self.get_body_argument("key", "").strip(), "title": self.get_body_argument("title", "")}
        try:
            if any(r.draft.key == typed["key"] for r in
                   authoring.lesson_rows(self.db, authoring.course_for_teacher(self.db, user, slug))):
                raise InvalidInput(f"the course already has a lesson {typed['key']!r}: replace its source below")
            draft, _ = authoring.put_lesson_source(self.db, user, slug, typed["key"], notebook_upload(self),
                                                   title=typed["title"].strip() or None)
        except (InvalidInput, PayloadTooLarge) as exc:
            self.db.rollback()
            render_lessons(self, authoring.course_for_teacher(self.db, user, slug), error=exc, error_key="new",
                           typed=typed)
            return
        self.db.commit()
        self.add_notice(f"Lesson {draft.title!r} added as a draft. Publish to give it to students.")
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/lessons", status=303)


class LessonAction(BaseHandler):
    """One lesson's forms: save (title, preview), up, down, remove, source, policy."""

    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def post(self, slug: str, key: str, action: str):
        user = self.require_user()
        authoring.course_for_teacher(self.db, user, slug)
        try:
            if action == "save":
                authoring.update_lesson(self.db, user, slug, key, title=self.get_body_argument("title", ""),
                                        free_preview=self.get_body_argument("free_preview", "") == "on")
                message = "Lesson saved (draft)."
            elif action in ("up", "down"):
                authoring.move_lesson(self.db, user, slug, key, action)
                message = "Order changed (draft)."
            elif action == "remove":
                authoring.remove_lesson(self.db, user, slug, key)
                message = "Lesson removed."
            elif action == "source":
                authoring.put_lesson_source(self.db, user, slug, key, notebook_upload(self))
                message = "New source saved as a draft. Publish to make it the next version."
            else:
                authoring.set_policy(self.db, user, slug, key, policy_from_form(self))
                message = "Policy saved; it applies now."
        except (InvalidInput, PayloadTooLarge, Conflict) as exc:
            self.db.rollback()
            render_lessons(self, authoring.course_for_teacher(self.db, user, slug), error=exc, error_key=key)
            return
        self.db.commit()
        self.add_notice(message)
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/lessons#lesson-{key}", status=303)


# -- zip and git ---------------------------------------------------------------------------------
class ExportZip(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def get(self, slug: str):
        data = authoring.export_zip(self.db, self.require_user(), slug)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{slug}.zip"')
        self.set_header("Cache-Control", "no-store")
        self.finish(data)


class ImportAction(BaseHandler):
    @web.authenticated
    @requires(permissions.TEACH, EDITORS_ONLY)
    def post(self, slug: str, how: str):
        user = self.require_user()
        authoring.course_for_teacher(self.db, user, slug)
        typed = {"url": self.get_body_argument("url", "")}
        try:
            if how == "import":
                files = self.request.files.get("archive") or []
                if len(files) != 1:
                    raise InvalidInput("choose one .zip file")
                result = authoring.import_zip(self.db, user, slug, files[0]["body"], store=self.settings["storage"])
            else:
                result = authoring.pull_git(self.db, user, slug, typed["url"], store=self.settings["storage"],
                                            allow_local=self.config.git_import_allow_local)
        except (InvalidInput, PayloadTooLarge) as exc:
            self.db.rollback()
            render_lessons(self, authoring.course_for_teacher(self.db, user, slug), error=exc, error_key=how,
                           typed=typed)
            return
        self.db.commit()
        self.settings["catalog_cache"].clear()
        self.add_notice(f"Imported {result['lessons']} lesson(s); {len(result['new_versions'])} new version(s).")
        self.redirect(f"{self.config.service_prefix}teach/courses/{slug}/lessons", status=303)


LESSON_RE = r"([a-z0-9][a-z0-9-]{0,99})"
default_handlers = [
    (r"teach", TeachPage),
    (r"teach/courses/new", NewCoursePage),
    (r"teach/markdown-preview", MarkdownPreview),
    (rf"teach/courses/{SLUG_RE}", CourseEditor),
    (rf"teach/courses/{SLUG_RE}/cover", CoverUpload),
    (rf"teach/courses/{SLUG_RE}/(publish|unpublish)", PublishAction),
    (rf"teach/courses/{SLUG_RE}/lessons", LessonsPage),
    (rf"teach/courses/{SLUG_RE}/lessons/{LESSON_RE}/(save|up|down|remove|source|policy)", LessonAction),
    (rf"teach/courses/{SLUG_RE}/export\.zip", ExportZip),
    (rf"teach/courses/{SLUG_RE}/(import|pull)", ImportAction),
]
