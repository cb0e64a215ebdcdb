"""The ``%%judge`` magic and ``judge()``: argument parsing, the local backend for every
language, the HTTP backend against the real Judge0-compatible server (real sandbox), and
the magic inside a real IPython kernel loaded by the installed IPython config."""
from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from lms_extension.kernel import judge as jm
from lms_extension.kernel.judge import (
    HttpBackend,
    JudgeError,
    JudgeUnavailable,
    LocalBackend,
    NotAnswered,
    Submission,
    judge,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "lms_extension" / "labserver" / "etc" / "ipython" / "ipython_kernel_config.py"

# One program per language: read two integers, print their sum.
SUM = {
    "cpp": '#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; '
           'std::cout << a + b << "\\n"; }',
    "c": '#include <stdio.h>\nint main(void) { long long a, b; scanf("%lld %lld", &a, &b); '
         'printf("%lld\\n", a + b); return 0; }',
    "java": "import java.util.Scanner;\npublic class Main {\n  public static void main(String[] args) {\n"
            "    Scanner in = new Scanner(System.in);\n"
            "    System.out.println(in.nextLong() + in.nextLong());\n  }\n}",
    "javascript": 'const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\n'
                  "console.log(a + b);",
    "python": "a, b = map(int, input().split())\nprint(a + b)",
}
# Prints a line, waits a second, prints another: the first must arrive before the end.
SLOW = {
    "cpp": '#include <iostream>\n#include <chrono>\n#include <thread>\nint main() {\n'
           '  std::cout << "first" << std::endl;\n'
           "  std::this_thread::sleep_for(std::chrono::milliseconds(1200));\n"
           '  std::cout << "second" << std::endl;\n}',
    "java": 'public class Main {\n  public static void main(String[] args) throws Exception {\n'
            '    System.out.println("first");\n    System.out.flush();\n    Thread.sleep(1200);\n'
            '    System.out.println("second");\n  }\n}',
}
SEGFAULT = "int main() { volatile int *p = nullptr; *p = 1; return 0; }"
JAVA_CRASH = ("public class Main {\n  public static void main(String[] args) {\n"
              '    int[] a = new int[2];\n    System.out.println("before");\n    a[3] = 1;\n  }\n}')
CPP_COMPILE_ERROR = "int main() { int x = ; }"
UNANSWERED_CPP = ("#include <iostream>\nint main() {\n    # YOUR CODE HERE\n"
                  "    raise NotImplementedError()\n}")


def stream_times(collected: list) -> callable:
    started = time.monotonic()
    return lambda stream, text: collected.append((time.monotonic() - started, stream, text))


# --------------------------------------------------------------------------------------
# Parsing the magic line and the API's arguments
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, language_id", [
    ("cpp", 52), ("c++", 52), ("CPP", 52), ("java", 62), ("c", 50), ("javascript", 63),
    ("js", 63), ("python", 71), ("62", 62)])
def test_language_names(name, language_id):
    assert jm.parse_magic_line(name, {}).language_id == language_id
    assert jm.language_id(name) == language_id


def test_magic_options():
    args = jm.parse_magic_line(
        r'cpp --stdin "3 4\n5 6" --save my_solution --time 2.5 --memory 64 --expect "7\n11"', {})
    assert args.stdin == "3 4\n5 6"
    assert args.save == "my_solution"
    assert args.time_limit == 2.5 and args.memory_limit == 64
    assert args.expected_output == "7\n11"
    assert jm.parse_magic_line("java", {}).stdin == ""
    assert jm.parse_magic_line("java --stdin-var data", {"data": "1 2\n"}).stdin == "1 2\n"
    assert jm.parse_magic_line("java --stdin-var data", {"data": b"\x00\x01"}).stdin == b"\x00\x01"
    assert jm.parse_magic_line(r"cpp --stdin 'a\\n'", {}).stdin == "a\\n"


