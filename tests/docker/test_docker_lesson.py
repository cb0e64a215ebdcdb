"""The Docker path on the whole platform: `lms run` with LMS_SPAWNER=docker opens a lesson
inside the student's container."""
import json
import re
import subprocess

import pytest
import requests

from hub_config import docker_spawner
from tests.e2e.platform import Platform

FREE = "python-for-beginners"


@pytest.fixture(scope="module")
def docker_platform(docker_images, tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("docker-platform") / "data", spawner="docker",
                 extra_env={"LMS_DOCKER_IMAGE": docker_images["student"], "LMS_MEM_LIMIT": "768M",
                            "LMS_CPU_LIMIT": "1.0"}).start()
    yield p
    p.stop()


def test_open_lesson_in_container(docker_platform):
    p = docker_platform
    user = "dockerstudent"
    token = p.token(user)
    assert p.as_user(token).post(p.lms + f"api/v1/courses/{FREE}/enroll").status_code == 201
    lesson = requests.get(p.lms + f"api/v1/courses/{FREE}").json()["lessons"][0]["id"]
    try:
        seconds = p.start_server(user, timeout=180)
        container = f"{docker_spawner.CONTAINER_PREFIX}-{user}"
        inspect = json.loads(subprocess.check_output(["docker", "inspect", container]))[0]
        assert inspect["HostConfig"]["NetworkMode"] == "none"  # reached through the bridge only
        assert inspect["HostConfig"]["Memory"] == 768 * 1024 * 1024
        r = requests.get(f"{p.url}/user/{user}/lms/open", params={"course": FREE, "lesson": lesson},
                         headers={"Authorization": f"token {token}"}, allow_redirects=False)
        assert r.status_code == 302, r.text
        assert r.headers["Location"].endswith(f"/tree/courses/{FREE}/{lesson}.ipynb")
        listing = subprocess.check_output(["docker", "exec", container, "ls", f"/home/jovyan/courses/{FREE}"], text=True)
        assert f"{lesson}.ipynb" in listing
        nb = requests.get(f"{p.url}/user/{user}/api/contents/courses/{FREE}/{lesson}.ipynb",
                          headers={"Authorization": f"token {token}"}).json()
        assert nb["content"]["nbformat"] == 4 and "BEGIN SOLUTION" not in json.dumps(nb)
        uid = subprocess.check_output(["docker", "exec", container, "id", "-u"], text=True).strip()
        assert uid != "0"
        # a student's container: no nbgrader instructor tools, in JupyterLab or on the server
        lab = requests.get(f"{p.url}/user/{user}/lab", headers={"Authorization": f"token {token}"}).text
        config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                      lab, re.S).group(1))
        assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(config["disabledExtensions"])
        assert "@jupyter/nbgrader:assignment-list" not in config["disabledExtensions"]
        formgrader = requests.get(f"{p.url}/user/{user}/formgrader", headers={"Authorization": f"token {token}"})
        assert formgrader.status_code == 404
        print(f"docker spawn to ready: {seconds:.1f}s")
    finally:
        p.stop_server(user)
