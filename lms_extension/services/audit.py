"""The audit log's owner: every admin and instructor action that changes money, access or
content appends one entry here, in the same transaction as the change it records.

Callers pass the acting user, a dotted action name (``course.publish``, ``coupon.create``,
``user.deactivate``), the target and the changed fields before and after. Entries are never
updated or deleted (the database refuses it); ``search`` reads them back."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models.audit import AuditEntry

MAX_DOCUMENT = 20_000  # characters of one before/after document; longer ones are cut


def _document(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_DOCUMENT else text[:MAX_DOCUMENT] + "…"


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def record(session: Session, actor, action: str, target_type: str = "", target_id: Any = "", *,
           before: Any = None, after: Any = None, summary: str = "") -> AuditEntry:
    """Appends one entry; ``actor`` is a ``User`` (or None for the system). Flushes, does not commit:
    the entry lands with the change it records or not at all."""
    if not action or len(action) > 80:
        raise ValueError(f"bad audit action {action!r}")
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_name=(getattr(actor, "hub_name", None) or ("system" if actor is None else str(actor)))[:200],
        action=action, target_type=target_type[:40], target_id=str(target_id)[:200],
        summary=summary[:500], before=_document(before), after=_document(after))
    session.add(entry)
    session.flush()
    return entry


@dataclass
class Page:
    entries: list[AuditEntry]
    total: int
    offset: int
    limit: int


def parse_day(raw: str, name: str) -> datetime | None:
    """A search's ``since``/``until`` filter: empty, or a day like 2026-12-31 (UTC midnight)."""
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-12-31, not {raw[:20]!r}", field=name) from None


def search(session: Session, *, text: str = "", actor: str = "", action: str = "", target_type: str = "",
           target_id: str = "", since: datetime | None = None, until: datetime | None = None,
           offset: int = 0, limit: int = 50) -> Page:
    """Newest first. ``text`` matches the summary, the target id and the before/after documents;
    ``action`` matches a prefix (``course.`` finds every course action)."""
    if not 1 <= limit <= 1000 or offset < 0:
        raise InvalidInput("limit must be 1 to 1000 and offset at least 0")
    stmt = select(AuditEntry)
    if actor:
        stmt = stmt.where(AuditEntry.actor_name == actor)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditEntry.target_id == str(target_id))
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    if text:
        like = f"%{text}%"
        stmt = stmt.where(or_(AuditEntry.summary.ilike(like), AuditEntry.target_id.ilike(like),
                              AuditEntry.before.ilike(like), AuditEntry.after.ilike(like)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    entries = list(session.scalars(stmt.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)))
    return Page(entries, total, offset, limit)


def decoded(entry: AuditEntry) -> dict:
    """An entry as plain values, its documents parsed."""
    def load(text: str):
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text
    return {"id": entry.id, "at": entry.at.isoformat() if entry.at else None, "actor": entry.actor_name,
            "action": entry.action, "target_type": entry.target_type, "target_id": entry.target_id,
            "summary": entry.summary, "before": load(entry.before), "after": load(entry.after)}
