"""Hidden tests do not leak through what a student receives of a grade.

A lesson whose hidden test holds two distinctive constants (a word and a number) is graded
for real (course import, submission queue, ``lms worker``'s grading in the sandbox), once
per exfiltration attempt. Each attempt gets hold of the constants inside the grading run
(frame introspection, tracebacks, ...) and tries to carry them out: in the failure message
of the hidden test or of a later test, in the type name of an exception, on standard error,
in the outputs of later cells (printed directly, from ``__del__``, a thread, a signal
handler, a file written earlier, an environment variable, a timing measurement)...

What the student receives is everything the product gives them of a submission: the API's
view (``GET /api/v1/submissions/{id}``), the feedback notebook, and the feedback HTML of the
nbgrader Assignments panel. None of it may hold either constant, in plain text, reversed,
hex or base64. The instructors' copy (the autograded notebook) keeps the full outputs: for
the attempts that work inside the run, the constants are there, which proves the attempt
really got hold of them.

Code challenges: hidden tests report only their status, never a time or memory figure.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
from html import unescape

import pytest

from lms_extension.db import session_factory
from lms_extension.models import NotebookSubmission, User
from lms_extension.services import enrollments, exchange, feedback, grading_queue
from lms_extension.worker import Worker
from tests.conftest import own_engine
from tests.factories import make_course, make_user
from tests.grading.helpers import _cell

SECRET_WORD = "QZV7f3a9cKw2hidden"
SECRET_NUMBER = 7204319865


def _forms(secret: str) -> list[str]:
    return [secret, secret[::-1], secret.encode().hex(), base64.b64encode(secret.encode()).decode().rstrip("=")]


FORBIDDEN = _forms(SECRET_WORD) + _forms(str(SECRET_NUMBER))


LESSON = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "language_info": {"name": "python"}},
    "cells": [
        _cell("markdown", "# Numbers\nAnswer the questions.", "intro", locked=True),
        _cell("code", "import math", "setup", locked=True),
        _cell("code", "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", "answer-solution", solution=True),
        _cell("code", 'print("checking the answer")\n'
                      'assert answer == 42, "answer should be 42"\n'
                      "### BEGIN HIDDEN TESTS\n"
                      f'assert answer != "{SECRET_WORD}", "answer must not be the magic word"\n'
                      f"assert answer + 1 != {SECRET_NUMBER}\n"
                      "assert math.isclose(answer * 2, 84)\n"
                      "### END HIDDEN TESTS",
              "answer-tests", grade=True, locked=True, points=2),
        _cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              "double-solution", solution=True),
        _cell("code", 'assert double(2) == 4, f"double(2) should be 4, got {double(2)!r}"',
              "double-tests", grade=True, locked=True, points=1),
    ],
}

# Student code shared by the attempts: gather every constant of the code running on the
# stack (the hidden test cell's included) from inside a method the test calls.
GRAB = '''
import sys
STASH = []
def grab(skip=1):
    def walk(code):
        for const in code.co_consts:
            if hasattr(const, "co_consts"):
                walk(const)
            elif isinstance(const, (str, int)) and not isinstance(const, bool) and const not in STASH:
                STASH.append(const)
    frame = sys._getframe(skip)
    while frame is not None:
        walk(frame.f_code)
        frame = frame.f_back
    return " | ".join(map(str, STASH))
'''

# The answer is an int that tells the truth (so the visible test's outcome is honest) but
# runs ``on_compare`` whenever the test compares or combines it.
SNEAKY_INT = GRAB + '''
def on_compare():
    grab(3)
class Sneaky(int):
    def __eq__(self, other):
        on_compare(); return int(self) == other
    def __ne__(self, other):
        on_compare(); return int(self) != other
    def __add__(self, other):
        on_compare(); return int(self) + other
    __hash__ = int.__hash__
answer = Sneaky(42)
'''

# Each attempt: the solution cells' sources and the cells added after the hidden test;
# ``inside``: what the instructors' copy shows when the attempt got hold of the constants
# inside the run (one of these strings), None for attempts the runner refuses outright.
SECRETS = (SECRET_WORD, str(SECRET_NUMBER))
ATTACKS = {
    # the review's attack: a str subclass whose __eq__ walks the frames, and a later
    # assertion message (an instructor's f-string with !r) that shows what it found
    "frame_introspection_into_a_later_assertion": dict(
        answer=GRAB + '''
class Word(str):
    def __eq__(self, other):
        grab(2); return str.__eq__(self, other)
    def __ne__(self, other):
        grab(2); return str.__ne__(self, other)
    __hash__ = str.__hash__
    def __add__(self, other):
        grab(2); return 0
answer = Word("41")
''',
        double='''
class Shown(int):
    def __repr__(self):
        return "found: " + " | ".join(map(str, STASH))
def double(x):
    return Shown(2 * x + 1)
''', inside=SECRETS),
    "exception_with_crafted_str": dict(answer=SNEAKY_INT + '''
class Oops(Exception):
    def __str__(self):
        return " | ".join(map(str, STASH))
def on_compare():
    grab(3)
    raise Oops()
''', inside=SECRETS),
    "exception_raised_in_eq": dict(answer=SNEAKY_INT + '''
def on_compare():
    raise ValueError(grab(3))
''', inside=SECRETS),
    "exception_type_named_after_the_constant": dict(answer=SNEAKY_INT + '''
def on_compare():
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_filename.startswith("<test cell"):
        frame = frame.f_back
    words = [c for c in frame.f_code.co_consts if isinstance(c, str) and c.isidentifier()
             and any(ch.isdigit() for ch in c)]
    raise type(max(words, key=len), (Exception,), {})()
''', inside=SECRETS),
    "stderr_from_a_passing_test": dict(answer=SNEAKY_INT + '''
def on_compare():
    sys.stderr.write(grab(3) + "\\n")
''', inside=SECRETS),
    "printed_by_a_later_cell": dict(answer=SNEAKY_INT, after=["print(STASH)"], inside=SECRETS),
    "traceback_of_the_failed_hidden_test": dict(answer="answer = 41", after=['''
import sys
found = []
tb = sys.last_traceback
while tb is not None:
    found += [c for c in tb.tb_frame.f_code.co_consts if isinstance(c, (str, int))]
    tb = tb.tb_next
print(found)
'''], inside=SECRETS),
    "gc_and_inspect_after_the_hidden_test": dict(answer=SNEAKY_INT, after=['''
import gc, inspect
found = []
for probe in (gc.get_objects, lambda: gc.get_referrers(answer), lambda: [inspect.stack()]):
    try:
        objects = probe()
    except Exception as exc:
        print("refused", type(exc).__name__)
        continue
    for o in objects:
        code = getattr(o, "f_code", getattr(o, "__code__", o if hasattr(o, "co_consts") else None))
        if code is not None:
            found += [c for c in code.co_consts if isinstance(c, (str, int))]
print(found)
'''], inside=None),
    "inspect_in_eq": dict(answer=SNEAKY_INT + '''
import inspect
def on_compare():
    for info in inspect.stack():
        STASH.extend(c for c in info.frame.f_code.co_consts if isinstance(c, (str, int)))
''', after=["print(STASH)"], inside=SECRETS),
    "del_finaliser_prints_later": dict(answer=SNEAKY_INT + '''
class Note:
    def __del__(self):
        print("finalised:", grab(1))
def on_compare():
    grab(3)
    global note
    note = Note()
''', after=["del note\nimport gc; gc.collect()"], inside=SECRETS),
    "atexit_and_a_thread_print_later": dict(answer=SNEAKY_INT + '''
import atexit, threading, time
PRINTING = []
def on_compare():
    grab(3)
    atexit.register(lambda: print("at exit:", STASH))
    if not PRINTING:
        PRINTING.append(True)
        def keep_printing():
            for _ in range(15):
                time.sleep(0.2)
                print("from a thread:", STASH)
        threading.Thread(target=keep_printing, daemon=True).start()
''', after=["import time; time.sleep(1)"], inside=SECRETS),
    "file_written_during_the_test_read_later": dict(answer=SNEAKY_INT + '''
def on_compare():
    with open("notes.txt", "w") as f:
        f.write(grab(3))
    with open("/tmp/notes.txt", "w") as f:
        f.write(grab(3))
''', after=["print(open('notes.txt').read())\nprint(open('/tmp/notes.txt').read())"], inside=SECRETS),
    "timing_encoded_then_decoded": dict(answer=SNEAKY_INT + '''
import time
MARKS = []
def on_compare():
    grab(3)
    number = next((c for c in STASH if isinstance(c, int) and c > 10**9), None)
    if number is None or MARKS:
        return
    MARKS.append(time.perf_counter())
    for digit in str(number):
        time.sleep(0.05 * int(digit) + 0.01)
        MARKS.append(time.perf_counter())
''', after=['''
digits = [round(((b - a) - 0.01) / 0.05) for a, b in zip(MARKS, MARKS[1:])]
print("decoded from timing:", "".join(str(max(0, min(9, d))) for d in digits))
'''], inside=("decoded from timing",)),
    "settrace_and_setprofile": dict(answer=GRAB + '''
import threading
def hook(frame, event, arg):
    STASH.extend(c for c in frame.f_code.co_consts if isinstance(c, (str, int)))
    return hook
for install in (sys.settrace, sys.setprofile, threading.settrace, threading.setprofile):
    try:
        install(hook)
    except Exception as exc:
        print("refused", type(exc).__name__)
answer = 41
''', after=["print(STASH)"], inside=None),
    "monkeypatched_builtins_and_assert_helpers": dict(answer=GRAB + '''
import builtins, math
def spying_on(real):
    def spy(*args, **kwargs):
        grab(2)
        return real(*args, **kwargs)
    return spy
math.isclose = spying_on(math.isclose)
builtins.isinstance = spying_on(isinstance)
builtins.repr = spying_on(repr)
answer = 42
''', after=["print(STASH)"], inside=None),
    "environment_variable_read_by_a_shell": dict(answer=SNEAKY_INT + '''
import os
def on_compare():
    os.environ["NOTES"] = grab(3)
''', after=["!echo $NOTES\nimport os; print(os.environ.get('NOTES'))"], inside=SECRETS),
    "signal_handler_prints_later": dict(answer=SNEAKY_INT + '''
import signal
def on_compare():
    grab(3)
    signal.signal(signal.SIGALRM, lambda *a: print("from a signal handler:", STASH))
    signal.setitimer(signal.ITIMER_REAL, 0.3, 0.3)
''', after=["import time; time.sleep(1)\nsignal.setitimer(signal.ITIMER_REAL, 0)"], inside=SECRETS),
}


def submission_for(attack: dict) -> str:
    nb = json.loads(json.dumps(LESSON))
    cells = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}
    cells["answer-solution"]["source"] = attack["answer"]
    if "double" in attack:
        cells["double-solution"]["source"] = attack["double"]
    position = nb["cells"].index(cells["answer-tests"]) + 1
    for offset, source in enumerate(attack.get("after", [])):
        nb["cells"].insert(position + offset, _cell("code", source))
    for cell in nb["cells"]:  # what a student's JupyterLab leaves: no solution markers
        cell["source"] = re.sub(r"### (BEGIN|END) SOLUTION\n?", "", cell["source"])
    return json.dumps(nb)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every attempt submitted by one student and graded by a real worker."""
    if os.geteuid() != 0:
        pytest.skip("grading runs in the sandbox, which needs root")
    if not shutil.which("bwrap"):
        pytest.fail("bubblewrap is not installed (apt-get install bubblewrap)")
    database = own_engine("sqlite://", tmp_path_factory)
    engine = next(database)
    factory = session_factory(engine)
    with factory() as s:
        make_course(s, tmp_path_factory.mktemp("courses"), "leaks", lessons=1, notebook=LESSON)
        user = make_user(s, "leaker")
        enrollments.enroll(s, user, "leaks")
        ids = {name: grading_queue.enqueue(s, user, "leaks", "l1", {"l1.ipynb": submission_for(attack)}).id
               for name, attack in [("reference", {"answer": "answer = 42"}), *ATTACKS.items()]}
        s.commit()
        user_id = user.id
    asyncio.run(Worker(factory, name="leak-worker").run(once=True))
    yield factory, user_id, ids
    next(database, None)


