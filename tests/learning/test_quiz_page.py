"""The lesson page's quiz forms, rendered by the app's own Jinja environment from the service's views:
radio buttons for single-answer questions, the key only after the last attempt."""
from __future__ import annotations

import copy
import re

from markupsafe import Markup

from lms_extension.services import quizzes
from lms_extension.web.app import jinja_env

from .conftest import build_course, enroll, quiz_notebook


def render(session, user, course) -> str:
    views = quizzes.quizzes_of_lesson(session, user, course.lessons[0])
    return jinja_env().get_template("learning/quizzes.html").render(
        quizzes=views, prefix="/services/lms/", lesson_base=f"courses/{course.slug}/lessons/l1",
        xsrf_form_html=lambda: Markup('<input type="hidden" name="_xsrf" value="x">'))


def form(html: str, quiz_id: str) -> str:
    return re.search(rf'<form class="quiz" id="quiz-{quiz_id}".*?</form>', html, re.S).group(0)


def _with_multi():
    nb = quiz_notebook()
    nb["cells"].append({"cell_type": "markdown", "id": "q3", "source": "?", "metadata": {"lms": {"quiz": {
        "id": "q-even", "type": "choice", "question": "Which are even?", "options": ["1", "2", "4"],
        "answer": [1, 2], "attempts": 1}}}})
    return nb


def test_single_answer_uses_radio_buttons_and_several_answers_checkboxes(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=_with_multi())
    enroll(session, alice, course.slug)
    html = render(session, alice, course)
    single, multi = form(html, "q-sum"), form(html, "q-even")
    assert single.count('type="radio"') == 3 and 'type="checkbox"' not in single
    assert "pick one option" in single
    assert multi.count('type="checkbox"') == 3 and 'type="radio"' not in multi
    assert "right answer" not in html and "quiz-reveal" not in html  # nothing revealed yet


def test_after_the_last_attempt_the_choice_and_the_right_answer_are_shown(session, tmp_path, alice):
    course = build_course(session, tmp_path, notebook=_with_multi())
    enroll(session, alice, course.slug)
    quizzes.answer(session, alice, course.slug, "q-sum", "a")
    middle = form(render(session, alice, course), "q-sum")
    assert "quiz-reveal" not in middle and "right answer" not in middle and "1 of 2 attempts left" in middle
    quizzes.answer(session, alice, course.slug, "q-sum", "c")
    html = form(render(session, alice, course), "q-sum")
    reveal = re.search(r'<p class="quiz-reveal".*?</p>', html, re.S).group(0)
    text = " ".join(re.sub(r"<[^>]+>", " ", reveal).split())
    assert "Your answer: c) 22" in text and "Right answer: b) 4" in text
    assert re.search(r'class="option option-right">\s*<input type="radio" name="answer" value="1">', html)
    assert re.search(r'class="option option-wrong">\s*<input type="radio" name="answer" value="2" checked>', html)
    assert "<fieldset disabled" in html and "Check answer" not in html


def test_hostile_option_text_is_escaped(session, tmp_path, alice):
    nb = copy.deepcopy(quiz_notebook())
    nb["cells"][-2]["metadata"]["lms"]["quiz"]["options"] = ["<script>alert(1)</script>", "4", "22"]
    course = build_course(session, tmp_path, notebook=nb)
    enroll(session, alice, course.slug)
    html = render(session, alice, course)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