@pytest.mark.parametrize("line, message", [
    ("rust", "unknown language 'rust'"),
    ("", "required: language"),
    ("cpp --stdin 'unclosed", "No closing quotation"),
    ("cpp --stdin a --stdin-var b", "not allowed with argument"),
    ("cpp --stdin-var missing", "no such variable"),
    ("cpp --stdin-var number", "must be a str or bytes"),
    ("cpp --save 2fast", "not a valid variable name"),
    ("cpp --time 16", "--time must be between"),
    ("cpp --time soon", "invalid float value"),
    ("cpp --memory 0", "--memory must be between"),
    ("cpp --memory 501", "--memory must be between"),
    ("cpp --fast", "unrecognized arguments: --fast"),
])
def test_magic_usage_errors(line, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        jm.parse_magic_line(line, {"number": 3})


def test_api_argument_errors():
    local = LocalBackend()
    with pytest.raises(jm.UnknownLanguage):
        judge("x", "cobol", backend=local)
    with pytest.raises(ValueError, match="non-empty"):
        judge("   ", "cpp", backend=local)
    with pytest.raises(ValueError, match="time_limit"):
        judge(SUM["cpp"], "cpp", time_limit=20, backend=local)
    with pytest.raises(ValueError, match="memory_limit"):
        judge(SUM["cpp"], "cpp", memory_limit=1000, backend=local)


def test_nbgrader_stub_is_not_answered():
    with pytest.raises(NotAnswered) as raised:
        judge(UNANSWERED_CPP, "cpp", backend=LocalBackend())
    assert isinstance(raised.value, NotImplementedError)  # what an unanswered Python cell raises
    assert "YOUR CODE HERE" in raised.value._render_traceback_()[0]
    # in Python the stub is real code: it runs, and fails like Python
    result = judge("def f():\n    raise NotImplementedError()\nf()", "python", backend=LocalBackend())
    assert result.status == "Runtime Error (NZEC)" and "NotImplementedError" in result.stderr


def test_backend_from_environment():
    local = jm.backend_from_environment({"LMS_JUDGE_LOCAL": "1", "LMS_SERVICE_URL": "http://x/"})
    assert isinstance(local, LocalBackend)
    assert jm.backend_from_environment({"LMS_JUDGE_LOCAL": "true"}) is local  # one build cache
    platform = jm.backend_from_environment({"LMS_SERVICE_URL": "http://127.0.0.1:9/services/lms/",
                                            "JUPYTERHUB_API_TOKEN": "abc"})
    assert isinstance(platform, HttpBackend)
    assert platform.base_url == "http://127.0.0.1:9/services/lms/api/judge0"
    assert platform.headers == {"Authorization": "token abc"}
    standalone = jm.backend_from_environment({"LMS_JUDGE0_URL": "http://j:2358/",
                                              "LMS_JUDGE0_AUTH_TOKEN": "t"})
    assert standalone.base_url == "http://j:2358" and standalone.headers == {"X-Auth-Token": "t"}
    for env in ({}, {"LMS_JUDGE_LOCAL": "0"}, {"LMS_SERVICE_URL": "http://x/"}):
        with pytest.raises(JudgeUnavailable, match="LMS_JUDGE_LOCAL=1"):
            jm.backend_from_environment(env)


def test_text_streams_do_not_split_characters():
    seen = []
    streams = jm._TextStreams(lambda stream, text: seen.append((stream, text)))
    data = "héllo ✓".encode()
    for i in range(len(data)):
        streams.feed("stdout", data[i:i + 1])
    streams.flush()
    assert "".join(text for _, text in seen) == "héllo ✓"


def test_unreachable_judge_is_a_judge_error():
    backend = HttpBackend("http://127.0.0.1:9", timeout=5)  # nothing listens on port 9
    with pytest.raises(JudgeError, match="cannot reach the judge"):
        judge(SUM["python"], "python", stdin="1 2", backend=backend)


# --------------------------------------------------------------------------------------
# Local backend: real compilers, real processes
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local():
    return LocalBackend()


@pytest.mark.parametrize("language", sorted(SUM))
def test_local_runs_every_language(local, language):
    result = judge(SUM[language], language, stdin="3000000000 4\n", backend=local)
    assert result.status == "Accepted" and result.ok, result
    assert result.stdout == "3000000004\n" and result.stderr == ""
    assert result.time is not None and result.time < 5
    assert result.status_id == 3 and result.exit_code == 0 and result.exit_signal is None


def test_local_compile_errors(local):
    result = judge(CPP_COMPILE_ERROR, "cpp", backend=local)
    assert result.status == "Compilation Error" and result.status_id == 6
    assert "error:" in result.compile_output and result.stdout == ""
    java = judge(SUM["java"].replace("class Main", "class Sum"), "java", backend=local)
    assert java.status == "Compilation Error"
    assert "Hint: the public class must be called Main" in "\n".join(jm.failure_details(java, None))
    c = judge("int main(void) { return undefined_name; }", "c", backend=local)
    assert c.status == "Compilation Error" and "undefined_name" in c.compile_output


def test_local_runtime_errors(local):
    segv = judge(SEGFAULT, "cpp", backend=local)
    assert segv.status == "Runtime Error (SIGSEGV)" and segv.exit_signal == 11
    assert "invalid memory access" in "\n".join(jm.failure_details(segv, None))
    crash = judge(JAVA_CRASH, "java", backend=local)
    assert crash.status == "Runtime Error (NZEC)" and crash.exit_code == 1
    assert crash.stdout == "before\n" and "ArrayIndexOutOfBoundsException" in crash.stderr
    assert "ArrayIndexOutOfBoundsException" in str(crash)  # what `assert r.ok, r` shows
    abort = judge("#include <vector>\nint main() { std::vector<int> v; return v.at(3); }", "cpp",
                  backend=local)
    assert abort.status == "Runtime Error (SIGABRT)" and "out_of_range" in abort.stderr


def test_local_time_limits(local):
    started = time.monotonic()
    spin = judge("int main() { volatile long x = 0; while (true) x++; }", "cpp", time_limit=1,
                 backend=local)
    assert spin.status == "Time Limit Exceeded" and spin.status_id == 5
    assert time.monotonic() - started < 6
    sleeper = local.run(Submission("import time\ntime.sleep(30)", 71, wall_time_limit=1), None)
    assert sleeper.status == "Time Limit Exceeded" and "wall clock" in sleeper.message


def test_local_memory_and_output_limits(local):
    java = judge("public class Main { public static void main(String[] a) {\n"
                 "  long[] big = new long[200_000_000]; System.out.println(big.length); } }",
                 "java", backend=local)
    assert java.status == "Runtime Error (Other)" and java.message == "Memory limit exceeded"
    assert jm.failure_details(java, None)[0].startswith("Memory limit exceeded: ")
    cpp = judge("#include <vector>\n#include <cstdio>\nint main() {\n"
                "  std::vector<char> v(300u << 20, 1); std::printf(\"%d\", v[7]); }",
                "cpp", memory_limit=64, backend=local)
    assert cpp.message == "Memory limit exceeded"
    flood = judge("while True: print('x' * 1000)", "python", backend=local)
    assert flood.status == "Runtime Error (SIGXFSZ)" and len(flood.stdout) == jm.OUTPUT_LIMIT_BYTES


def test_local_expected_output(local):
    ok = judge(SUM["python"], "python", stdin="1 2", expected_output="3  \n\n", backend=local)
    assert ok.status == "Accepted"
    wrong = judge(SUM["python"], "python", stdin="1 2", expected_output="4", backend=local)
    assert wrong.status == "Wrong Answer" and wrong.status_id == 4
    assert jm.failure_details(wrong, "4")[0] == "line 1: expected '4', got '3'"


def test_local_large_input_and_streaming(local):
    data = "".join(f"{i}\n" for i in range(200_000))
    total = judge("import sys\nprint(sum(map(int, sys.stdin.read().split())))", "python",
                  stdin=data, backend=local)
    assert total.stdout == f"{sum(range(200_000))}\n"
    events: list = []
    result = judge(SLOW["cpp"], "cpp", on_output=stream_times(events), backend=local)
    assert result.stdout == "first\nsecond\n"
    first, second = [t for t, stream, text in events if stream == "stdout"][:2]
    assert second - first > 0.8, events  # the first line was shown while the program slept


def test_local_does_not_wait_for_escaped_children(local):
    started = time.monotonic()
    result = judge("import os, sys, time\n"
                   "if os.fork() == 0:\n"
                   "    os.setsid()\n"
                   "    time.sleep(6)\n"
                   "    os._exit(0)\n"
                   "print('parent done')", "python", backend=local)
    assert result.status == "Accepted" and result.stdout == "parent done\n"
    assert time.monotonic() - started < 5


def test_local_compiles_a_solution_once(local):
    source = SUM["java"] + "\n// cache test"
    started = time.monotonic()
    judge(source, "java", stdin="1 2", backend=local)
    first = time.monotonic() - started
    builds = len(local._builds)
    started = time.monotonic()
    assert judge(source, "java", stdin="5 6", backend=local).stdout == "11\n"
    assert len(local._builds) == builds and time.monotonic() - started < first
    evicting = LocalBackend(cache_entries=1)
    judge(SUM["cpp"], "cpp", stdin="1 1", backend=evicting)
    old = next(iter(evicting._builds.values())).directory
    judge(SUM["c"], "c", stdin="1 1", backend=evicting)
    assert len(evicting._builds) == 1 and not old.exists()


# --------------------------------------------------------------------------------------
# HTTP backend: graders.judge0 on a loopback port, real sandbox
# --------------------------------------------------------------------------------------
TOKEN = "judge-magic-test-token"


class Served:
    """A Tornado app on a random loopback port, in a thread with its own event loop."""

    def __init__(self, make):
        import tornado.httpserver
        import tornado.netutil

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start():
            app = make()
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            server = tornado.httpserver.HTTPServer(app)
            server.add_sockets(sockets)
            return app, server, sockets[0].getsockname()[1]

        self.app, self.server, port = self._call(start())
        self.url = f"http://127.0.0.1:{port}"

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self):
        async def stop():
            self.server.stop()
            await self.app.settings["judge0"].close()

        self._call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def sandbox():
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root (cgroups, tmpfs mounts, per-run uids)")
    from graders.submissions import SubmissionSandbox

    sandbox = SubmissionSandbox()
    yield sandbox
    assert sandbox.residue() == []


