"""An autograded notebook as the grader reads it: cell by cell, as JupyterLab shows it (Markdown
rendered, code highlighted, outputs), so that the grading page can put each graded cell's grade
box right after the cell.

Everything in it came from a student (answers, outputs) or an instructor: every cell's HTML is
sanitized with the allowlist the lesson pages use (no script, style, iframe, form or event
attribute); images only as ``data:`` URLs; text outputs escaped. Instructors only: the
autograded notebook holds the hidden tests.
"""
from __future__ import annotations

import json
from html import escape

import nh3

MAX_OUTPUT_CHARS = 20_000  # per output: a runaway print loop stays readable

_TAGS = {"div", "span", "p", "pre", "code", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol",
         "li", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "blockquote", "br", "hr", "sub", "sup", "del",
         "details", "summary"}
_ATTRS = {"*": {"class"}, "a": {"href", "title"}, "img": {"src", "alt", "width", "height"},
          "td": {"colspan"}, "th": {"colspan"}}
_IMAGES = ("image/png", "image/jpeg", "image/gif")


def _clean(html: str) -> str:
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRS, url_schemes={"http", "https", "data"},
                     link_rel="nofollow noopener noreferrer")


def _text(value) -> str:
    text = "".join(value) if isinstance(value, list) else str(value or "")
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + "\n… (cut)"


def _markdown(source: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(source)


def _code(source: str, language: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language or "python")
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(source, lexer, HtmlFormatter(cssclass="highlight"))


def _output(output: dict) -> str:
    from nbconvert.filters import strip_ansi

    kind = output.get("output_type")
    if kind == "stream":
        stream = "stderr" if output.get("name") == "stderr" else "stdout"
        return f'<pre class="nb-output nb-{stream}">{escape(_text(output.get("text")))}</pre>'
    if kind == "error":
        trace = "\n".join(output.get("traceback") or []) or f"{output.get('ename')}: {output.get('evalue')}"
        return f'<pre class="nb-output nb-error">{escape(strip_ansi(_text(trace)))}</pre>'
    if kind in ("execute_result", "display_data"):
        data = output.get("data") or {}
        for mime in _IMAGES:
            if isinstance(data.get(mime), str):
                return f'<img class="nb-output" alt="output" src="data:{mime};base64,{escape(data[mime].strip())}">'
        if "text/html" in data:
            return f'<div class="nb-output nb-html">{_text(data["text/html"])}</div>'
        if "text/markdown" in data:
            return f'<div class="nb-output">{_markdown(_text(data["text/markdown"]))}</div>'
        if "text/plain" in data:
            return f'<pre class="nb-output">{escape(_text(data["text/plain"]))}</pre>'
    return ""


def grade_id(cell: dict) -> str | None:
    meta = (cell.get("metadata") or {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str) else None


def cells(notebook_text: str) -> list[dict]:
    """``[{"kind", "grade_id", "html", "execution_count"}]`` of a notebook's cells, sanitized."""
    try:
        nb = json.loads(notebook_text) if isinstance(notebook_text, str) else notebook_text
    except ValueError:
        return []
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return []
    language = ((nb.get("metadata") or {}).get("language_info") or {}).get("name") or "python"
    rendered = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        source = _text(cell.get("source"))
        if kind == "markdown":
            html = _markdown(source)
        elif kind == "code":
            outputs = "".join(_output(o) for o in cell.get("outputs") or [] if isinstance(o, dict))
            html = _code(source, language) + (f'<div class="nb-outputs">{outputs}</div>' if outputs else "")
        else:
            html = f"<pre>{escape(source)}</pre>"
        rendered.append({"kind": kind if kind in ("markdown", "code") else "raw", "grade_id": grade_id(cell),
                         "execution_count": cell.get("execution_count") if kind == "code" else None,
                         "html": _clean(html)})
    return rendered
