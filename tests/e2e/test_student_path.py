"""A student's whole path on the real platform with the sandbox spawner.

Sign up, enroll, 402 on paid, open a lesson in their own JupyterLab, read it through the
contents API; a second student can read neither the first one's files nor the LMS data.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import COURSES
from tests.e2e.kernel import run_code

FREE, PAID = "python-for-beginners", "data-analysis-with-pandas"


@pytest.fixture(scope="module")
def students(sqlite_platform):
    p = sqlite_platform
    assert p.signup("maria", "correct-horse-42").status_code == 200
    tokens = {name: p.token(name) for name in ("maria", "noah")}
    for name in tokens:
        p.start_server(name)
    yield tokens
    for name in tokens:
        p.stop_server(name)


def open_lesson(p, user, token, course, lesson, **kwargs):
    return requests.get(f"{p.url}/user/{user}/lms/open", params={"course": course, "lesson": lesson},
                        headers={"Authorization": f"token {token}"}, allow_redirects=False, **kwargs)


def test_signup_and_login_with_the_hub(sqlite_platform):
    p = sqlite_platform
    assert p.signup("walter", "walter-password-9").status_code == 200
    session = p.login("walter", "walter-password-9")
    page = session.get(p.lms + "login")  # the "Log in" link: OAuth with the hub, then back
    assert page.status_code == 200 and page.url == p.lms
    assert '(signed in as walter)">Walter<' in page.text  # the LMS knows who is logged in
    demo = p.login("student", p.demo_password)
    assert demo.get(p.lms + "my-learning").status_code == 200


def test_weak_password_signup_refused(sqlite_platform):
    r = sqlite_platform.signup("weakling", "123")
    assert r.status_code == 400 and "at least 10 characters" in r.text
    with pytest.raises(AssertionError):
        sqlite_platform.login("weakling", "123")


def test_enroll_open_and_read_lesson(sqlite_platform, students):
    p, token = sqlite_platform, students["maria"]
    lessons = requests.get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"]
    first = lessons[0]["id"]
    # not enrolled, not a preview: the extension answers 403 with the LMS's reason
    locked = next(ls["id"] for ls in lessons if not ls["free_preview"])
    assert open_lesson(p, "maria", token, FREE, locked).status_code == 403
    assert p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").status_code == 201
    assert p.as_user(token).post(p.lms + f"api/v1/courses/{PAID}/enroll").status_code == 402
    r = open_lesson(p, "maria", token, FREE, first)
    assert r.status_code == 302
    # JupyterLab with the lesson, in the lesson's own workspace (nothing else restored with it)
    assert r.headers["Location"].endswith(
        f"/user/maria/lab/workspaces/lesson-{FREE}--{first}/tree/courses/{FREE}/{first}.ipynb"), r.headers["Location"]
    contents = requests.get(f"{p.url}/user/maria/api/contents/courses/{FREE}/{first}.ipynb",
                            headers={"Authorization": f"token {token}"})
    assert contents.status_code == 200
    nb = contents.json()["content"]
    text = json.dumps(nb)
    assert nb["nbformat"] == 4 and "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    # the file is owned by the student's own unprivileged uid
    home = p.data_dir / "homes" / "maria"
    stat = (home / "courses" / FREE / f"{first}.ipynb").stat()
    assert stat.st_uid >= 20000


def test_lesson_link_goes_through_user_redirect(sqlite_platform, students):
    page = requests.get(sqlite_platform.lms + f"courses/{FREE}").text
    assert f"/hub/user-redirect/lms/open?course={FREE}" in page or "Log in" in page


def test_edits_survive_a_new_lesson_version(sqlite_platform, students, tmp_path):
    p, token = sqlite_platform, students["maria"]
    lesson = requests.get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"][1]["id"]
    assert open_lesson(p, "maria", token, FREE, lesson).status_code == 302
    path = f"courses/{FREE}/{lesson}.ipynb"
    api = f"{p.url}/user/maria/api/contents/{path}"
    headers = {"Authorization": f"token {token}"}
    model = requests.get(api, headers=headers).json()
    model["content"]["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "MY OWN NOTES"})
    assert requests.put(api, headers=headers, json={"type": "notebook", "format": "json",
                                                   "content": model["content"]}).status_code == 200
    # the instructor publishes a changed lesson
    course_copy = tmp_path / FREE
    shutil.copytree(COURSES / FREE, course_copy)
    nb_path = next((course_copy / "lessons").glob(f"{lesson}*.ipynb"))
    changed = json.loads(nb_path.read_text())
    changed["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "Updated intro"})
    nb_path.write_text(json.dumps(changed))
    subprocess.run([str(Path(sys.executable).parent / "lms"), "course", "import", str(course_copy)],
                   env=p.env, check=True, capture_output=True)
    r = open_lesson(p, "maria", token, FREE, lesson)
    assert r.status_code == 200 and "newer version" in r.text and f"{lesson}.v2.ipynb" in r.text
    mine = requests.get(api, headers=headers).json()["content"]
    assert "MY OWN NOTES" in json.dumps(mine)
    newer = requests.get(f"{p.url}/user/maria/api/contents/courses/{FREE}/{lesson}.v2.ipynb", headers=headers)
    assert newer.status_code == 200 and "Updated intro" in json.dumps(newer.json()["content"])


def test_students_cannot_reach_each_other(sqlite_platform, students):
    p = sqlite_platform
    noah = {"Authorization": f"token {students['noah']}"}
    r = requests.get(f"{p.url}/user/maria/api/contents", headers=noah, allow_redirects=False)
    assert r.status_code in (302, 403, 404)
    assert "courses" not in r.text


def test_sandbox_from_inside_a_kernel(sqlite_platform, students):
    p = sqlite_platform
    data = p.data_dir
    code = f"""