@pytest.fixture(scope="module")
def judge0(sandbox):
    from graders.judge0.app import Judge0Config, make_app

    served = Served(lambda: make_app(Judge0Config(auth_tokens=(TOKEN,)), sandbox=sandbox))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def platform_judge0(sandbox):
    """The API as the platform mounts it: under /services/lms/api/judge0, Hub-style tokens."""
    from graders.judge0.app import Judge0Config, make_app

    users = {"token student-token": "student"}
    served = Served(lambda: make_app(
        Judge0Config(callback_hosts=frozenset()), sandbox=sandbox,
        base_path="/services/lms/api/judge0",
        authenticate=lambda handler: users.get(handler.request.headers.get("Authorization"))))
    yield served
    served.stop()


@pytest.mark.parametrize("language", ["cpp", "java"])
def test_http_streams_output_while_the_program_runs(judge0, language):
    backend = HttpBackend(judge0.url, {"X-Auth-Token": TOKEN})
    events: list = []
    result = judge(SLOW[language], language, on_output=stream_times(events), backend=backend)
    assert result.status == "Accepted" and result.stdout == "first\nsecond\n", result
    assert result.token and result.time is not None and result.memory
    stdout = [(t, text) for t, stream, text in events if stream == "stdout"]
    assert "".join(text for _, text in stdout) == "first\nsecond\n"
    assert len(stdout) >= 2 and stdout[-1][0] - stdout[0][0] > 0.8, events


