"""The student's server side: which sessions are active lessons, and the kernel magics' parsing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lms_extension.labserver.progress import active_lessons
from lms_extension.kernel.learning import LMSError, _context, quiz_text, run_quiz

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def session(path, last=None, state="idle"):
    return {"path": path, "kernel": {"last_activity": (last or NOW).isoformat().replace("+00:00", "Z"),
                                     "execution_state": state}}


def test_only_recently_active_lesson_notebooks_count():
    sessions = [
        session("courses/python-for-beginners/01-hello-python.ipynb", NOW - timedelta(seconds=30)),
        session("courses/python-for-beginners/02-strings.v3.ipynb", NOW - timedelta(seconds=299)),
        session("courses/python-for-beginners/03-lists.ipynb", NOW - timedelta(seconds=301)),  # idle
        session("courses/algo/04-sort.ipynb", NOW - timedelta(hours=2), state="busy"),  # a long run
        session("scratch/untitled.ipynb"),
        session("courses/../etc/x.ipynb"),
        session("courses/Bad_Slug/l.ipynb"),
        {"path": "courses/a/b.ipynb", "kernel": None},
        session("courses/python-for-beginners/01-hello-python.ipynb"),  # a second session: once
    ]
    assert active_lessons(sessions, NOW, 300) == [
        ("python-for-beginners", "01-hello-python"), ("python-for-beginners", "02-strings"), ("algo", "04-sort")]


def test_context_comes_from_the_notebook_folder_and_name(tmp_path):
    cwd = tmp_path / "courses" / "python-for-beginners"
    assert _context(["q-x", "b"], cwd, "01-hello-python.v2.ipynb") == ("python-for-beginners", "01-hello-python", ["q-x", "b"])
    assert _context(["--course", "algo", "--lesson", "l1"], Path("/tmp"), None) == ("algo", "l1", [])
    assert _context([], Path("/tmp"), None) == (None, None, [])


def test_magic_without_a_platform_says_so(tmp_path):
    with pytest.raises(LMSError, match="LMS_SERVICE_URL"):
        run_quiz("q-x b --course c", tmp_path, environ={})


def test_quiz_listing_shows_options_not_answers():
    text = quiz_text([{"id": "q", "question": "2+2?", "options": ["3", "4"], "solved": False, "finished": False,
                       "attempts_left": 1}])
    assert text == "[q] 2+2?  (1 attempts left, pick one)\n    a) 3\n    b) 4"


def test_quiz_listing_reveals_the_answer_only_when_the_server_sent_it():
    base = {"id": "q", "type": "choice", "question": "2+2?", "options": ["3", "4"], "solved": False,
            "attempts_left": 0, "multiple": False}
    assert "right answer" not in quiz_text([{**base, "finished": False, "correct_answer": None}])
    text = quiz_text([{**base, "finished": True, "correct_answer": [1]}])
    assert text.endswith("    right answer: b) 4")