def received(factory, user_id: int, submission_id: int) -> tuple[str, NotebookSubmission]:
    """Everything the student gets of a submission, as text."""
    with factory() as s:
        user = s.get(User, user_id)
        submission = grading_queue.get_own(s, user, submission_id)
        assert submission.status == "graded", submission.error
        view = grading_queue.view(submission)  # GET /api/v1/submissions/{id}
        notebook = feedback.feedback_notebook(submission, "l1.ipynb")
        files = exchange.feedback_files(s, user, submission_id)["files"]  # Assignments panel
        html = "\n".join(files.values())
        text = "\n".join([json.dumps(view), json.dumps(notebook), html,
                          unescape(re.sub(r"<[^>]+>", "", html))])
        s.expunge(submission)
        return text, submission


def assert_nothing_leaks(text: str) -> None:
    leaked = [form for form in FORBIDDEN if form in text]
    assert not leaked, f"the student received {leaked}: " + next(
        text[max(0, text.index(f) - 300):text.index(f) + 100] for f in leaked)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_hidden_constants_do_not_reach_the_student(graded, attack):
    factory, user_id, ids = graded
    text, submission = received(factory, user_id, ids[attack])
    inside = ATTACKS[attack]["inside"]
    if inside is not None:
        # the attempt worked inside the run: the outputs in the instructors' copy show
        # what it found (their sources hold the hidden tests anyway)
        graded = json.loads(json.loads(submission.autograded)["l1.ipynb"])
        outputs = json.dumps([c.get("outputs", []) for c in graded["cells"]])
        assert any(found in outputs for found in inside), "the attempt did not run"
    assert_nothing_leaks(text)


