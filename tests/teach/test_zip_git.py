"""Courses as zip files and git repositories: export, import (the CLI's own importer), pulls over
http from a local server; zip bombs, path traversal, links and unsafe git URLs are refused."""
from __future__ import annotations

import copy
import functools
import io
import json
import stat
import subprocess
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms_extension.errors import InvalidInput, PayloadTooLarge
from lms_extension.models import Challenge, Course, Lesson, LessonVersion
from lms_extension.models.audit import AuditEntry
from lms_extension.services import course_authoring as authoring

from .conftest import NB
from .test_pages import FORM, nb_file

CHALLENGE = 'id = "add"\ntitle = "Add two numbers"\nstatement = "Print a + b"\n[[tests]]\nstdin = "1 2"\nexpected = "3"\n' \
            '[[tests]]\nstdin = "5 5"\nexpected = "10"\nhidden = true\n'


def folder_for(root: Path, slug: str, lessons=("l1", "l2"), nb=NB, challenge=True) -> Path:
    folder = root / slug
    (folder / "lessons").mkdir(parents=True, exist_ok=True)
    parts = [f'slug = "{slug}"\ntitle = "Imported {slug}"\ncategory = "Programming"\nlevel = "beginner"\n'
             f'instructor = "somebody-else"\npublished = true\n']
    for key in lessons:
        (folder / "lessons" / f"{key}.ipynb").write_text(json.dumps(nb))
        parts.append(f'[[lessons]]\nid = "{key}"\ntitle = "Lesson {key}"\nnotebook = "lessons/{key}.ipynb"\n')
    if challenge:
        (folder / "add.toml").write_text(CHALLENGE)
        parts[1] += 'challenges = ["add.toml"]\n'
    (folder / "course.toml").write_text("\n".join(parts))
    return folder


def zip_of(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return buf.getvalue()


def counts(factory, slug):
    with factory() as db:
        course_id = db.scalar(select(Course.id).where(Course.slug == slug))
        versions = db.scalar(select(func.count(LessonVersion.id)).join(Lesson).where(Lesson.course_id == course_id))
        challenges = db.scalar(select(func.count(Challenge.id)).join(Lesson).where(Lesson.course_id == course_id))
        lessons = list(db.scalars(select(Lesson.key).where(Lesson.course_id == course_id).order_by(Lesson.position)))
        published = db.scalar(select(Course.published).where(Course.id == course_id))
    return {"versions": versions, "challenges": challenges, "lessons": lessons, "published": published}


def new_course(teacher, base, slug):
    r = teacher.post(base + "teach/courses/new", data={**FORM, "slug": slug}, allow_redirects=False)
    assert r.status_code == 303, r.text[-2000:]


def test_zip_import_export_round_trip(studio, tmp_path):
    base, hub, factory, _ = studio
    teacher = hub.user("zip-teacher", instructor=True)
    new_course(teacher, base, "zip-course")
    url = base + "teach/courses/zip-course/"
    r = teacher.post(url + "import", files={"archive": ("c.zip", zip_of(folder_for(tmp_path, "zip-course")))},
                     allow_redirects=False)
    assert r.status_code == 303, r.text[-3000:]
    # imported through the CLI's importer: lessons, versions, the challenge; still a draft, still mine
    assert counts(factory, "zip-course") == {"versions": 2, "challenges": 1, "lessons": ["l1", "l2"], "published": False}
    with factory() as db:
        course = db.scalars(select(Course).where(Course.slug == "zip-course")).one()
        assert course.instructor.user.hub_name == "zip-teacher" and course.title == "Imported zip-course"
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "course.import",
                                                    AuditEntry.target_id == "zip-course")).one()
        assert json.loads(entry.before)["title"] == FORM["title"] and json.loads(entry.after)["new_versions"] == ["l1", "l2"]
    page = teacher.get(url + "lessons").text
    assert 'id="lesson-l1"' in page and 'id="lesson-l2"' in page

    exported = teacher.get(url + "export.zip")
    assert exported.status_code == 200 and exported.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert {"zip-course/course.toml", "zip-course/lessons/l1.ipynb", "zip-course/challenges/l1/add.toml"} <= set(names)
    # the export imports again unchanged: no new version, the challenge (with its hidden test) kept
    r = teacher.post(url + "import", files={"archive": ("c.zip", exported.content)}, allow_redirects=False)
    assert r.status_code == 303, r.text[-3000:]
    assert counts(factory, "zip-course") == {"versions": 2, "challenges": 1, "lessons": ["l1", "l2"], "published": False}
    with factory() as db:
        (challenge,) = db.scalars(select(Challenge).join(Lesson).join(Course).where(Course.slug == "zip-course"))
        assert [t.hidden for t in challenge.tests] == [False, True]
    # a changed notebook is a new version
    changed = copy.deepcopy(NB)
    changed["cells"][0]["source"] = "# Squares, second edition"
    r = teacher.post(url + "import", files={"archive": ("c.zip", zip_of(folder_for(tmp_path / "v2", "zip-course",
                                                                                  nb=changed)))},
                     allow_redirects=False)
    assert r.status_code == 303 and counts(factory, "zip-course")["versions"] == 4