import os, json, glob
def can_read(path):
    try:
        with open(path, 'rb') as f: f.read(64)
        return True
    except OSError:
        return False
print(json.dumps({{
  "uid": os.getuid(),
  "home": os.path.expanduser('~'),
  "homes": sorted(os.listdir('/home')),
  "other_home": can_read('{data}/homes/maria/courses/{FREE}/' + (os.listdir('{data}/homes/maria/courses/{FREE}')[0] if os.path.isdir('{data}/homes/maria/courses/{FREE}') else 'x')),
  "lms_db": can_read('{data}/lms.sqlite'),
  "hub_db": can_read('{data}/jupyterhub.sqlite'),
  "cookie_secret": can_read('{data}/jupyterhub_cookie_secret'),
  "data_dir_listing": os.listdir('{data}') if os.path.isdir('{data}') else None,
  "shadow": can_read('/etc/shadow'),
  "secret_in_env": any('platform-secret' in v for v in os.environ.values()),
  "env_keys": sorted(os.environ),
  "pids": [p for p in os.listdir('/proc') if p.isdigit()],
  "write_usr": os.access('/usr/lib', os.W_OK),
}}))
"""
    out = run_code(p.url, "noah", students["noah"], code)
    assert out["error"] is None, out
    facts = json.loads(out["stdout"])
    assert facts["uid"] >= 20000
    assert facts["home"] == "/home/noah" and facts["homes"] == ["noah"]
    assert not facts["other_home"] and not facts["lms_db"] and not facts["hub_db"]
    assert not facts["cookie_secret"] and facts["data_dir_listing"] in ([], None)
    assert not facts["shadow"] and not facts["secret_in_env"] and not facts["write_usr"]
    assert not any(k.startswith("LMS_TEST") or k == "LMS_ADMIN_TOKEN" for k in facts["env_keys"])
    assert len(facts["pids"]) < 15, facts["pids"]  # only the student's own processes
    assert student_memory_limit(facts["uid"]) == 768 * 1024 * 1024


def student_memory_limit(uid: int) -> int:
    """The memory limit of the cgroup holding the student's processes, read on the host."""
    from graders.cgroups import CGROUP_MOUNT as ROOT, is_v2

    base = ROOT / "lms" if is_v2() else ROOT / "memory" / "lms"
    for group in base.iterdir():
        if not group.is_dir():
            continue
        pids = (group / "cgroup.procs").read_text().split()
        if any(Path(f"/proc/{pid}").stat().st_uid == uid for pid in pids if Path(f"/proc/{pid}").exists()):
            return int((group / ("memory.max" if is_v2() else "memory.limit_in_bytes")).read_text())
    raise AssertionError(f"no cgroup holds processes of uid {uid}")


def test_memory_limit_is_enforced(sqlite_platform, students):
    out = run_code(sqlite_platform.url, "noah", students["noah"],
                   "import subprocess\n"
                   "r = subprocess.run(['python3', '-c', 'b = bytearray(1200 * 2**20); b[::4096] = b\"x\" * len(b[::4096]); print(\"survived\")'])\n"
                   "print('exit', r.returncode)")
    assert "survived" not in out["stdout"] and "exit -9" in out["stdout"], out
