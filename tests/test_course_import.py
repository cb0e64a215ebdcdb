"""Courses as files: validation, clear errors, nothing half-imported, versions."""
import json

import pytest
from sqlalchemy import func, select

from lms_extension.errors import Conflict, CourseFormatError, InvalidInput
from lms_extension.models import Course, LessonVersion
from lms_extension.models.commerce import Bundle, Coupon
from lms_extension.models.learning import Quiz
from lms_extension.services.payments import offers
from lms_extension.services.users import ensure_user
from lms_extension.services.course_import import (
    course_folders, import_course, import_folders, load_course_folder,
)
from tests.conftest import COURSES
from tests.factories import MINIMAL_NOTEBOOK, write_course


def course_count(session):
    return session.scalar(select(func.count(Course.id)))


BUNDLED = {"python-for-beginners", "data-analysis-with-pandas", "algorithms-cpp-java", "sql-for-data-analysis",
           "numpy-essentials", "statistics-with-python", "machine-learning-foundations", "web-data-with-python",
           "object-oriented-python"}


def test_bundled_courses_import(session):
    courses = import_folders(session, course_folders(COURSES))
    by_slug = {c.slug: c for c in courses}
    assert BUNDLED <= set(by_slug)
    assert by_slug["python-for-beginners"].price_cents == 0
    assert len(by_slug["python-for-beginners"].lessons) >= 6
    assert by_slug["data-analysis-with-pandas"].price_cents > 0
    assert len(by_slug["data-analysis-with-pandas"].lessons) >= 5
    assert by_slug["algorithms-cpp-java"].price_cents > 0
    assert len(by_slug["algorithms-cpp-java"].lessons) >= 4
    for course in courses:
        assert any(ls.free_preview for ls in course.lessons), course.slug


def test_bundled_catalogue_is_a_shop(session):
    """The demo catalogue: at least 8 courses in 4 categories, 3+ lessons each, free and paid
    courses at several prices, quizzes and a code challenge somewhere."""
    courses = import_folders(session, course_folders(COURSES))
    assert len(courses) >= 8
    assert len({c.category for c in courses}) >= 4
    assert all(len(c.lessons) >= 3 for c in courses), [c.slug for c in courses if len(c.lessons) < 3]
    prices = {c.price_cents for c in courses}
    assert 0 in prices and len(prices - {0}) >= 4
    assert session.scalar(select(func.count(Quiz.id))) >= 5
    assert any(ls.challenges for c in courses for ls in c.lessons)


def test_bundled_offers_create_a_bundle_and_a_coupon_once(session):
    import_folders(session, course_folders(COURSES))
    spec = offers.load(COURSES / "offers.toml")
    assert sorted(offers.apply(session, spec)) == ["bundle data-science-track", "coupon WELCOME20",
                                                    "profile of instructor"]
    bundle = session.scalars(select(Bundle).where(Bundle.slug == "data-science-track")).one()
    assert {c.slug for c in bundle.courses} == {
        "statistics-with-python", "data-analysis-with-pandas", "machine-learning-foundations"}
    assert 0 < bundle.price_cents < sum(c.price_cents for c in bundle.courses), "a bundle is cheaper than its courses"
    coupon = session.scalars(select(Coupon).where(Coupon.code == "WELCOME20")).one()
    assert coupon.percent_off == 20 and coupon.course_id is None
    # a second start changes nothing, and keeps what an admin edited
    bundle.price_cents = 9900
    assert offers.apply(session, spec) == []
    assert bundle.price_cents == 9900
    assert session.scalar(select(func.count(Coupon.id)).where(Coupon.code == "WELCOME20")) == 1


def test_the_demo_teacher_gets_a_profile_once(session):
    import_folders(session, course_folders(COURSES))
    teacher = ensure_user(session, "instructor", instructor=True)
    assert teacher.display_name == "instructor"  # what the storefront showed before
    assert offers.apply(session, offers.load(COURSES / "offers.toml"))[-1] == "profile of instructor"
    assert teacher.display_name == "Maya Lindqvist" and teacher.instructor.headline and teacher.instructor.bio
    teacher.display_name = "Maya L."  # edited on the profile page: a restart keeps it
    assert offers.apply(session, {"instructors": [{"name": "instructor", "display_name": "Other"}]}) == []
    assert teacher.display_name == "Maya L."
    with pytest.raises(InvalidInput, match="instructor 'newbie'"):
        offers.apply(session, {"instructors": [{"name": "newbie", "display_name": "x\x00y"}]})


