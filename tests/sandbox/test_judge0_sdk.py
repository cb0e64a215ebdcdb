"""The official judge0 Python SDK, unmodified, against graders.judge0 on loopback."""

import base64
import json
import queue

import judge0
import pytest
import tornado.web

from sandbox_helpers import ServerThread
from graders.judge0.app import Judge0Config, make_app

TOKEN = "test-token-for-the-sdk"


@pytest.fixture(scope="module")
def server(sandbox):
    running = ServerThread(lambda: make_app(Judge0Config(auth_tokens=(TOKEN,)), sandbox=sandbox))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server):
    return judge0.Client(server.url, {"X-Auth-Token": TOKEN})


def test_about_config_statuses_and_languages(client):
    assert client.version == "1.13.1"  # the SDK maps language aliases by this version
    assert client.config.max_cpu_time_limit == 15 and client.config.max_memory_limit == 512_000
    assert client.config.enable_batched_submissions and client.config.max_submission_batch_size == 20
    statuses = client.get_statuses()
    assert {s["id"]: s["description"] for s in statuses}[11] == "Runtime Error (NZEC)"
    assert len(statuses) == 14
    ids = {language.id for language in client.languages}
    assert {50, 52, 54, 62, 63, 71} <= ids
    for alias, language_id in [(judge0.LanguageAlias.PYTHON, 71), (judge0.LanguageAlias.CPP, 52),
                               (judge0.LanguageAlias.JAVA, 62), (judge0.LanguageAlias.C, 50),
                               (judge0.LanguageAlias.JAVASCRIPT, 63)]:
        assert client.get_language_id(alias) == language_id
        assert client.is_language_supported(alias)
    java = client.get_language(62)
    assert java.name.startswith("Java (OpenJDK 17") and java.source_file == "Main.java"
    assert "javac" in java.compile_cmd


def test_single_submission_with_stdin_and_expected_output(client):
    result = judge0.run(client=client, source_code="print(f'hello, {input()}')",
                        language=judge0.LanguageAlias.PYTHON, stdin="world",
                        expected_output="hello, world")
    assert result.status == judge0.Status.ACCEPTED
    assert result.stdout == "hello, world\n"
    assert result.time > 0 and result.memory > 0
    assert result.token is not None


def test_wrong_answer_and_batch_of_test_cases(client):
    source = ("#include <cstdio>\nint main() { int a, b; std::scanf(\"%d %d\", &a, &b);\n"
              "  std::printf(\"%d\\n\", a + b); }")
    results = judge0.run(client=client, source_code=source, language=judge0.LanguageAlias.CPP,
                         test_cases=[("1 2", "3"), ("2 2", "5"), ("40 2", "42")])
    assert [r.status for r in results] == [judge0.Status.ACCEPTED, judge0.Status.WRONG_ANSWER,
                                          judge0.Status.ACCEPTED]
    assert [r.stdout for r in results] == ["3\n", "4\n", "42\n"]


def test_async_submission_then_wait(client):
    submission = judge0.Submission(source_code="console.log(6 * 7)",
                                   language=judge0.LanguageAlias.JAVASCRIPT, expected_output="42")
    created = judge0.async_run(client=client, submissions=submission)
    assert created.token is not None and created.status is None
    finished = judge0.wait(client=client, submissions=created)
    assert finished.status == judge0.Status.ACCEPTED and finished.stdout == "42\n"


def test_requested_fields_only(client):
    submission = judge0.run(client=client, source_code="print(1)", language=judge0.LanguageAlias.PYTHON)
    fresh = judge0.Submission(source_code="", language=71)
    fresh.token = submission.token
    client.get_submission(fresh, fields=["status", "stdout"])
    assert fresh.status == judge0.Status.ACCEPTED and fresh.stdout == "1\n"
    assert fresh.time is None and fresh.memory is None


def test_compilation_and_runtime_errors(client):
    broken = judge0.run(client=client, source_code="int main(void) { return }",
                        language=judge0.LanguageAlias.C)
    assert broken.status == judge0.Status.COMPILATION_ERROR
    assert "error" in broken.compile_output
    crashing = judge0.run(client=client, source_code="raise SystemExit(4)",
                          language=judge0.LanguageAlias.PYTHON)
    assert crashing.status == judge0.Status.RUNTIME_ERROR_NZEC
    assert crashing.exit_code == 4
    # Judge0 1.13 Base64-encodes message too with base64_encoded=true; the SDK leaves it so.
    assert base64.b64decode(crashing.message) == b"Exited with error status 4"


def test_limits_are_passed_through(client):
    result = judge0.run(client=client, source_code="while True:\n    pass",
                        language=judge0.LanguageAlias.PYTHON, cpu_time_limit=0.5,
                        cpu_extra_time=0.2, wall_time_limit=3)
    assert result.status == judge0.Status.TIME_LIMIT_EXCEEDED
    assert 0.5 < result.time < 1.5


def test_callback_url(client, server):
    received = queue.Queue()

    class Receiver(tornado.web.RequestHandler):
        def put(self):
            received.put((self.request.headers["Content-Type"], self.request.body))

    receiver = ServerThread(lambda: tornado.web.Application([(r"/done", Receiver)]))
    try:
        submission = judge0.Submission(source_code="print('called back')",
                                       language=judge0.LanguageAlias.PYTHON,
                                       callback_url=f"{receiver.url}/done")
        finished = judge0.run(client=client, submissions=submission)
        content_type, body = received.get(timeout=30)
    finally:
        receiver.stop()
    payload = json.loads(body)
    assert content_type == "application/json"
    assert payload["token"] == str(finished.token)
    assert payload["status"] == {"id": 3, "description": "Accepted"}
    assert base64.b64decode(payload["stdout"]) == b"called back\n"


def test_a_wrong_token_is_refused(server):
    with pytest.raises(RuntimeError, match="Authentication failed"):
        judge0.Client(server.url, {"X-Auth-Token": "not-the-token"})


def test_sdk_under_a_base_path(sandbox):
    mounted = ServerThread(lambda: make_app(Judge0Config(), base_path="/services/lms/api/judge0",
                                            sandbox=sandbox))
    try:
        prefixed = judge0.Client(f"{mounted.url}/services/lms/api/judge0")
        result = judge0.run(client=prefixed, source_code="print(2)", language=71, expected_output="2")
        assert result.status == judge0.Status.ACCEPTED
    finally:
        mounted.stop()
