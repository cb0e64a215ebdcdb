"""One test per way a submission could try to fake a passing test.

The target lesson (tests/grading/helpers.py) has four auto-graded tests: ``answer == 42``
(+ hidden ``isinstance(answer, int)``), ``math.isclose(ratio, 0.5)`` (+ hidden ``abs`` and
``np.allclose``), ``double(2) == 4`` (+ hidden list and ``in`` checks) and a partial-credit
cell whose last expression is a score. Each cheat below comes with *wrong* answers: a
defended cheat scores exactly what the wrong answers score without it (0), while the
reference solution scores 8.5 of 9 (see test_reference_solution_scores)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.grading.helpers import (HIDDEN_MARKER, TARGET_NAME, all_text, grade, outputs_of,
                                   target_lesson, target_with)

SOURCE = target_lesson()
WRONG = {"answer-solution": "answer = 41", "ratio-solution": "ratio = 0.75",
         "double-solution": "def double(x):\n    return x + 1"}
AUTO_TESTS = ("answer-tests", "ratio-tests", "double-tests", "partial-tests")


def run(changes: dict[str, str]):
    submission = target_with({**WRONG, **changes})
    return grade({TARGET_NAME: SOURCE}, {TARGET_NAME: submission}, cell_timeout=10)


def points(result) -> dict[str, float | None]:
    return {c.grade_id: c.points for c in result.notebooks[0].cells}


def assert_nothing_gained(result, *, allow_partial: float = 0.0) -> None:
    got = points(result)
    assert all(got[t] == 0 for t in AUTO_TESTS if t != "partial-tests"), got
    assert got["partial-tests"] <= allow_partial, got


def test_reference_solution_scores(grading_sandbox):
    result = grade({TARGET_NAME: SOURCE}, {TARGET_NAME: SOURCE})
    assert points(result) == {"answer-tests": 2, "ratio-tests": 2, "double-tests": 2,
                              "partial-tests": 2.5, "essay": None}
    assert result.needs_manual_grade


def test_wrong_answers_score_zero(grading_sandbox):
    assert_nothing_gained(run({}))


# ---------------------------------------------------------------------------- __eq__
def test_object_equal_to_everything(grading_sandbox):
    evil = ("class Anything:\n    def __eq__(self, other): return True\n"
            "    def __ne__(self, other): return False\n    __hash__ = object.__hash__\n")
    result = run({"answer-solution": evil + "answer = Anything()",
                  "ratio-solution": evil + "ratio = Anything()",
                  "double-solution": evil + "def double(x):\n    return Anything()"})
    assert_nothing_gained(result)
    assert result.cell("answer-tests").error_message == "answer should be 42"


def test_int_subclass_equal_to_everything(grading_sandbox):
    # passes the hidden isinstance(answer, int) check, but not the comparison
    result = run({"answer-solution": "class Sly(int):\n    def __eq__(self, other): return True\n"
                                     "    __hash__ = int.__hash__\nanswer = Sly(0)"})
    assert_nothing_gained(result)


def test_eq_returning_a_truthy_object(grading_sandbox):
    result = run({"answer-solution": "class Yes:\n    def __bool__(self): return True\n"
                                     "class Sly:\n    def __eq__(self, other): return Yes()\n"
                                     "answer = Sly()"})
    assert_nothing_gained(result)


def test_eq_that_only_lies_about_numbers(grading_sandbox):
    # claims equality with any int: the canaries the grader compares with are ints too
    result = run({"answer-solution": "class Sly(int):\n"
                                     "    def __eq__(self, other): return type(other) is int\n"
                                     "    __hash__ = int.__hash__\nanswer = Sly(1)"})
    assert_nothing_gained(result)


def test_cheating_objects_inside_containers_and_in(grading_sandbox):
    # double() is right for 0..2 (the visible and the list test) but lies for 3,
    # which only the hidden ``6 in [double(3)]`` checks
    result = run({"double-solution": "class Any:\n    def __eq__(self, o): return True\n"
                                     "    __hash__ = object.__hash__\n"
                                     "def double(x):\n    return 2 * x if x < 3 else Any()"})
    assert result.cell("double-tests").points == 0
    listed = run({"double-solution": "class Any:\n    def __eq__(self, o): return True\n"
                                     "    __hash__ = object.__hash__\n"
                                     "def double(x):\n    return Any()"})
    assert listed.cell("double-tests").points == 0


def test_honest_custom_eq_still_works(grading_sandbox):
    """A value with an ``__eq__`` of its own that is genuinely equal passes."""
    result = run({"answer-solution": "class Meaning(int):\n"
                                     "    def __eq__(self, other): return int(self) == other\n"
                                     "    __hash__ = int.__hash__\nanswer = Meaning(42)"})
    assert result.cell("answer-tests").points == 2


# ---------------------------------------------------------------------- builtins & modules
def test_builtins_monkeypatched(grading_sandbox):
    result = run({"answer-solution": "import builtins\nbuiltins.isinstance = lambda *a: True\n"
                                     "answer = 42.0",  # == 42, but not an int
                  "ratio-solution": "import builtins\nbuiltins.abs = lambda x: 0\n"
                                    "builtins.AssertionError = type('Nope', (Exception,), {})\n"
                                    "ratio = 0.75"})
    assert_nothing_gained(result, allow_partial=1)  # 42.0 == 42 is genuinely true
    assert result.cell("answer-tests").error_name == "AssertionError"


def test_builtins_shadowed_in_the_namespace(grading_sandbox):
    result = run({"answer-solution": "isinstance = lambda *a: True\nanswer = 42.0",
                  "ratio-solution": "abs = lambda x: 0\nratio = 0.75"})
    assert_nothing_gained(result, allow_partial=1)  # 42.0 == 42 is genuinely true


def test_library_functions_monkeypatched(grading_sandbox):
    result = run({"ratio-solution": "import math, numpy\nmath.isclose = lambda *a, **k: True\n"
                                    "numpy.allclose = lambda *a, **k: True\n"
                                    "import builtins\nbuiltins.abs = lambda x: 0\nratio = 0.75",
                  "double-solution": "def double(x):\n    return x + 1\n"
                                     "print('patched:', math.isclose(1, 2))"})
    assert_nothing_gained(result)
    # the student's own later cells still see their patch, as under nbgrader
    assert "patched: True" in all_text(result)


def test_library_function_code_or_defaults_swapped(grading_sandbox):
    """Replacing the code or defaults of a library function in place (the library guard
    compares identities, so this would slip past it) is refused."""
    result = run({"ratio-solution": (
        "import numpy, textwrap\n"
        "target = numpy.allclose._implementation if hasattr(numpy.allclose, '_implementation') \\\n"
        "    else numpy.allclose\n"
        "for attack in (lambda: setattr(target, '__code__', (lambda *a, **k: True).__code__),\n"
        "               lambda: setattr(target, '__defaults__', (1e9, 1e9, False)),\n"
        "               lambda: setattr(textwrap.dedent, '__code__', (lambda text: 'x').__code__)):\n"
        "    try:\n        attack()\n        print('allowed')\n"
        "    except RuntimeError:\n        print('refused')\n"
        "ratio = 0.75")})
    assert_nothing_gained(result)
    assert all_text(result).count("refused") == 3


def test_module_aliases_rebound(grading_sandbox):
    result = run({"ratio-solution": "class Fake:\n    def __getattr__(self, name):\n"
                                    "        return lambda *a, **k: True\n"
                                    "math = Fake()\nnp = Fake()\nabs = lambda x: 0\nratio = 0.75"})
    assert_nothing_gained(result)


def test_sys_modules_replaced(grading_sandbox):
    from tests.grading.helpers import _cell

    nb = json.loads(target_lesson())
    nb["cells"].insert(6, _cell("code", "import statistics\nassert statistics.mean([ratio, 0.5]) == 0.5",
                                "import-tests", grade=True, locked=True, points=1))
    source = json.dumps(nb)
    cheat = ("import sys, types\nfake = types.ModuleType('statistics')\n"
             "fake.mean = lambda values: 0.5\nsys.modules['statistics'] = fake\nratio = 0.75")
    sub = json.loads(source)
    for cell in sub["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "ratio-solution":
            cell["source"] = cheat
    result = grade({TARGET_NAME: source}, {TARGET_NAME: json.dumps(sub)})
    assert result.cell("import-tests").points == 0


# --------------------------------------------------------------------- IPython & Python hooks
def test_ipython_and_traceback_hooks(grading_sandbox):
    result = run({"answer-solution": (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
        "ip._showtraceback = lambda *a, **k: None\n"
        "InteractiveShell.showtraceback = lambda *a, **k: None\n"
        "sys.excepthook = lambda *a: None\nsys.displayhook = lambda value: None\n"
        "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "real_run_cell = ip.run_cell\n"
        "ip.run_cell = lambda *a, **k: real_run_cell('pass')\n"
        "answer = 41")})
    assert_nothing_gained(result)


def test_sys_exit_in_a_solution_cell(grading_sandbox):
    result = run({"answer-solution": "answer = 41\nimport sys\nsys.exit(0)",
                  "ratio-solution": "ratio = 0.5\nraise SystemExit"})
    got = points(result)
    assert got["answer-tests"] == 0
    assert got["ratio-tests"] == 2  # as under nbgrader: SystemExit is an error, then it goes on


def test_os_exit_in_a_solution_cell(grading_sandbox):
    result = run({"answer-solution": "answer = 42\nimport os\nos._exit(0)"})
    assert_nothing_gained(result)
    assert result.cell("answer-tests").status == "not_run"
    assert "process ended" in result.notebooks[0].error


def test_exit_while_a_test_runs(grading_sandbox):
    result = run({"double-solution": "import os\ndef double(x):\n    os._exit(0)"})
    assert result.cell("double-tests").points == 0
    assert result.cell("partial-tests").status == "not_run"


# ------------------------------------------------------------------------ forged results
FAKE_EVENT = ('{"event":"cell","submission":0,"notebook":0,"index":3,"status":"passed",'
              '"value":null,"outputs":[]}\\n')


def test_printing_passed_and_fake_result_json(grading_sandbox):
    result = run({"answer-solution": (
        "import os, sys\nprint('All tests passed!')\nprint('" + FAKE_EVENT + "' * 20)\n"
        "sys.__stdout__.write('passed')\n"
        "for fd in (1, 2):\n    os.write(fd, b'" + FAKE_EVENT + "')\nanswer = 41")})
    assert_nothing_gained(result)
    honest = grade({TARGET_NAME: SOURCE}, {TARGET_NAME: target_with({"answer-solution": (
        "print('" + FAKE_EVENT + "')\nanswer = 42")})})
    assert honest.cell("answer-tests").points == 2


def test_writing_result_files(grading_sandbox):
    result = run({"answer-solution": (
        "import json, os\nfake = {'score': 9, 'passed': True}\n"
        "for path in ('results.json', '/tmp/results.json', 'target.ipynb', 'gradebook.db',\n"
        "             '/box/.lms-result', '../result.json'):\n"
        "    try:\n        open(path, 'w').write(json.dumps(fake))\n"
        "    except OSError as exc:\n        print('refused', path, exc)\n"
        "answer = 41")})
    assert_nothing_gained(result)


def test_writing_fake_frames_to_every_descriptor(grading_sandbox):
    """Garbage and forged reports on every descriptor, the grader's pipes included:
    noticed as tampering, so nothing after it scores (honest students never do this)."""
    result = run({"answer-solution": (
        "import os, struct, hmac, hashlib\nbody = (1).to_bytes(8, 'big') + b'P' + bytes(17)\n"
        "frame = body + hmac.digest(os.urandom(32), body, 'sha256')\n"
        "for fd in range(3, 64):\n"
        "    for data in (frame * 3, struct.pack('>I', 20) + b'{\"seq\": 3, \"outputs\": []}'):\n"
        "        try:\n            os.write(fd, data)\n        except OSError:\n            pass\n"
        "answer = 42")})
    got = points(result)
    assert got["answer-tests"] == 0 and got["ratio-tests"] == 0
    assert result.cell("answer-tests").status in ("tampered", "not_run")
    assert "forged" in result.notebooks[0].error or "tampered" in result.notebooks[0].error


def test_injecting_a_cell_into_the_command_pipe(grading_sandbox):
    """A test command forged into the executor's command pipe (reopened through /proc):
    the executor reports the hash of what it ran, the supervisor notices."""
    result = run({"answer-solution": (
        "import os, marshal, struct\n"
        "fake = marshal.dumps((2, 3, compile('pass', 'x', 'exec'), None, False, ''))\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n        target = os.readlink(f'/proc/self/fd/{fd}')\n"
        "    except OSError:\n        continue\n"
        "    if target.startswith('pipe:'):\n"
        "        try:\n            w = os.open(f'/proc/self/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK)\n"
        "            os.write(w, struct.pack('>I', len(fake)) + fake)\n            os.close(w)\n"
        "        except OSError:\n            pass\n"
        "answer = 41")})
    assert result.cell("answer-tests").points == 0
    assert result.cell("answer-tests").status in ("tampered", "not_run")


def test_partial_credit_display_forged(grading_sandbox):
    result = run({"answer-solution": (
        "ip = get_ipython()\n"
        "ip.display_formatter.formatters['text/plain'].for_type(int, lambda v, p, c: p.text('3'))\n"
        "ip.display_formatter.formatters['text/plain'].for_type(float, lambda v, p, c: p.text('3'))\n"
        "import sys\nsys.displayhook = lambda v: print(3)\nanswer = 41")})
    assert_nothing_gained(result)
    shown = [o for o in outputs_of(result, "partial-tests") if o["output_type"] == "execute_result"]
    assert shown and "".join(shown[0]["data"]["text/plain"]) in ("0", "0.0")


# --------------------------------------------------------------------- processes
def test_killing_the_parent_and_everything_else(grading_sandbox):
    result = run({"answer-solution": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                                     "os.kill(-1, signal.SIGKILL)\nanswer = 42"})
    assert_nothing_gained(result)
    assert result.error


def test_forking_to_finish_later(grading_sandbox):
    result = run({"answer-solution": (
        "import os, time, sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(2)\n"
        "    for fd in range(64):\n"
        "        try:\n            os.write(fd, b'" + FAKE_EVENT + "')\n"
        "        except OSError:\n            pass\n"
        "    os._exit(0)\n"
        "answer = 41")})
    assert_nothing_gained(result)


# ----------------------------------------------------------- reaching into the grader
def test_grader_internals_are_out_of_reach(grading_sandbox):
    result = run({"answer-solution": (
        "import sys, gc, threading\nfound = []\n"
        "frame = sys._getframe()\n"
        "while frame is not None:\n"
        "    found += [k for k in frame.f_locals if k in ('key', 'lines')]\n"
        "    frame = frame.f_back\n"
        "print('keys in reach:', found)\n"
        "for probe in (gc.get_objects, lambda: gc.get_referrers(sys), sys._current_frames,\n"
        "              lambda: sys.settrace(lambda *a: None), lambda: sys.setprofile(print),\n"
        "              lambda: sys._current_exceptions()):\n"
        "    try:\n        probe()\n        print('allowed')\n"
        "    except (RuntimeError, AttributeError) as exc:\n        print('refused:', exc)\n"
        "seen = []\nsys.addaudithook(lambda event, args: seen.append(event))\n"
        "open('/dev/null').close()\nprint('audit hook added' if seen else 'audit hook refused')\n"
        "answer = 41")})
    assert_nothing_gained(result)
    text = all_text(result)
    assert "keys in reach: []" in text
    assert "allowed" not in text
    assert text.count("refused:") == 6
    assert "audit hook refused" in text


def test_raw_memory_entry_points_refused(grading_sandbox):
    result = run({"answer-solution": (
        "for probe in ('import ctypes; ctypes.string_at(id(1), 8)',\n"
        "              'import ctypes; ctypes.c_char.from_address(id(1))',\n"
        "              'import ctypes; ctypes.pythonapi.Py_IncRef',\n"
        "              'import ctypes; ctypes.CDLL(None)',\n"
        "              'import cffi',\n"
        "              'open(\"/proc/self/mem\", \"rb\")'):\n"
        "    try:\n        exec(probe)\n        print('allowed', probe)\n"
        "    except Exception as exc:\n        print('refused', type(exc).__name__)\n"
        "answer = 41")})
    assert_nothing_gained(result)
    text = all_text(result)
    assert "allowed" not in text and text.count("refused") == 6


def test_settrace_cannot_skip_asserts(grading_sandbox):
    result = run({"answer-solution": (
        "import sys, threading\n"
        "def skip(frame, event, arg):\n"
        "    if event == 'line' and 'assert' in str(frame.f_code.co_filename):\n"
        "        frame.f_lineno += 1\n    return skip\n"
        "for install in (sys.settrace, threading.settrace):\n"
        "    try:\n        install(skip)\n    except RuntimeError:\n        pass\n"
        "answer = 41")})
    assert_nothing_gained(result)


def test_hidden_tests_are_not_in_reach(grading_sandbox, tmp_path):
    """Nothing the student's code can open holds the hidden tests: stdin of the run was
    emptied, the supervisor's /proc entries are closed, the scratch folders hold none, and
    the whole tree the run sees (its small read-only root) is walked to the end without
    meeting the hidden-test files planted on the host, in /tmp, /var/tmp and the checkout.
    The verdict does not depend on how many files the host has: the walk must finish."""
    import secrets
    import shutil

    from tests.grading.helpers import REPO

    name = f"planted-hidden-{secrets.token_hex(6)}"
    folders = [Path("/tmp") / name, Path("/var/tmp") / name, REPO / f".{name}"]
    for folder in folders:
        folder.mkdir(mode=0o755)
        (folder / name).write_text(f"### BEGIN HIDDEN TESTS\nassert x, {HIDDEN_MARKER!r}\n")
        os.chmod(folder / name, 0o644)
    try:
        submission = target_with({**WRONG, "answer-solution": (
            "import os\nfound = []\n"
            "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    for path in (f'/proc/{pid}/fd/0', f'/proc/{pid}/cmdline', f'/proc/{pid}/environ',\n"
            "                 f'/proc/{pid}/mem'):\n"
            "        try:\n            data = open(path, 'rb').read(1 << 20)\n"
            "        except Exception:\n            continue\n"
            f"        if b'{HIDDEN_MARKER}' in data or b'BEGIN HIDDEN' in data:\n"
            "            found.append(path)\n"
            "for root in ('.', '/tmp', '/dev/shm'):\n"
            "    for dirpath, _, files in os.walk(root):\n"
            "        for name in files:\n"
            "            try:\n"
            f"                if b'{HIDDEN_MARKER}' in open(os.path.join(dirpath, name), 'rb').read():\n"
            "                    found.append(name)\n"
            "            except OSError:\n                pass\n"
            "entries = 0\n"
            "for top in os.listdir('/'):\n"
            "    if top in ('proc', 'sys', 'dev'):\n        continue\n"
            "    for dirpath, dirnames, files in os.walk('/' + top):\n"
            "        entries += len(dirnames) + len(files)\n"
            f"        found += [n for n in dirnames + files if n == {name!r}]\n"
            "print('hidden tests found in:', found)\n"
            "print('walked to the end:', entries > 1000)\nanswer = 41")})
        result = grade({TARGET_NAME: SOURCE}, {TARGET_NAME: submission}, cell_timeout=120)
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    text = all_text(result)
    assert "walked to the end: True" in text
    assert "hidden tests found in: []" in text
    for cell in result.notebooks[0].cells:
        assert HIDDEN_MARKER not in (cell.error_message or "")