@pytest.mark.parametrize("text, message", [
    ("[[bundles]]\nslug = 'x'\nprice = 5\n", "unknown keys"),
    ("bogus = 1\n", "unknown keys"),
    ("bundles = 3\n", "must be"),
    ("[[coupons]]\ncode = 'HALF'\npercent_off = '50'\n", "whole number"),
    ("[[bundles]\n", "cannot read offers"),
    ("[[instructors]]\nname = 'instructor'\nphoto = 'me.png'\n", "unknown keys"),
    ("[[instructors]]\nname = 'instructor'\nbio = 3\n", "must be a string"),
])
def test_bad_offers_file_gives_clear_error(tmp_path, text, message):
    path = tmp_path / "offers.toml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        offers.load(path)


@pytest.mark.parametrize("spec, message", [
    ({"bundles": [{"slug": "b", "title": "B", "price_cents": 100, "courses": ["numpy-essentials", "nope"]}]}, "no course 'nope'"),
    ({"bundles": [{"slug": "b", "title": "B", "price_cents": 100, "courses": ["sql-for-data-analysis"]}]}, "at least two"),
    ({"coupons": [{"code": "X1", "percent_off": 150}]}, "between 1 and 100"),
    ({"coupons": [{"code": "X2", "percent_off": 10, "course": "nope"}]}, "no course 'nope'"),
])
def test_offers_that_cannot_be_created_name_the_offer(session, spec, message):
    import_folders(session, course_folders(COURSES))
    with pytest.raises(InvalidInput, match=message):
        offers.apply(session, spec)


def test_student_version_has_no_solutions_or_hidden_tests(session, tmp_path):
    course = import_course(session, load_course_folder(write_course(tmp_path)))
    version = course.lessons[0].versions[-1]
    assert "SECRET-HIDDEN" in version.source_notebook
    assert "SECRET-HIDDEN" not in version.student_notebook
    assert "return x * x" not in version.student_notebook
    assert "BEGIN SOLUTION" not in version.student_notebook
    student = json.loads(version.student_notebook)
    test_cell = student["cells"][2]
    assert "".join(test_cell["source"]).strip() == "assert square(3) == 9"
    assert test_cell["metadata"]["nbgrader"]["checksum"]


def test_reimport_unchanged_keeps_version_changed_adds_one(session, tmp_path):
    folder = write_course(tmp_path)
    import_course(session, load_course_folder(folder))
    import_course(session, load_course_folder(folder))
    nb = dict(MINIMAL_NOTEBOOK)
    nb["cells"] = [*MINIMAL_NOTEBOOK["cells"], {"cell_type": "markdown", "id": "more", "metadata": {}, "source": "More"}]
    (folder / "lessons" / "l1.ipynb").write_text(json.dumps(nb))
    course = import_course(session, load_course_folder(folder))
    numbers = {ls.key: [v.number for v in ls.versions] for ls in course.lessons}
    assert numbers == {"l1": [1, 2], "l2": [1]}


@pytest.mark.parametrize("mutate, message", [
    (lambda f: (f / "course.toml").write_text("slug = 'x\n[[lessons]"), "invalid TOML"),
    (lambda f: (f / "lessons" / "l2.ipynb").unlink(), "not found"),
    (lambda f: (f / "lessons" / "l1.ipynb").write_text("{not json"), "not a valid Jupyter notebook"),
    (lambda f: (f / "course.toml").write_text((f / "course.toml").read_text().replace('level = "beginner"', 'level = "expert"')), "level must be one of"),
    (lambda f: (f / "course.toml").write_text((f / "course.toml").read_text().replace("price_cents = 0", "price_cents = -5")), "price_cents"),
    (lambda f: (f / "course.toml").write_text((f / "course.toml").read_text().replace('id = "l2"', 'id = "l1"')), "duplicate lesson id"),
    (lambda f: (f / "course.toml").write_text((f / "course.toml").read_text().replace('lessons/l2.ipynb', '../../etc/passwd')), "leaves the course folder"),
    (lambda f: (f / "course.toml").write_text((f / "course.toml").read_text() + '\nbogus = 1\n'), "unknown keys"),
    (lambda f: (f / "course.toml").write_text('title = "no slug"\n'), "missing required key 'slug'"),
])
def test_bad_course_gives_clear_error(tmp_path, mutate, message):
    folder = write_course(tmp_path)
    mutate(folder)
    with pytest.raises(CourseFormatError, match=message):
        load_course_folder(folder)


