"""Code challenges: authoring format, access, outcomes that never reveal hidden tests."""
import json

import pytest

from graders.judging import RunResult, Status
from lms_extension.errors import CourseFormatError, Forbidden, InvalidInput, NotFound
from lms_extension.services import challenges
from lms_extension.services.course_import import load_challenge_file, load_course_folder, import_course
from tests.factories import make_user, write_course

CHALLENGE = '''
id = "double"
title = "Double it"
statement = "Print twice the number."
[starter]
python = "n = int(input())"
[[tests]]
stdin = "2\\n"
expected = "4\\n"
[[tests]]
stdin = "SECRET-INPUT 21\\n"
expected = "SECRET-EXPECTED 42\\n"
hidden = true
'''


def course_with_challenge(tmp_path, price_cents=0):
    folder = write_course(tmp_path, "chal", price_cents=price_cents)
    (folder / "double.toml").write_text(CHALLENGE)
    toml = (folder / "course.toml").read_text().replace(
        'notebook = "lessons/l2.ipynb"', 'notebook = "lessons/l2.ipynb"\nchallenges = ["double.toml"]')
    (folder / "course.toml").write_text(toml)
    return folder


def test_import_and_reimport(session, tmp_path):
    folder = course_with_challenge(tmp_path)
    course = import_course(session, load_course_folder(folder))
    lesson = course.lessons[1]
    assert [c.key for c in lesson.challenges] == ["double"]
    first_id = lesson.challenges[0].id
    assert [t.hidden for t in lesson.challenges[0].tests] == [False, True]
    (folder / "double.toml").write_text(CHALLENGE.replace("Double it", "Double it!"))
    course = import_course(session, load_course_folder(folder))
    assert course.lessons[1].challenges[0].id == first_id  # updated in place: submissions stay attached
    assert course.lessons[1].challenges[0].title == "Double it!"


@pytest.mark.parametrize("text, message", [
    ('id = "x"\ntitle = "t"\n', "at least one"),
    ('id = "Bad Id"\ntitle = "t"\n[[tests]]\nexpected = "1"\n', "id must match"),
    ('id = "x"\ntitle = "t"\n[[tests]]\nexpected = "1"\nhidden = true\n', "must be public"),
    ('id = "x"\ntitle = "t"\n[starter]\ncobol = ""\n[[tests]]\nexpected = "1"\n', "starter keys"),
    ('id = "x"\ntitle = "t"\n[limits]\ncpu_time = 99\n[[tests]]\nexpected = "1"\n', "limits"),
    ('id = ', "invalid TOML"),
])
def test_bad_challenge_files(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(CourseFormatError, match=message):
        load_challenge_file(path)


def test_access_follows_lesson_access(session, tmp_path):
    import_course(session, load_course_folder(course_with_challenge(tmp_path, price_cents=500)))
    stranger = make_user(session, "stranger")
    with pytest.raises(Forbidden):
        challenges.find(session, stranger, "chal", "l2", "double")
    with pytest.raises(NotFound):
        challenges.find(session, stranger, "chal", "l1", "nope")


def test_outcome_hides_hidden_tests():
    cases = [challenges.JudgeCase(0, "2\n", "4\n", False), challenges.JudgeCase(1, "SECRET-INPUT", "SECRET-EXPECTED", True)]
    results = [RunResult(Status.ACCEPTED, stdout=b"4\n"), RunResult(Status.WRONG_ANSWER, stdout=b"SECRET-EXPECTED?")]
    outcome = challenges.outcome(cases, None, results)
    assert outcome["status"] == "failed" and (outcome["passed"], outcome["total"]) == (1, 2)
    text = json.dumps(outcome)
    assert "SECRET" not in text
    assert outcome["tests"][1] == {"index": 1, "hidden": True, "status": "Wrong Answer"}
    compile_failed = challenges.outcome(cases, RunResult(Status.COMPILATION_ERROR, compile_output=b"error: x"), [])
    assert compile_failed["status"] == "compilation_error" and compile_failed["compile_output"] == "error: x"


@pytest.mark.parametrize("language_id, source, stdin", [
    (999, "print(1)", ""), ("71", "print(1)", ""), (71, "", ""), (71, "   ", ""),
    (71, "x" * 70000, ""), (71, "print(1)", 5), (71, None, ""),
])
def test_code_validation(language_id, source, stdin):
    with pytest.raises(InvalidInput):
        challenges.validate_code(language_id, source, stdin)


def test_solved_per_course_counts_passing_submissions_once(session, tmp_path):
    course = import_course(session, load_course_folder(course_with_challenge(tmp_path)))
    challenge = course.lessons[1].challenges[0]
    ada = make_user(session, "ada")
    assert challenges.solved_per_course(session, ada, [course.id]) == {course.id: (0, 1)}
    failed = {"status": "failed", "passed": 1, "total": 2, "compile_output": None, "tests": []}
    passed = {**failed, "status": "passed", "passed": 2}
    challenges.record(session, ada, challenge, 71, "print(1)", failed)
    challenges.record(session, ada, challenge, 71, "print(2)", passed)
    challenges.record(session, ada, challenge, 71, "print(3)", passed)
    assert challenges.solved_per_course(session, ada, [course.id]) == {course.id: (1, 1)}
    assert [s.status for s in challenges.submissions_of(session, ada, challenge)] == ["passed", "passed", "failed"]
