"""The kernel magics' parsing in the student's server (learning time: test_activity_time.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from lms_extension.kernel.learning import LMSError, _context, quiz_text, run_quiz


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


def test_progress_names_the_next_lesson_by_title():
    from lms_extension.kernel.learning import _title

    course = {"lessons": [{"lesson": "03-lists-and-loops", "title": "Lists and loops"}]}
    assert _title(course, "03-lists-and-loops") == "Lists and loops"
    assert _title({"lessons": []}, "04-x") == "04-x"  # an older server without titles: the id, not a crash