def test_http_polling_fallback_gives_the_same_result(judge0):
    polling = HttpBackend(judge0.url, {"X-Auth-Token": TOKEN}, use_stream=False)
    events: list = []
    result = judge(SUM["cpp"], "cpp", stdin="40 2", on_output=stream_times(events), backend=polling)
    assert result.stdout == "42\n" and [text for _, _, text in events] == ["42\n"]
    local = judge(SUM["cpp"], "cpp", stdin="40 2", backend=LocalBackend())
    assert (local.status, local.stdout, local.stderr) == (result.status, result.stdout, result.stderr)


def test_http_failures(judge0):
    backend = HttpBackend(judge0.url, {"X-Auth-Token": TOKEN})
    compile_error = judge(CPP_COMPILE_ERROR, "cpp", backend=backend)
    assert compile_error.status == "Compilation Error" and "error:" in compile_error.compile_output
    segv = judge(SEGFAULT, "cpp", backend=backend)
    assert segv.status == "Runtime Error (SIGSEGV)" and segv.exit_signal == 11
    crash = judge(JAVA_CRASH, "java", backend=backend)
    assert crash.status == "Runtime Error (NZEC)" and crash.stdout == "before\n"
    assert "ArrayIndexOutOfBoundsException" in crash.stderr
    spin = judge("int main() { volatile long x = 0; while (true) x++; }", "cpp", time_limit=1,
                 backend=backend)
    assert spin.status == "Time Limit Exceeded"
    wrong = judge(SUM["python"], "python", stdin="1 1", expected_output="3", backend=backend)
    assert wrong.status == "Wrong Answer"
    with pytest.raises(JudgeError, match=r"refused the credentials \(401\)"):
        judge(SUM["python"], "python", backend=HttpBackend(judge0.url, {"X-Auth-Token": "wrong"}))


