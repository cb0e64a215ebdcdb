"""Markdown to safe HTML: markdown-it renders, nh3 sanitizes."""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> str:
    return nh3.clean(_md.render(text or ""))
