"""Email templates an admin edits: subject, text and HTML per notification kind and for the digest.

The owner of ``email_templates``. Without a row, an email is made from the files in
``templates/email/`` (every notification kind shares ``notification.*``; the digest has
``digest.*``). An admin's version is checked before it is stored: it must parse, use only the
values its email is given (``VARIABLES``), and render with the sample data; anything else is an
``InvalidInput`` that names the part and the line. Stored and edited templates render in Jinja's
sandbox (no attributes starting with ``_``, no unsafe calls, bounded ranges, no huge repeated
strings), so a template can print the values it is given and nothing of the server.
``mail.render`` asks ``stored`` for the override of the email it makes.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import User
from ..models.base import utcnow
from ..models.digests import EmailTemplate
from . import audit

log = logging.getLogger("lms.email_templates")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
PARTS = {"subject": "Subject", "text": "Text body", "html": "HTML body"}
MAX_SOURCE = 20_000  # characters per part
MAX_REPEAT = 100_000  # longest string or list a template may build with * or **

NOTIFICATION_VARIABLES = {
    "name": "the person's name", "title": "what happened (one line)", "body": "more about it (may be empty)",
    "link": "the address of the page it is about", "kind_label": "the kind, as on the preferences page",
    "unsubscribe_url": "the one-click link that stops this kind of email",
    "preferences_url": "the notification preferences page", "site_name": "the platform's name"}
DIGEST_VARIABLES = {
    "name": "the person's name", "period_label": "\"Your daily digest\" or \"Your weekly digest\"",
    "since": "start of the period (text)", "courses": "per course: title, url, answers, feedback, deadlines, "
    "unanswered (lists)", "total": "how many items the digest has",
    "unsubscribe_url": "the one-click link that stops the digest", "preferences_url": "the preferences page",
    "site_name": "the platform's name"}


@dataclass(frozen=True)
class Editable:
    key: str
    label: str
    base: str  # the files' name in templates/email/
    variables: dict[str, str]


def catalogue(kind_labels: dict[str, str]) -> dict[str, Editable]:
    """Every editable email: one per notification kind (``{key: label}``, notifications' KINDS:
    passed in, since ``mail`` renders through this module and ``notifications`` uses ``mail``)
    and the digest."""
    items = [Editable(k, f"Notification: {label}", "notification", NOTIFICATION_VARIABLES)
             for k, label in kind_labels.items()]
    items.append(Editable("digest", "Daily and weekly digest", "digest", DIGEST_VARIABLES))
    return {e.key: e for e in items}


def find(editables: dict[str, Editable], key) -> Editable:
    found = editables.get(key) if isinstance(key, str) else None
    if found is None:
        raise NotFound("there is no email template of that name")
    return found


# ---------------------------------------------------------------------------------- the sandbox
class _Undefined(StrictUndefined):
    """Testable (``{% if name %}``) but not printable, as ``mail.render``'s."""

    def __bool__(self) -> bool:
        return False


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise self._refuse("a power above 64")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_REPEAT:
                    raise self._refuse(f"a text or list longer than {MAX_REPEAT:,} items")
        return super().call_binop(context, operator, left, right)

    @staticmethod
    def _refuse(what: str) -> SecurityError:
        return SecurityError(f"the template builds {what}")


def _sandbox(autoescape: bool) -> _Sandbox:
    env = _Sandbox(loader=FileSystemLoader(str(TEMPLATES)), autoescape=autoescape, undefined=_Undefined,
                   auto_reload=False)
    # only what a template needs: no lipsum, cycler, joiner, namespace, dict
    env.globals = {"range": env.globals["range"]}
    return env


_TEXT, _HTML = _sandbox(False), _sandbox(True)


@lru_cache(maxsize=256)
def _compiled(part: str, source: str):
    return (_HTML if part == "html" else _TEXT).from_string(source)


def _check_source(part: str, source, variables: dict[str, str]) -> str:
    label = PARTS[part]
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput(f"{label}: write something (the default is one click away: Reset)", field=part)
    if len(source) > MAX_SOURCE:
        raise InvalidInput(f"{label}: at most {MAX_SOURCE:,} characters", field=part)
    if "\x00" in source:
        raise InvalidInput(f"{label}: contains a NUL character", field=part)
    env = _HTML if part == "html" else _TEXT
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"{label}, line {exc.lineno}: {exc.message}", field=part) from None
    unknown = sorted(meta.find_undeclared_variables(tree) - set(variables) - set(env.globals))
    if unknown:
        raise InvalidInput(f"{label}: unknown value{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                           f"this email has: {', '.join(sorted(variables))}", field=part)
    return source.replace("\r\n", "\n")


def _render_parts(sources: dict[str, str], context: dict) -> tuple[str, str, str]:
    out = {}
    for part in PARTS:
        try:
            out[part] = _compiled(part, sources[part]).render(context)
        except TemplateError as exc:  # SecurityError, UndefinedError, a missing include...
            what = "not allowed in an email template" if isinstance(exc, SecurityError) else "cannot render"
            raise InvalidInput(f"{PARTS[part]}: {what}: {exc}", field=part) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, OverflowError, RecursionError) as exc:
            raise InvalidInput(f"{PARTS[part]}: cannot render: {type(exc).__name__}: {exc}", field=part) from None
    return " ".join(out["subject"].split())[:500], out["text"].strip() + "\n", out["html"]