def test_http_result_of_a_submission_the_server_forgot(sandbox):
    """A replica that does not know the token (or an expired one) answers 404: the client
    runs the submission again in one ``wait=true`` request."""
    from graders.judge0.app import Judge0Config, make_app

    forgetful = Served(lambda: make_app(Judge0Config(auth_tokens=(TOKEN,), submission_ttl=0.0),
                                        sandbox=sandbox))
    try:
        for use_stream in (True, False):
            events: list = []
            backend = HttpBackend(forgetful.url, {"X-Auth-Token": TOKEN}, use_stream=use_stream)
            result = judge(SUM["cpp"], "cpp", stdin="40 2", on_output=stream_times(events),
                           backend=backend)
            assert result.status == "Accepted" and result.stdout == "42\n"
            assert "".join(text for _, _, text in events) == "42\n"  # printed once
    finally:
        forgetful.stop()


def test_http_as_in_a_student_server(platform_judge0):
    env = {"LMS_SERVICE_URL": platform_judge0.url + "/services/lms/",
           "JUPYTERHUB_API_TOKEN": "student-token"}
    backend = jm.backend_from_environment(env)
    result = judge(SUM["java"], "java", stdin="20 22", backend=backend)
    assert result.status == "Accepted" and result.stdout == "42\n"
    with pytest.raises(JudgeError, match="restart your server"):
        judge(SUM["java"], "java", backend=jm.backend_from_environment(
            {**env, "JUPYTERHUB_API_TOKEN": "stolen"}))


# --------------------------------------------------------------------------------------
# The magic in a real kernel, loaded by the installed IPython config
# --------------------------------------------------------------------------------------
def test_ipython_reads_the_installed_config():
    from IPython.core.application import ENV_CONFIG_DIRS

    installed = Path(sys.prefix) / "etc" / "ipython" / CONFIG.name
    assert str(installed.parent) in ENV_CONFIG_DIRS
    assert installed.is_file(), (f"{installed} is missing: `make setup` copies {CONFIG.relative_to(REPO)} "
                                 "there (editable installs skip data-files)")
    assert installed.read_text() == CONFIG.read_text()


