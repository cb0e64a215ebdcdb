"""Every language: accepted, wrong answer, compile errors and runtime errors by kind."""

import pytest

from sandbox_helpers import C, CPP, JAVA, JAVASCRIPT, PYTHON
from graders.languages import LANGUAGES, UnknownLanguage, get_language
from graders.judging import Status

REVERSE_LINE = {
    PYTHON: "print(input()[::-1])",
    JAVASCRIPT: "const s = require('fs').readFileSync(0, 'utf8').trim();\n"
                "console.log([...s].reverse().join(''));",
    JAVA: "import java.util.Scanner;\n"
          "public class Main { public static void main(String[] a) {\n"
          "  String s = new Scanner(System.in).nextLine();\n"
          "  System.out.println(new StringBuilder(s).reverse()); } }",
    CPP: "#include <algorithm>\n#include <iostream>\n#include <string>\n"
         "int main() { std::string s; std::getline(std::cin, s);\n"
         "  std::reverse(s.begin(), s.end()); std::cout << s << '\\n'; }",
    C: "#include <stdio.h>\n#include <string.h>\n"
       "int main(void) { char s[64]; if (!fgets(s, sizeof s, stdin)) return 1;\n"
       "  s[strcspn(s, \"\\n\")] = 0;\n"
       "  for (int i = (int)strlen(s) - 1; i >= 0; i--) putchar(s[i]);\n"
       "  putchar('\\n'); return 0; }",
}

SYNTAX_ERROR = {
    PYTHON: "print(",
    JAVASCRIPT: "console.log(;",
    JAVA: "public class Main { public static void main(String[] a) { int x = } }",
    CPP: "int main() { return undefined_name; }",
    C: "int main(void) { return }",
}

# language -> (program, expected status, expected signal name or None)
RUNTIME_ERRORS = {
    PYTHON: ("import sys\nsys.exit(3)", None, 3),
    JAVASCRIPT: ("throw new Error('boom');", None, 1),
    JAVA: ("public class Main { public static void main(String[] a) {\n"
           "  throw new IllegalStateException(\"boom\"); } }", None, 1),
    CPP: ("#include <cstdlib>\nint main() { std::abort(); }", "SIGABRT", None),
    C: ("#include <stddef.h>\nint main(void) { volatile int *p = NULL; return *p; }",
        "SIGSEGV", None),
}


@pytest.mark.parametrize("language", REVERSE_LINE, ids=lambda i: get_language(i).display_name)
def test_accepted_and_wrong_answer(sandbox, language):
    accepted = sandbox.run(REVERSE_LINE[language], language, stdin="stressed\n",
                           expected_output="desserts\n")
    assert accepted.status is Status.ACCEPTED, accepted
    assert accepted.stdout == b"desserts\n"
    assert accepted.judge0_status == {"id": 3, "description": "Accepted"}
    assert accepted.exit_code == 0 and accepted.signal is None
    assert 0 < accepted.time < 5 and 0 < accepted.wall_time < 10 and accepted.memory > 0

    wrong = sandbox.run(REVERSE_LINE[language], language, stdin="abc\n", expected_output="abc")
    assert wrong.status is Status.WRONG_ANSWER, wrong
    assert wrong.judge0_status_id == 4


@pytest.mark.parametrize("language", SYNTAX_ERROR, ids=lambda i: get_language(i).display_name)
def test_syntax_errors(sandbox, language):
    result = sandbox.run(SYNTAX_ERROR[language], language)
    if get_language(language).compile_cmd is None:
        # Interpreted: the interpreter reports it at run time, as in Judge0.
        assert result.status is Status.RUNTIME_ERROR, result
        assert result.judge0_status_id == 11
        assert b"SyntaxError" in result.stderr
    else:
        assert result.status is Status.COMPILATION_ERROR, result
        assert result.judge0_status_id == 6
        assert b"error" in result.compile_output
        assert result.stdout == b""


@pytest.mark.parametrize("language", RUNTIME_ERRORS, ids=lambda i: get_language(i).display_name)
def test_runtime_errors(sandbox, language):
    program, signal_name, exit_code = RUNTIME_ERRORS[language]
    result = sandbox.run(program, language)
    assert result.status is Status.RUNTIME_ERROR, result
    assert result.signal == signal_name
    assert result.exit_code == exit_code
    expected_id = {"SIGABRT": 10, "SIGSEGV": 7, None: 11}[signal_name]
    assert result.judge0_status_id == expected_id


