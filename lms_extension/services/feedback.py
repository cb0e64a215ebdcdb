"""The feedback a student may take home: their notebook as graded, without hidden tests.

Built from the autograded notebook (the student's outputs from the grading run) by putting
back the *student version* of every instructor cell (so hidden tests disappear with their
source), dropping the outputs of test cells and anything that quotes a hidden test, and
keeping only plain outputs (text and images: no HTML or scripts). Rendered to HTML the way
nbgrader's ``generate_feedback`` does, with the per-cell results and comments on top.

From the first test cell with hidden tests on, the grading run held their code, and the
student's code could have read it (frames, tracebacks, constants) and written it anywhere:
printed, into a file a later cell prints, from a thread or a finaliser, encoded in timing.
So no cell from there on brings its outputs (or its execution count) into the feedback;
the student has those outputs in their own notebook. The per-cell results next to it come
from ``graders.notebook``, which builds them from the tests' source for the same cells.
"""
from __future__ import annotations

import hashlib
import json
from html import escape

import nbformat

from ..models import NotebookSubmission
from . import grading_queue

SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
WITHHELD = "[output withheld: it quotes a hidden test]"
AFTER_HIDDEN = "[outputs not shown in feedback: this cell ran after a hidden test]"


def _hidden_lines(source_text: str) -> list[str]:
    from graders.notebook import hidden_test_lines

    cells = json.loads(source_text).get("cells", [])
    return hidden_test_lines(c.get("source", "") if isinstance(c.get("source", ""), str)
                             else "".join(c["source"]) for c in cells)


def _hidden_test_ids(source_text: str) -> set[str]:
    """grade_ids of the source notebook's test cells that hold hidden tests."""
    from graders.notebook import has_hidden_tests

    found = set()
    for cell in json.loads(source_text).get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader")
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(source)
        if (isinstance(meta, dict) and meta.get("grade") and not meta.get("solution")
                and isinstance(meta.get("grade_id"), str) and has_hidden_tests(source)):
            found.add(meta["grade_id"])
    return found


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _safe_output(output: dict, hidden: list[str]) -> dict | None:
    kind = output.get("output_type")
    if kind in ("display_data", "execute_result"):
        data = {k: v for k, v in (output.get("data") or {}).items() if k in SAFE_MIME}
        if not data:
            return None
        output = {**output, "data": data, "metadata": {}}
    elif kind not in ("stream", "error"):
        return None
    text = json.dumps(output)
    if any(line in text for line in hidden):
        return {"output_type": "stream", "name": "stdout", "text": WITHHELD}
    return output


def feedback_notebook(submission: NotebookSubmission, name: str) -> nbformat.NotebookNode | None:
    """The student's graded notebook ``name`` as they may see it; None before grading."""
    autograded = json.loads(submission.autograded or "{}").get(name)
    if not autograded:
        return None
    version = submission.lesson_version
    hidden = _hidden_lines(version.source_notebook)
    student = {gid: cell for cell in json.loads(version.student_notebook).get("cells", [])
               if (gid := _grade_id(cell))}
    hidden_tests = _hidden_test_ids(version.source_notebook)
    nb = nbformat.reads(autograded, as_version=4)
    cells = []
    after_hidden = False
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        gid = meta.get("grade_id")
        if cell.cell_type == "code" and gid in hidden_tests and not meta.get("solution"):
            after_hidden = True  # cells run in notebook order: from here on, nothing runtime
        if gid and meta.get("locked") and not meta.get("solution"):
            if gid not in student:
                continue  # an instructor-only cell
            cell.source = student[gid].get("source", "")
            if isinstance(cell.source, list):
                cell.source = "".join(cell.source)
            if meta.get("grade"):
                cell.outputs = []  # a test's traceback may quote hidden lines
        if cell.cell_type == "code" and after_hidden:
            cell.execution_count = None
            cell.outputs = [] if meta.get("grade") else [nbformat.v4.new_output(
                "stream", name="stdout", text=AFTER_HIDDEN)]
        elif cell.cell_type == "code":
            cell.outputs = [o for o in (_safe_output(dict(o), hidden) for o in cell.get("outputs", [])) if o]
        cells.append(cell)
    nb.cells = cells
    return nb


def digest(submission: NotebookSubmission) -> str:
    """Changes whenever what the student sees of a grade changes (re-grade, manual grade, comment)."""
    view = grading_queue.view(submission)
    return hashlib.sha256(json.dumps([view, submission.finished_at], default=str, sort_keys=True)
                          .encode()).hexdigest()[:32]


_exporter = None


def _html_exporter():
    global _exporter
    if _exporter is None:
        from nbconvert import HTMLExporter

        _exporter = HTMLExporter(template_name="classic")
    return _exporter


def feedback_html(submission: NotebookSubmission, name: str) -> str | None:
    nb = feedback_notebook(submission, name)
    if nb is None:
        return None
    view = grading_queue.view(submission)
    rows = []
    for book in (view["feedback"] or {}).get("notebooks", []):
        if book.get("name") != name:
            continue
        for c in book.get("cells", []):
            points = c["manual_points"] if c.get("manual_points") is not None else c.get("points")
            result = ("graded by your instructor" if c.get("needs_manual_grade") and points is None
                      else "passed" if c.get("passed") else (c.get("error_name") or c.get("status") or ""))
            rows.append(f"<tr><td>{escape(str(c.get('title') or 'Exercise'))}</td>"
                        f"<td>{'–' if points is None else f'{points:g}'} / {c.get('max_points') or 0:g}</td>"
                        f"<td>{escape(result)} {escape(c.get('error_message') or '')}</td>"
                        f"<td>{escape(c.get('comment') or '')}</td></tr>")
    score = view["score"]
    penalty = (f" (late penalty: {view['late_penalty_percent']:g}%)" if view["late_penalty_percent"] else "")
    header = (f'<div id="lms-feedback" style="font-family:sans-serif;padding:1rem">'
              f'<h1>Feedback: {escape(submission.lesson.title)}</h1>'
              f'<p>Submission #{submission.id}, attempt {submission.attempt}: '
              f'<strong>{"–" if score is None else f"{score:g}"} / {view["max_score"] or 0:g} points</strong>{penalty}</p>'
              f'<table border="1" cellpadding="4"><tr><th>Part</th><th>Points</th><th>Result</th><th>Comment</th></tr>'
              f'{"".join(rows)}</table></div>')
    body, _ = _html_exporter().from_notebook_node(nb)
    meta = f'<meta name="lms-feedback-digest" content="{digest(submission)}">'
    body = body.replace("<head>", "<head>" + meta, 1)
    return body.replace("<body>", "<body>" + header, 1) if "<body>" in body else meta + header + body