# ---------------------------------------------------------------------------------- sources
def default_sources(spec: Editable) -> dict[str, str]:
    base = spec.base
    return {"subject": (TEMPLATES / f"{base}.subject.txt").read_text(encoding="utf-8"),
            "text": (TEMPLATES / f"{base}.txt").read_text(encoding="utf-8"),
            "html": (TEMPLATES / f"{base}.html").read_text(encoding="utf-8")}


def _cache(session: Session) -> dict:
    return session.info.setdefault("email_templates", {})


def stored(session: Session, key: str) -> EmailTemplate | None:
    """The admin's version of ``key``, or None; looked up once per session (an announcement to a
    whole class renders thousands of emails in one transaction)."""
    cache = _cache(session)
    if key not in cache:
        cache[key] = session.get(EmailTemplate, key)
    return cache[key]


def sources(session: Session, spec: Editable) -> tuple[dict[str, str], bool]:
    """The sources an email of ``spec`` is made from, and whether they are an admin's version."""
    row = stored(session, spec.key)
    if row is None:
        return default_sources(spec), False
    return {"subject": row.subject, "text": row.text_body, "html": row.html_body}, True


def render_stored(session: Session, key: str, context: dict) -> tuple[str, str, str] | None:
    """(subject, text, html) from the admin's version of ``key``, or None when there is none or
    it does not render with this email's values (logged): the email then comes from the files,
    so an edited template never costs anyone their email nor undoes the event that sent it."""
    row = stored(session, key)
    if row is None:
        return None
    try:
        return _render_parts({"subject": row.subject, "text": row.text_body, "html": row.html_body},
                             {"site_name": "Jupyter LMS", **context})
    except InvalidInput as exc:
        log.error("the edited email template %r does not render (%s); the default is used", key, exc.message)
        return None


# ---------------------------------------------------------------------------------- editing
def sample_context(spec: Editable, base_url: str = "https://lms.example.org/") -> dict:
    """Made-up values for the preview and the checks: every variable the email has."""
    if spec.base == "digest":
        return {"name": "Ada Lovelace", "period_label": "Your daily digest", "since": "Mon 07 Dec 2026, 07:00 UTC",
                "total": 4, "site_name": "Jupyter LMS",
                "unsubscribe_url": base_url + "notifications/digest/unsubscribe/sample",
                "preferences_url": base_url + "notifications/preferences",
                "courses": [{"title": "Python for Data Science", "url": base_url + "courses/python-ds",
                             "answers": [{"title": "Why does my loop never end?", "count": 2,
                                          "url": base_url + "forum/threads/1"}],
                             "feedback": [{"title": "Lists and loops", "score": "8 of 10",
                                           "url": base_url + "courses/python-ds/lessons/loops"}],
                             "deadlines": [{"title": "Functions", "when": "Wed 09 Dec 2026, 23:59 UTC",
                                            "extended": True, "url": base_url + "courses/python-ds/lessons/functions"}],
                             "unanswered": [{"title": "Is recursion allowed in exercise 3?", "hours": 30,
                                             "url": base_url + "forum/threads/2"}]}]}
    kind = spec.label.partition(": ")[2]
    return {"name": "Ada Lovelace", "title": "Grace replied to \u201cWhy does my loop never end?\u201d",
            "body": "Check the condition: i never changes inside the loop.", "link": base_url + "forum/threads/1",
            "kind_label": kind, "unsubscribe_url": base_url + "notifications/unsubscribe/sample",
            "preferences_url": base_url + "notifications/preferences", "site_name": "Jupyter LMS"}


def check(spec: Editable, subject, text, html) -> dict[str, str]:
    """The three sources, checked: they parse, name only this email's values and render with the
    sample data; else InvalidInput naming the part (``field``) and what is wrong."""
    checked = {part: _check_source(part, value, spec.variables)
               for part, value in (("subject", subject), ("text", text), ("html", html))}
    _render_parts(checked, sample_context(spec))
    return checked


def preview(spec: Editable, subject, text, html, base_url: str = "https://lms.example.org/") -> tuple[str, str, str]:
    """(subject, text, html) of the sources with the sample data (checked first)."""
    return _render_parts(check(spec, subject, text, html), sample_context(spec, base_url))


def save(session: Session, actor: User, spec: Editable, subject, text, html) -> EmailTemplate:
    key = spec.key
    checked = check(spec, subject, text, html)
    row = session.get(EmailTemplate, key)
    before = {"subject": row.subject, "text": _digest(row.text_body), "html": _digest(row.html_body)} if row else None
    if row is None:
        row = EmailTemplate(key=key)
        session.add(row)
    row.subject, row.text_body, row.html_body = checked["subject"], checked["text"], checked["html"]
    row.updated_by_id, row.updated_at = actor.id, utcnow()
    session.flush()
    _cache(session)[key] = row
    audit.record(session, actor, "email_template.save", "email_template", key, before=before,
                 after={"subject": row.subject, "text": _digest(row.text_body), "html": _digest(row.html_body)},
                 summary=f"edited the email template {spec.label}")
    return row


def reset(session: Session, actor: User, spec: Editable) -> bool:
    """Back to the files' version; False when there was nothing to reset."""
    key = spec.key
    row = session.get(EmailTemplate, key)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    _cache(session)[key] = None
    audit.record(session, actor, "email_template.reset", "email_template", key,
                 summary=f"reset the email template {spec.label} to the default")
    return True


def edited(session: Session) -> dict[str, EmailTemplate]:
    return {row.key: row for row in session.scalars(select(EmailTemplate))}


def _digest(source: str) -> str:
    """A short fingerprint of a body for the audit log (bodies are long)."""
    return f"{len(source)} characters, sha256 {hashlib.sha256(source.encode()).hexdigest()[:12]}"
