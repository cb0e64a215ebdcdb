"""Plain text from sanitised HTML, for notices and the text part of emails (no Markdown marks,
no tags): blocks end with a space, inline tags just go, entities are decoded."""
from __future__ import annotations

import re
from html import unescape

_BLOCK_END = re.compile(r"<(?:br|hr|/p|/pre|/li|/h[1-6]|/td|/th|/tr|/blockquote)\b[^>]*>", re.I)


def excerpt(html: str, limit: int = 300) -> str:
    """The start of ``html`` (already sanitised) as one line of plain text, at most ``limit`` characters."""
    spaced = _BLOCK_END.sub(" ", html)
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", "", spaced))).strip()
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"
