"""Limits: CPU, wall clock, memory, processes, files, output; validation and overrides."""

import dataclasses

import pytest

from sandbox_helpers import C, CPP, JAVA, JAVASCRIPT, PYTHON, TIGHT
from graders.judging import Status
from graders.limits import Limits

MEMORY_HOGS = {
    PYTHON: "chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))",
    CPP: "#include <vector>\n#include <cstring>\nint main() { std::vector<char*> v;\n"
         "  for (;;) { char *p = new char[8 << 20]; std::memset(p, 1, 8 << 20); v.push_back(p); } }",
    JAVA: "import java.util.*;\npublic class Main { public static void main(String[] a) {\n"
          "  List<long[]> l = new ArrayList<>(); while (true) l.add(new long[1 << 20]); } }",
    JAVASCRIPT: "const a = []; for (;;) a.push(new Array(1 << 20).fill(1.5));",
}


def test_defaults_and_maxima_are_judge0s():
    assert Limits() == Limits(cpu_time=5, cpu_extra_time=1, wall_time=10, memory=128_000,
                              stack=64_000, max_processes=60, max_file_size=1024)
    assert Limits.MAXIMA["cpu_time"] == 15 and Limits.MAXIMA["wall_time"] == 20
    assert Limits.MAXIMA["memory"] == 512_000
    Limits(**Limits.MAXIMA)  # the maxima themselves are allowed
    compile_limits = Limits.for_compilation()
    assert compile_limits.cpu_time == 15 and compile_limits.cpu_extra_time == 0


@pytest.mark.parametrize("field, value, message", [
    ("cpu_time", 16, "cpu_time must be less than or equal to 15"),
    ("wall_time", 21, "wall_time must be less than or equal to 20"),
    ("memory", 512_001, "memory must be less than or equal to 512000"),
    ("max_processes", 0, "max_processes must be greater than 0"),
    ("cpu_extra_time", -1, "cpu_extra_time must be greater than or equal to 0"),
    ("max_file_size", "big", "max_file_size is not a number"),
])
def test_invalid_limits_are_refused_clearly(field, value, message):
    with pytest.raises(ValueError, match=message):
        Limits(**{field: value})


def test_busy_loop_is_stopped_at_the_cpu_limit(sandbox):
    limits = dataclasses.replace(TIGHT, cpu_time=0.5, cpu_extra_time=0.2)
    result = sandbox.run("int main(void) { for (;;) {} }", C, limits=limits)
    assert result.status is Status.TIME_LIMIT_EXCEEDED, result
    assert result.judge0_status_id == 5
    assert result.message == "Time limit exceeded"  # the CPU limit, not the wall clock
    assert 0.5 < result.time < 1.2


def test_cpu_time_counts_every_process(sandbox):
    # Three children each burn 0.5 s of CPU: none alone reaches the 1 s limit, together
    # they do. (CPU time, not wall time: this holds however loaded the machine is.)
    program = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n"
               "        while time.process_time() < 0.5:\n            pass\n        os._exit(0)\n"
               "for _ in range(3):\n    os.wait()")
    within = sandbox.run(program, PYTHON, limits=dataclasses.replace(TIGHT, cpu_time=2, wall_time=10))
    assert within.status is Status.ACCEPTED, within
    assert within.time >= 1.5
    over = sandbox.run(program, PYTHON, limits=dataclasses.replace(TIGHT, cpu_time=1, wall_time=10))
    assert over.status is Status.TIME_LIMIT_EXCEEDED, over
    assert over.message == "Time limit exceeded"


def test_sleeping_past_the_wall_limit(sandbox):
    limits = dataclasses.replace(TIGHT, wall_time=1, cpu_extra_time=0.2)
    result = sandbox.run("import time\ntime.sleep(30)", PYTHON, limits=limits)
    assert result.status is Status.TIME_LIMIT_EXCEEDED
    assert result.message == "Time limit exceeded (wall clock)"
    assert 1 < result.wall_time < 2.5 and result.time < 0.5


@pytest.mark.parametrize("language", MEMORY_HOGS)
def test_memory_limit_per_language(sandbox, language):
    limits = dataclasses.replace(TIGHT, memory=96_000, cpu_time=5, wall_time=10)
    result = sandbox.run(MEMORY_HOGS[language], language, limits=limits)
    assert result.status is Status.MEMORY_LIMIT_EXCEEDED, result
    assert result.judge0_status_id == 12
    assert result.memory <= 96_000 + 1024


def test_a_course_may_raise_the_memory_limit(sandbox):
    program = "data = bytearray(150 << 20)\ndata[::4096] = b'x' * len(data[::4096])\nprint('ok')"
    assert sandbox.run(program, PYTHON).status is Status.MEMORY_LIMIT_EXCEEDED
    roomy = Limits(memory=256_000)
    result = sandbox.run(program, PYTHON, limits=roomy, expected_output="ok")
    assert result.status is Status.ACCEPTED, result
    assert result.memory > 150_000


def test_file_size_limit_is_sigxfsz(sandbox):
    program = ("#include <stdio.h>\nint main(void) { FILE *f = fopen(\"big\", \"w\");\n"
               "  for (int i = 0; i < 4096; i++) fwrite(\"0123456789abcdef\", 1, 16 * 64, f);\n"
               "  fclose(f); return 0; }")
    result = sandbox.run(program, C, limits=TIGHT)
    assert (result.status, result.signal, result.judge0_status_id) == (
        Status.RUNTIME_ERROR, "SIGXFSZ", 8)


def test_output_limit_is_exact(sandbox):
    limit = TIGHT.max_file_size * 1024
    exact = sandbox.run(f"import sys\nsys.stdout.write('x' * {limit})", PYTHON, limits=TIGHT)
    assert exact.status is Status.ACCEPTED and len(exact.stdout) == limit
    over = sandbox.run(f"import sys\nsys.stdout.write('x' * {limit + 1})", PYTHON, limits=TIGHT)
    assert over.status is Status.RUNTIME_ERROR and over.signal == "SIGXFSZ"
    assert over.message == "Output limit exceeded" and len(over.stdout) == limit


def test_processes_and_threads_are_capped(sandbox):
    program = ("import threading, time\nstarted = 0\ntry:\n"
               "    while True:\n"
               "        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
               "        started += 1\n"
               "except RuntimeError:\n    print(started)")
    result = sandbox.run(program, PYTHON, limits=TIGHT)
    assert result.status is Status.ACCEPTED, result
    assert 0 < int(result.stdout) < TIGHT.max_processes


def test_stack_limit(sandbox):
    program = ("int depth(int n) { volatile char pad[1024]; pad[0] = n;\n"
               "  return n ? depth(n - 1) + pad[0] : 0; }\n"
               "int main(void) { return depth(100000); }")  # ~100 MB of stack
    result = sandbox.run(program, C, limits=dataclasses.replace(TIGHT, stack=8_000))
    assert (result.status, result.signal) == (Status.RUNTIME_ERROR, "SIGSEGV")


def test_compilation_has_its_own_limits(sandbox):
    too_little = Limits(cpu_time=0.1, cpu_extra_time=0, wall_time=5)
    heavy = "#include <iostream>\n#include <regex>\nint main() { std::regex r(\"a+\"); }"
    result = sandbox.run(heavy, CPP, compile_limits=too_little)
    assert result.status is Status.COMPILATION_ERROR
    assert result.compile_output == b"Compilation time limit exceeded."