def test_bad_zips_are_refused_and_change_nothing(studio, tmp_path):
    base, hub, factory, _ = studio
    teacher = hub.user("zip-picky", instructor=True)
    new_course(teacher, base, "zip-picky")
    url = base + "teach/courses/zip-picky/"
    teacher.post(url + "import", files={"archive": ("c.zip", zip_of(folder_for(tmp_path, "zip-picky")))})
    before = counts(factory, "zip-picky")
    broken = copy.deepcopy(NB)
    broken["cells"][1]["metadata"]["nbgrader"]["grade_id"] = ""
    cases = [
        (b"PK\x03\x04 not really", "not a zip"),
        (zip_of(folder_for(tmp_path / "other", "another-slug")), "zip-picky"),
        (zip_of(folder_for(tmp_path / "fewer", "zip-picky", lessons=("l1",))), "leaves out published lesson"),
        (zip_of(folder_for(tmp_path / "broken", "zip-picky", nb=broken)), "grade_id"),
        (zipfile_with({"notes/readme.txt": b"hello"}), "no course.toml"),
    ]
    for data, word in cases:
        r = teacher.post(url + "import", files={"archive": ("c.zip", data)})
        assert r.status_code == 400 and word in r.text, (word, r.text[-2000:])
        assert "/tmp/" not in r.text  # messages name files inside the zip, not our temporary folder
    assert teacher.post(url + "import", data={}).status_code == 400
    assert counts(factory, "zip-picky") == before


def zipfile_with(members: dict, *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_unpack_refuses_traversal_links_and_bombs(tmp_path):
    toml = b'slug = "x"\n'
    for members, symlink in (({"../evil.txt": b"x"}, None), ({"/abs/evil.txt": b"x"}, None),
                             ({"c/..\\..\\evil.txt": b"x"}, None), ({"C:/evil.txt": b"x"}, None),
                             ({"c/course.toml": toml}, "c/lessons")):
        with pytest.raises(InvalidInput):
            authoring.unpack_zip(zipfile_with(members, symlink=symlink), tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()
    # a bomb: a small zip that unpacks to more than the limit
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("c/zeros.bin", b"\0" * (authoring.MAX_UNPACKED_BYTES + 1))
    assert len(bomb.getvalue()) < 1_000_000
    with pytest.raises(PayloadTooLarge):
        authoring.unpack_zip(bomb.getvalue(), tmp_path / "bomb")
    # headers that lie about the size: zipfile stops at the size declared, and the CRC then fails
    liar = bytearray(zipfile_with({"c/zeros.bin": b"\0" * 5_000_000}))
    with zipfile.ZipFile(io.BytesIO(bytes(liar))) as zf:
        info = zf.getinfo("c/zeros.bin")
    for offset in (info.header_offset + 22, len(liar) - 22 - 46 - len("c/zeros.bin") + 24):
        liar[offset:offset + 4] = (100).to_bytes(4, "little")  # local and central uncompressed sizes
    with pytest.raises(InvalidInput, match="damaged"):
        authoring.unpack_zip(bytes(liar), tmp_path / "liar")
    with pytest.raises(InvalidInput):
        authoring.unpack_zip(zipfile_with({f"c/f{i}": b"" for i in range(authoring.MAX_FILES + 1)}), tmp_path / "many")


# -- git -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "file:///etc", "/srv/courses/x", "ssh://github.com/a/b.git", "git@github.com:a/b.git", "git://github.com/a/b",
    "http://github.com/a/b.git", "https://127.0.0.1/a.git", "https://localhost/a.git", "https://10.1.2.3/a.git",
    "https://192.168.0.1/a.git", "https://[::1]/a.git", "https://169.254.169.254/latest", "https://user:pw@github.com/a",
    "https://", "", "https://exa mple.com/a", "ext::sh -c touch% /tmp/pwned", "https://" + "a" * 600,
])
def test_unsafe_git_urls_are_refused(url):
    with pytest.raises(InvalidInput):
        authoring.check_git_url(url)


@pytest.fixture
def git_server(tmp_path):
    """A dumb-http git server on 127.0.0.1 serving ``tmp_path/served``."""
    served = tmp_path / "served"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def publish_repo(folder: Path, served: Path, name: str) -> None:
    def git(*args, cwd):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd, check=True,
                       capture_output=True)
    git("init", "-q", "-b", "main", cwd=folder)
    git("add", ".", cwd=folder)
    git("commit", "-q", "-m", "course", cwd=folder)
    git("clone", "-q", "--bare", str(folder), str(served / name), cwd=folder)
    git("update-server-info", cwd=served / name)


def test_pull_from_git(studio, tmp_path, git_server):
    base, hub, factory, _ = studio
    served, root = git_server
    teacher = hub.user("git-teacher", instructor=True)
    new_course(teacher, base, "git-course")
    publish_repo(folder_for(tmp_path / "src", "git-course"), served, "course.git")
    url = base + "teach/courses/git-course/pull"
    r = teacher.post(url, data={"url": root + "course.git"}, allow_redirects=False)
    assert r.status_code == 303, r.text[-3000:]
    assert counts(factory, "git-course") == {"versions": 2, "challenges": 1, "lessons": ["l1", "l2"], "published": False}
    for bad, word in ((root + "missing.git", "could not be cloned"), ("file:///etc", "https://"),
                      ("ssh://h/x", "https://")):
        r = teacher.post(url, data={"url": bad})
        assert r.status_code == 400 and word in r.text and 'aria-invalid="true"' in r.text, (bad, r.text[-2000:])
    assert counts(factory, "git-course")["versions"] == 2
    # the size limit holds while cloning
    with pytest.raises(PayloadTooLarge):
        authoring.clone(root + "course.git", tmp_path / "small" / "repo", allow_local=True, max_bytes=2000)
    # the service's default refuses loopback hosts and plain http
    with pytest.raises(InvalidInput):
        authoring.clone(root + "course.git", tmp_path / "default" / "repo")
