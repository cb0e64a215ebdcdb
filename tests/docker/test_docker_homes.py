"""Homes of Docker students: a home volume of an earlier version moves into the home image."""
from __future__ import annotations

import os
import secrets
import subprocess

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=120)


def test_old_home_volume_is_moved_into_the_image(docker_hub, docker_images):
    user = f"volume{secrets.token_hex(3)}"
    volume = f"lms-home-{user}"
    docker("volume", "create", volume)
    try:
        docker("run", "--rm", "--network", "none", "--user", "root", "-v", f"{volume}:/data",
               docker_images["student"], "sh", "-c",
               "mkdir -p /data/courses && echo mine > /data/courses/work.txt && chown -R 1000:1000 /data")
        docker_hub.spawn(user)
        try:
            seen = docker("exec", docker_hub.container(user), "cat", "/home/jovyan/courses/work.txt")
            assert seen.stdout.strip() == "mine"
            assert os.path.ismount(docker_hub.home(user))
            # the data lives in the image now; the volume would otherwise outlive the account
            assert docker("volume", "inspect", volume, check=False).returncode != 0
        finally:
            docker_hub.stop(user)
        assert not os.path.ismount(docker_hub.home(user))
    finally:
        docker("volume", "rm", "-f", volume, check=False)


def test_a_container_that_died_releases_its_home_and_bridge(docker_hub):
    """JupyterHub calls the spawner's stop() only for a server still running; a container
    that died (OOM-killed, crashed; auto-removed) must still give back its home mount
    and its bridge."""
    user = f"crash{secrets.token_hex(3)}"
    docker_hub.spawn(user)
    home = docker_hub.home(user)
    assert os.path.ismount(home)
    docker("kill", docker_hub.container(user))
    docker_hub.stop(user)  # the hub finds it gone
    assert not os.path.ismount(home), "the home of a dead container is still mounted"
    sockets = list((docker_hub.data_dir / "run" / f"docker-{user}").glob("*.sock"))
    assert sockets == [], f"the bridge of a dead container still listens: {sockets}"