def test_feedback_still_tells_the_student_what_failed(graded):
    """What the feedback keeps: the outputs of cells that ran before any hidden test, the
    instructor's message for a failed visible assert, and which part failed."""
    factory, user_id, ids = graded
    text, submission = received(factory, user_id, ids["reference"])
    assert_nothing_leaks(text)
    view = grading_queue.view(submission)
    assert view["score"] == view["max_score"] == 3
    text, submission = received(factory, user_id, ids["traceback_of_the_failed_hidden_test"])
    cells = {c["grade_id"]: c for c in grading_queue.view(submission)["feedback"]["notebooks"][0]["cells"]}
    assert cells["answer-tests"]["status"] == "failed"
    assert cells["answer-tests"]["error_name"] == "AssertionError"
    assert cells["answer-tests"]["error_message"] == "answer should be 42"
    text, submission = received(factory, user_id, ids["frame_introspection_into_a_later_assertion"])
    cells = {c["grade_id"]: c for c in grading_queue.view(submission)["feedback"]["notebooks"][0]["cells"]}
    assert cells["double-tests"]["status"] == "failed"
    assert "double(2) == 4" in cells["double-tests"]["error_message"]


def test_outputs_before_the_first_hidden_test_are_kept(graded):
    factory, user_id, ids = graded
    text, _ = received(factory, user_id, ids["settrace_and_setprofile"])
    assert "refused RuntimeError" in text  # printed by the solution cell, before any hidden test