class Kernel:
    def __init__(self, env: dict):
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 60) -> list[tuple[float, str, dict]]:
        outputs = []
        started = time.monotonic()

        def hook(msg):
            if msg["msg_type"] in ("stream", "display_data", "error", "execute_result"):
                outputs.append((time.monotonic() - started, msg["msg_type"], msg["content"]))

        self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        return outputs

    def stop(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel():
    env = {**os.environ, "LMS_JUDGE_LOCAL": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    running = Kernel(env)
    yield running
    running.stop()


def text_of(outputs, kind="stdout") -> str:
    return "".join(c["text"] for _, t, c in outputs if t == "stream" and c["name"] == kind)


def errors_of(outputs) -> list[dict]:
    return [c for _, t, c in outputs if t == "error"]


def test_magic_runs_saves_and_shows_the_status(kernel):
    cell = "%%judge cpp --stdin '3 4' --save my_solution\n" + SUM["cpp"]
    outputs = kernel.run(cell)
    assert text_of(outputs) == "7\n" and not errors_of(outputs), outputs
    status = [c["data"]["text/plain"] for _, t, c in outputs if t == "display_data"]
    assert len(status) == 1 and status[0].startswith("✔ Accepted (C++)"), status
    # a graded test cell runs the saved source again with other input
    check = kernel.run("from lms_extension.kernel.judge import judge\n"
                       "r = judge(my_solution, 'cpp', stdin='10 20\\n')\n"
                       "print(repr(r.stdout), r.status, my_solution.rstrip() == " + repr(SUM["cpp"]) + ")")
    assert text_of(check) == "'30\\n' Accepted True\n", check


def test_magic_streams_java_output(kernel):
    outputs = kernel.run("%%judge java\n" + SLOW["java"])
    stdout = [(t, c["text"]) for t, kind, c in outputs if kind == "stream" and c["name"] == "stdout"]
    assert "".join(text for _, text in stdout) == "first\nsecond\n"
    assert stdout[-1][0] - stdout[0][0] > 0.8, outputs


def test_magic_shows_failures_without_a_python_traceback(kernel):
    crash = kernel.run("%%judge java\n" + JAVA_CRASH)
    assert text_of(crash) == "before\n" and "ArrayIndexOutOfBoundsException" in text_of(crash, "stderr")
    [error] = errors_of(crash)
    assert error["ename"] == "JudgeFailed" and "Runtime Error (NZEC)" in error["traceback"][0]
    assert not any("File " in line or "Traceback" in line for line in error["traceback"])

    [compile_error] = errors_of(kernel.run("%%judge cpp\n" + CPP_COMPILE_ERROR))
    assert "Compilation Error" in compile_error["traceback"][0]
    assert any("error:" in line for line in compile_error["traceback"][1:])

    [timeout] = errors_of(kernel.run("%%judge cpp --time 1\nint main() { while (true) {} }"))
    assert "Time Limit Exceeded" in timeout["traceback"][0]

    [segv] = errors_of(kernel.run("%%judge c\nint main(void) { int *p = 0; *p = 1; return 0; }"))
    assert "SIGSEGV" in segv["traceback"][0] and "signal 11" in segv["traceback"][1]

    [wrong] = errors_of(kernel.run("%%judge python --expect 'a\\nb'\nprint('a')\nprint('c')"))
    assert "Wrong Answer" in wrong["traceback"][0] and "expected 'b', got 'c'" in wrong["traceback"][1]

    [stub] = errors_of(kernel.run("%%judge cpp --save unanswered\n" + UNANSWERED_CPP))
    assert stub["ename"] == "NotAnswered"
    assert text_of(kernel.run("print(len(unanswered) > 0)")) == "True\n"  # saved anyway


def test_magic_usage_error(kernel):
    outputs = kernel.run("%%judge rust\nfn main() {}")
    assert "UsageError: %%judge: unknown language 'rust'" in text_of(outputs, "stderr")
    assert "the cell is empty" in text_of(kernel.run("%%judge cpp\n\n"), "stderr")
    help_text = text_of(kernel.run("print(get_ipython().find_cell_magic('judge').__doc__)"))
    assert "--stdin-var NAME" in help_text


def test_the_magic_the_sandbox_and_the_api_read_one_judge0_table():
    """One copy of the statuses, languages and maxima: the magic's is the graders' own, and it
    imports nothing, so a student's server (which sees lms_extension only) and the grading
    runner's sandbox can load it alone."""
    import ast

    from graders import languages
    from graders.judge0 import statuses
    from graders.limits import Limits
    from lms_extension.kernel import judge0_tables

    assert statuses.DESCRIPTIONS is judge0_tables.DESCRIPTIONS is jm.DESCRIPTIONS
    assert statuses.SIGNAL_STATUS_IDS is jm.SIGNAL_STATUS_IDS
    assert set(judge0_tables.LANGUAGE_NAMES) == {lang.id for lang in languages.LANGUAGES}
    assert (Limits.MAXIMA["cpu_time"], Limits.MAXIMA["wall_time"], Limits.MAXIMA["memory"]) == (
        jm.MAX_CPU_SECONDS, jm.MAX_WALL_SECONDS, jm.MAX_MEMORY_MB * 1024)
    source = (REPO / "lms_extension" / "kernel" / "judge0_tables.py").read_text()
    imported = {node.module if isinstance(node, ast.ImportFrom) else alias.name
                for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert imported <= {"__future__", "collections.abc"}, imported
    # the only other place the ids were written: the magic keeps no table of its own
    magic = (REPO / "lms_extension" / "kernel" / "judge.py").read_text()
    assert '"Runtime Error (SIGSEGV)"' not in magic and "512000" not in magic
