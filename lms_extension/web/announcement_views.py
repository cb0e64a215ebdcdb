"""Announcements as pages and the API show them (shared by web/pages and web/api): the
Markdown body through the one sanitiser, ``web/markdown.py``."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..services import announcements
from .markdown import render_markdown

# the field of the course (GET /api/v1/courses/{slug}) and of the lab server's lesson context
# that carries the latest announcements for JupyterLab's Course panel
FIELD = "announcements"


def announcement_views(db: Session, course_id: int, limit: int | None = None) -> list[dict]:
    return [{"id": a.id, "title": a.title, "body_html": render_markdown(a.body), "created_at": a.created_at,
             "date": a.created_at.strftime("%d %b %Y")} for a in announcements.for_course(db, course_id, limit)]


def public(view: dict) -> dict:
    """One announcement in JSON: id, title, body_html (sanitised), created_at (ISO 8601)."""
    return {"id": view["id"], "title": view["title"], "body_html": view["body_html"],
            "created_at": view["created_at"].isoformat()}