def test_division_by_zero_is_sigfpe(sandbox):
    program = "int main(int argc, char **argv) { return 7 / (argc - 1); }"
    result = sandbox.run(program, C)
    assert (result.status, result.signal, result.judge0_status_id) == (
        Status.RUNTIME_ERROR, "SIGFPE", 9)


def test_compiler_warnings_are_kept_and_options_apply(sandbox):
    program = "#include <stdio.h>\nint main(void) { int unused; printf(\"%d\\n\", VALUE); }"
    result = sandbox.run(program, C, compiler_options=["-Wall", "-DVALUE=42"],
                         expected_output="42")
    assert result.status is Status.ACCEPTED, result
    assert b"unused" in result.compile_output


def test_arguments_stderr_redirect_and_runs(sandbox):
    program = "import sys\nprint(' '.join(sys.argv[1:]), flush=True)\nprint('to stderr', file=sys.stderr)"
    result = sandbox.run(program, PYTHON, arguments=["a b", "c"], redirect_stderr_to_stdout=True,
                         number_of_runs=2)
    assert result.status is Status.ACCEPTED
    assert result.stdout == b"a b c\nto stderr\n"
    assert result.stderr == b""


def test_output_is_streamed_while_running(sandbox):
    chunks = []
    program = ("import sys, time\nfor i in range(3):\n"
               "    print(i, flush=True); print('e', i, file=sys.stderr, flush=True)\n"
               "    time.sleep(0.05)")
    result = sandbox.run(program, PYTHON, on_output=lambda stream, data: chunks.append((stream, data)))
    assert result.status is Status.ACCEPTED
    assert b"".join(d for s, d in chunks if s == "stdout") == result.stdout == b"0\n1\n2\n"
    assert b"".join(d for s, d in chunks if s == "stderr") == result.stderr
    assert len([s for s, _ in chunks if s == "stdout"]) == 3  # not one chunk at the end


def test_compile_output_is_streamed(sandbox):
    chunks = []
    sandbox.run("int main(void) { return }", C, on_output=lambda s, d: chunks.append(s))
    assert "compile_output" in chunks


def test_judge0_comparison_ignores_trailing_whitespace_only(sandbox):
    program = "print('a  \\nb\\t')\nprint()\nprint()"
    assert sandbox.run(program, PYTHON, expected_output="a\nb").status is Status.ACCEPTED
    assert sandbox.run(program, PYTHON, expected_output=" a\nb").status is Status.WRONG_ANSWER


def test_language_registry():
    assert {language.id for language in LANGUAGES} == {50, 52, 62, 63, 71}
    assert get_language(54) is get_language(52)  # Judge0's other C++ id
    assert get_language(71).display_name.startswith("Python (3.")
    assert get_language(62).display_name.startswith("Java (OpenJDK 17")
    with pytest.raises(UnknownLanguage, match="language with id 9999 doesn't exist"):
        get_language(9999)


def test_java_heap_follows_the_memory_limit():
    from graders.limits import Limits

    small = get_language(JAVA).run_command(Limits(memory=128_000), [])
    large = get_language(JAVA).run_command(Limits(memory=512_000), [])
    assert "-Xmx80000k" in small and "-Xmx464000k" in large
    assert "-XX:+UseSerialGC" in small


def test_run_tests_compiles_once_and_runs_every_case():
    import asyncio

    from graders.judging import Status
    from graders.submissions import default_sandbox

    source = "#include <iostream>\nint main(){long a,b; std::cin>>a>>b; std::cout<<a+b<<std::endl;}"
    failure, results = asyncio.run(default_sandbox().run_tests(
        source, 52, [("1 2\n", "3\n"), ("10 -4\n", "6\n"), ("2 2\n", "5\n")]))
    assert failure is None
    assert [r.status for r in results] == [Status.ACCEPTED, Status.ACCEPTED, Status.WRONG_ANSWER]
    failure, results = asyncio.run(default_sandbox().run_tests("int main( {", 52, [("", "")]))
    assert failure.status is Status.COMPILATION_ERROR and results == []