# --------------------------------------------------------------------------------------
# Code challenges
# --------------------------------------------------------------------------------------
def test_hidden_challenge_tests_report_no_time_or_memory():
    from graders.judging import RunResult, Status
    from lms_extension.services import challenges

    cases = [challenges.JudgeCase(0, "2\n", "4\n", False),
             challenges.JudgeCase(1, "SECRET-INPUT", "SECRET-EXPECTED", True),
             challenges.JudgeCase(2, "SECRET-INPUT-2", "SECRET-EXPECTED-2", True)]
    # a program that spends time and memory proportional to its (hidden) input
    results = [RunResult(Status.ACCEPTED, stdout=b"4\n", stderr=b"", time=0.011, memory=3172),
               RunResult(Status.WRONG_ANSWER, stdout=b"SECRET", stderr=b"SECRET-ERR", time=0.721, memory=72043),
               RunResult(Status.TIME_LIMIT_EXCEEDED, time=5.005, memory=19865, message="Time limit exceeded")]
    outcome = challenges.outcome(cases, None, results)
    public, *hidden = outcome["tests"]
    assert public["time"] == "0.011" and public["memory"] == 3172 and public["stdout"] == "4\n"
    assert hidden == [{"index": 1, "hidden": True, "status": "Wrong Answer"},
                      {"index": 2, "hidden": True, "status": "Time Limit Exceeded"}]
    text = json.dumps(outcome)
    for figure in ("0.721", "72043", "5.005", "19865", "SECRET"):
        assert figure not in text
