"""Per-lesson policies from course.toml: parsed with clear errors, enforced on submit, applied at grading."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from lms_extension.errors import Conflict, CourseFormatError, TooManyRequests
from lms_extension.models import NotebookSubmission
from lms_extension.models.grading import LessonPolicy
from lms_extension.models.base import utcnow
from lms_extension.services import enrollments, grading_queue as queue, policies
from lms_extension.services.course_import import import_course, load_course_folder
from tests.factories import make_user
from tests.grading_admin.conftest import NB, course_with_policy, grade


@pytest.mark.parametrize("toml, message", [
    ('deadline = "next friday"', "not an ISO 8601"),
    ("deadline = 2026-12-01", "date without a time"),
    ("deadline = 2026-12-01T10:00:00", "needs a time zone"),
    ('deadline = "2026-12-01T10:00:00"', "needs a time zone"),
    ('deadline = 2026-12-01T10:00:00Z\nlate_policy = "sometimes"', "late_policy must be one of"),
    ('late_policy = "zero"', "needs a deadline"),
    ('deadline = 2026-12-01T10:00:00Z\nlate_policy = "percent_per_day"', "late_percent_per_day"),
    ('deadline = 2026-12-01T10:00:00Z\nlate_policy = "percent_per_day"\nlate_percent_per_day = 150', "between 0"),
    ('deadline = 2026-12-01T10:00:00Z\nlate_percent_per_day = 10', "only applies"),
    ("max_attempts = 0", "max_attempts must be a whole number >= 1"),
    ('max_attempts = "3"', "max_attempts must be a whole number"),
    ("max_attempts = true", "max_attempts must be a whole number"),
    ("cooldown_seconds = -5", "cooldown_seconds must be a whole number >= 0"),
    ("cooldown_seconds = 99999999", "at most"),
])
def test_bad_policies_are_refused_with_the_lesson_named(tmp_path, toml, message):
    folder = course_with_policy(tmp_path, "badpolicy", toml)
    with pytest.raises(CourseFormatError, match=message) as caught:
        load_course_folder(folder)
    assert "lesson 1" in caught.value.message


def test_policy_is_imported_updated_and_removed(session, tmp_path):
    folder = course_with_policy(tmp_path, "polcourse", """