@pytest.mark.parametrize("meta, message", [
    ({"schema_version": 3, "grade": True, "solution": False, "locked": True, "task": False, "grade_id": "t"}, "needs points"),
    ({"schema_version": 3, "grade": True, "solution": False, "locked": True, "task": False, "points": 1}, "without a grade_id"),
    ({"schema_version": 3, "grade": "yes", "solution": False, "locked": True, "task": False, "grade_id": "t", "points": 1}, "malformed nbgrader metadata"),
    ("not-a-dict", "must be an object"),
])
def test_malformed_nbgrader_metadata(tmp_path, meta, message):
    nb = json.loads(json.dumps(MINIMAL_NOTEBOOK))
    nb["cells"][2]["metadata"]["nbgrader"] = meta
    folder = write_course(tmp_path, notebook=nb)
    with pytest.raises(CourseFormatError, match=message):
        load_course_folder(folder)


def test_duplicate_grade_ids(tmp_path):
    nb = json.loads(json.dumps(MINIMAL_NOTEBOOK))
    nb["cells"][2]["metadata"]["nbgrader"]["grade_id"] = "square"
    with pytest.raises(CourseFormatError, match="duplicate grade_id"):
        load_course_folder(write_course(tmp_path, notebook=nb))


def test_one_bad_course_imports_nothing(session, tmp_path):
    good = write_course(tmp_path, "good-one")
    bad = write_course(tmp_path, "bad-one")
    (bad / "lessons" / "l2.ipynb").unlink()
    before = course_count(session)
    with pytest.raises(CourseFormatError):
        import_folders(session, [good, bad])
    assert course_count(session) == before


def test_duplicate_slug_in_one_import(session, tmp_path):
    a = write_course(tmp_path / "a", "same")
    b = write_course(tmp_path / "b", "same")
    with pytest.raises(CourseFormatError, match="duplicate course slug"):
        import_folders(session, [a, b])


def test_existing_slug_refused_without_replace(session, tmp_path):
    folder = write_course(tmp_path, "taken")
    import_course(session, load_course_folder(folder))
    versions = session.scalar(select(func.count(LessonVersion.id)))
    with pytest.raises(Conflict, match="already exists"):
        import_course(session, load_course_folder(folder), replace=False)
    assert session.scalar(select(func.count(LessonVersion.id))) == versions


def test_cli_import_reports_errors_without_traceback(tmp_path, capsys, monkeypatch):
    from lms_extension.cli import main

    monkeypatch.setenv("LMS_DB_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("LMS_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    bad = write_course(tmp_path / "c", "broken")
    (bad / "course.toml").write_text("slug = [")
    assert main(["course", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "invalid TOML" in err and "Traceback" not in err
    good = write_course(tmp_path / "d", "fine")
    assert main(["course", "import", str(good)]) == 0
    assert "imported fine" in capsys.readouterr().out


def test_cli_publish_makes_a_draft_visible(tmp_path, capsys, monkeypatch):
    from lms_extension.cli import main
    from lms_extension.db import make_engine, session_factory
    from lms_extension.services.catalog import get_course

    db = tmp_path / "pub.sqlite"
    monkeypatch.setenv("LMS_DB_URL", f"sqlite:///{db}")
    monkeypatch.setenv("LMS_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    folder = write_course(tmp_path / "c", "drafty", extra_toml="published = false")
    assert main(["course", "import", str(folder)]) == 0
    with session_factory(make_engine(f"sqlite:///{db}"))() as s:
        with pytest.raises(Exception):
            get_course(s, "drafty")
    assert main(["course", "publish", str(folder)]) == 0
    with session_factory(make_engine(f"sqlite:///{db}"))() as s:
        assert get_course(s, "drafty").published


def test_demo_start_seeds_the_offers_once(tmp_path, capsys, monkeypatch):
    """What ``lms run`` does in demo mode after importing the courses (it then becomes the hub)."""
    from lms_extension.cli import main, seed_demo_offers
    from lms_extension.config import LMSConfig
    from lms_extension.db import make_engine, session_factory

    db = tmp_path / "demo.sqlite"
    monkeypatch.setenv("LMS_DB_URL", f"sqlite:///{db}")
    monkeypatch.setenv("LMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LMS_COURSES_DIR", str(COURSES))
    assert main(["db", "upgrade"]) == 0
    assert main(["course", "import", str(COURSES)]) == 0
    config = LMSConfig().freeze()
    seed_demo_offers(config)
    out = capsys.readouterr().out
    assert "created bundle data-science-track" in out and "created coupon WELCOME20" in out
    seed_demo_offers(config)
    assert "created" not in capsys.readouterr().out
    with session_factory(make_engine(f"sqlite:///{db}"))() as s:
        assert s.scalar(select(func.count(Bundle.id))) == 1
        assert s.scalar(select(func.count(Coupon.id))) == 1
