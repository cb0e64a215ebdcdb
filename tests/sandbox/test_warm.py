"""The warm Python runner: sandboxes started ahead of time, one run each.

A warm run must be indistinguishable from a cold one to the program and to the judge,
must be exactly as isolated (fresh scratch, own uid, own namespaces, limits), and must
leave nothing behind, including when its event loop goes away with spares waiting.
"""
import asyncio
import dataclasses

import pytest

from sandbox_helpers import PYTHON, TIGHT
from graders.judging import Status

PROGRAMS = [
    ("print(1)", "", ()),
    ("import sys\nprint(sys.argv, sys.path[0], __file__, __name__, __doc__)", "", ("a", "b c")),
    ("print(input() * 2)\nimport sys\nprint(sys.stdin.read())", "hi\nrest\nof it", ()),
    ("def f():\n    1/0\nf()", "", ()),
    ("print(", "", ()),
    ("import sys\nprint('out')\nsys.exit(3)", "", ()),
    ("raise KeyError('x')", "", ()),
    ("print(sorted(globals()))\nimport sys\nprint('socket' in sys.modules, 'json' in sys.modules)", "", ()),
    ("import os\nprint(sorted(os.listdir('/proc/self/fd')), os.listdir('/box'), os.getuid())", "", ()),
    ("import sys\nsys.stdout.write('x' * 100000)", "", ()),
    ("import os\nos.write(0, b'overwrite stdin')", "input", ()),
]


@pytest.fixture
def warm_sandbox(sandbox):
    """The session's sandbox keeping two Python spares with TIGHT limits for one test."""
    sandbox.enable_warm(2, limits=TIGHT)
    yield sandbox
    asyncio.run(sandbox.disable_warm())


def run_all(sandbox, programs, *, wait_for_spares=True):
    async def go():
        results = []
        for source, stdin, arguments in programs:
            if wait_for_spares:
                await sandbox.warm_ready(PYTHON, TIGHT)
            results.append(await sandbox.run_async(source, PYTHON, stdin=stdin, arguments=arguments,
                                                   limits=TIGHT))
        return results
    return asyncio.run(go())


def comparable(result):
    return (result.status, result.stdout, result.stderr, result.exit_code, result.signal, result.message)


def test_warm_runs_are_indistinguishable_from_cold(warm_sandbox):
    before = warm_sandbox.warm_runs
    warm = run_all(warm_sandbox, PROGRAMS)
    assert warm_sandbox.warm_runs - before == len(PROGRAMS)  # every one took a spare
    asyncio.run(warm_sandbox.disable_warm())
    cold = run_all(warm_sandbox, PROGRAMS, wait_for_spares=False)
    assert warm_sandbox.warm_runs - before == len(PROGRAMS)
    for (source, _, _), w, c in zip(PROGRAMS, warm, cold):
        assert comparable(w) == comparable(c), source
    assert warm[3].status is Status.RUNTIME_ERROR and b'File "<string>"' not in warm[3].stderr
    assert warm[4].stderr.startswith(b'  File "/box/script.py", line 1')  # a syntax error, as python prints it
    assert warm[5].exit_code == 3 and warm[5].stdout == b"out\n"
    assert warm[7].stdout.endswith(b"False False\n")  # the launcher's imports are gone
    assert warm[10].status is Status.RUNTIME_ERROR  # stdin is sealed: the write fails


def test_each_spare_serves_one_run(warm_sandbox):
    plant = ("import os\nopen('/tmp/planted', 'w').write('x')\nopen('/box/planted', 'w').write('x')\n"
             "import subprocess\nsubprocess.Popen(['sleep', '30'])\nprint(os.getuid(), open('/proc/self/uid_map').read().split()[1])")
    look = ("import os\nprint(os.path.exists('/tmp/planted'), os.path.exists('/box/planted'),"
            " sorted(p for p in os.listdir('/proc') if p.isdigit()))")
    first, second = run_all(warm_sandbox, [(plant, "", ()), (look, "", ())])
    assert first.status is Status.ACCEPTED, first
    assert second.status is Status.ACCEPTED, second
    # nothing of the first run (files, the process it left) reaches the second; its pid
    # namespace holds only bwrap's init and the program itself
    assert second.stdout.startswith(b"False False ['1', '2']"), second.stdout


def test_hostile_programs_on_the_warm_path(warm_sandbox):
    programs = [
        ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", "", ()),
        ("x = []\nwhile True:\n    x.append(bytearray(1 << 20))", "", ()),
        ("while True:\n    pass", "", ()),
        ("import socket\ns = socket.create_connection(('127.0.0.1', 5432), timeout=1)", "", ()),
        ("import os\nprint(os.listdir('/run') if os.path.exists('/run') else 'no /run')\n"
         "print(open('/etc/shadow').read())", "", ()),
    ]
    fork, memory, busy, network, snoop = run_all(warm_sandbox, programs)
    assert fork.status in (Status.TIME_LIMIT_EXCEEDED, Status.MEMORY_LIMIT_EXCEEDED), fork
    assert memory.status is Status.MEMORY_LIMIT_EXCEEDED, memory
    assert busy.status is Status.TIME_LIMIT_EXCEEDED, busy
    assert network.status is Status.RUNTIME_ERROR and b"Network is unreachable" in network.stderr, network
    assert snoop.status is Status.RUNTIME_ERROR and b"No such file" in snoop.stderr, snoop
    assert warm_sandbox.warm_runs >= 5


def test_other_limits_start_cold(warm_sandbox):
    before = warm_sandbox.warm_runs
    other = dataclasses.replace(TIGHT, memory=96_000)

    async def go():
        await warm_sandbox.warm_ready(PYTHON, TIGHT)
        return await warm_sandbox.run_async("print(2)", PYTHON, limits=other)
    result = asyncio.run(go())
    assert result.status is Status.ACCEPTED and result.stdout == b"2\n"
    assert warm_sandbox.warm_runs == before  # spares are made for their limits only


def test_spares_of_a_closed_loop_are_torn_down(warm_sandbox):
    async def fill():
        return await warm_sandbox.warm_ready(PYTHON, TIGHT)
    assert asyncio.run(fill()) == 2  # two spares wait; their loop is now closed
    assert warm_sandbox.residue() == []  # spares are not residue...

    async def next_loop():
        await warm_sandbox.disable_warm()  # tears down the closed loop's spares too
    asyncio.run(next_loop())
    assert warm_sandbox.residue() == []
    assert not warm_sandbox.warm._live  # ...and now they are gone