deadline = 2026-12-01T23:59:00+01:00
late_policy = "percent_per_day"
late_percent_per_day = 10
max_attempts = 3
cooldown_seconds = 60""")
    course = import_course(session, load_course_folder(folder))
    policy = policies.for_lesson(session, course.lessons[0].id)
    assert policies.view(policy) == {"deadline": "2026-12-01T22:59:00+00:00", "late_policy": "percent_per_day",
                                     "late_percent_per_day": 10.0, "max_attempts": 3, "cooldown_seconds": 60}
    assert policies.for_lesson(session, course.lessons[1].id) is None
    toml = folder / "course.toml"
    toml.write_text(toml.read_text().replace("max_attempts = 3", "max_attempts = 5"))
    import_course(session, load_course_folder(folder))
    session.expire_all()
    assert policies.for_lesson(session, course.lessons[0].id).max_attempts == 5
    toml.write_text("\n".join(line for line in toml.read_text().splitlines()
                              if not line.startswith(tuple(policies.POLICY_KEYS))))
    import_course(session, load_course_folder(folder))
    session.expire_all()
    assert policies.for_lesson(session, course.lessons[0].id) is None


def test_late_penalties():
    deadline = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    per_day = LessonPolicy(deadline=deadline, late_policy="percent_per_day", late_percent_per_day=15.0)
    assert policies.late_penalty_percent(per_day, deadline) == 0
    assert policies.late_penalty_percent(per_day, deadline + timedelta(minutes=1)) == 15  # a started day
    assert policies.late_penalty_percent(per_day, deadline + timedelta(days=2, hours=1)) == 45
    assert policies.late_penalty_percent(per_day, deadline + timedelta(days=30)) == 100
    zero = LessonPolicy(deadline=deadline, late_policy="zero", late_percent_per_day=0.0)
    assert policies.late_penalty_percent(zero, deadline + timedelta(seconds=1)) == 100
    assert policies.late_penalty_percent(zero, deadline - timedelta(seconds=1)) == 0
    none = LessonPolicy(deadline=deadline, late_policy="none", late_percent_per_day=0.0)
    assert policies.late_penalty_percent(none, deadline + timedelta(days=3)) == 0
    assert policies.final_score(4.0, 1.0, 20.0) == 4.0
    assert policies.final_score(None, None, 0) is None


def _policy_course(session, tmp_path, slug, toml):
    course = import_course(session, load_course_folder(course_with_policy(tmp_path, slug, toml)))
    user = make_user(session, f"{slug}-student")
    enrollments.enroll(session, user, slug)
    return course, user


def test_attempt_limit(session, tmp_path):
    _, user = _policy_course(session, tmp_path, "attempts", "max_attempts = 2")
    first = queue.enqueue(session, user, "attempts", "l1", {"l1.ipynb": NB})
    second = queue.enqueue(session, user, "attempts", "l1", {"l1.ipynb": NB})
    assert (first.attempt, second.attempt) == (1, 2)
    with pytest.raises(Conflict, match="all 2 attempt"):
        queue.enqueue(session, user, "attempts", "l1", {"l1.ipynb": NB})
    # a submission the platform failed to grade gives the attempt back
    session.execute(update(NotebookSubmission).where(NotebookSubmission.id == second.id).values(status="failed"))
    assert queue.enqueue(session, user, "attempts", "l1", {"l1.ipynb": NB}).attempt == 3
    # the other lesson has no limit; another student has their own count
    for _ in range(3):
        queue.enqueue(session, user, "attempts", "l2", {"l2.ipynb": NB})
    other = make_user(session, "attempts-other")
    enrollments.enroll(session, other, "attempts")
    assert queue.enqueue(session, other, "attempts", "l1", {"l1.ipynb": NB}).attempt == 1


def test_cooldown(session, tmp_path):
    _, user = _policy_course(session, tmp_path, "cooldown", "cooldown_seconds = 120")
    first = queue.enqueue(session, user, "cooldown", "l1", {"l1.ipynb": NB})
    with pytest.raises(TooManyRequests) as caught:
        queue.enqueue(session, user, "cooldown", "l1", {"l1.ipynb": NB})
    assert 118 <= caught.value.details["retry_after"] <= 120 and "wait" in caught.value.message
    session.execute(update(NotebookSubmission).where(NotebookSubmission.id == first.id)
                    .values(submitted_at=utcnow() - timedelta(seconds=121)))
    assert queue.enqueue(session, user, "cooldown", "l1", {"l1.ipynb": NB}).attempt == 2


def test_late_penalty_applied_at_grading_and_kept_apart(session, tmp_path):
    deadline = (utcnow() - timedelta(days=1, hours=2)).isoformat()
    _, user = _policy_course(session, tmp_path, "latecourse",
                             f'deadline = "{deadline}"\nlate_policy = "percent_per_day"\nlate_percent_per_day = 25')
    sub = queue.enqueue(session, user, "latecourse", "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id, test_points=2.0)
    session.expire_all()
    view = queue.view(session.get(NotebookSubmission, sub.id))
    assert view["auto_score"] == 2.0 and view["late_penalty_percent"] == 50.0 and view["score"] == 1.0


def test_on_time_submission_has_no_penalty(session, tmp_path):
    deadline = (utcnow() + timedelta(days=1)).isoformat()
    _, user = _policy_course(session, tmp_path, "ontime", f'deadline = "{deadline}"\nlate_policy = "zero"')
    sub = queue.enqueue(session, user, "ontime", "l1", {"l1.ipynb": NB})
    session.commit()
    grade(session, sub.id, test_points=2.0)
    session.expire_all()
    got = session.get(NotebookSubmission, sub.id)
    assert (got.score, got.late_penalty_percent) == (2.0, 0.0)
    assert json.loads(got.autograded)  # kept for instructors
