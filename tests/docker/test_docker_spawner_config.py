"""hub_config.docker_spawner without starting containers: the configuration a real
DockerSpawner ends up with, and the quick engine check the automatic spawner
choice relies on."""
from __future__ import annotations

import asyncio
import time
import types
from pathlib import Path

import pytest
from traitlets.config import Config, PyFileConfigLoader

dockerspawner = pytest.importorskip("dockerspawner", reason="the docker extra is not installed")

from hub_config import docker_spawner, settings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("LMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LMS_MEM_LIMIT", "512M")
    monkeypatch.setenv("LMS_CPU_LIMIT", "0.5")
    for name in ("LMS_DISK_LIMIT", "LMS_STUDENT_EGRESS"):
        monkeypatch.delenv(name, raising=False)
    return settings.load()


def spawner_for(c: Config, username: str):
    user = types.SimpleNamespace(name=username, id=1, url=f"/user/{username}/")
    return c.JupyterHub.spawner_class(config=c, user=user)


def test_configure_sets_only_spawner_traits(hub_settings):
    c = Config()
    docker_spawner.configure(c, hub_settings)
    spawner_class = c.JupyterHub.spawner_class
    assert issubclass(spawner_class, dockerspawner.DockerSpawner)
    unknown = set(c.DockerSpawner) - set(spawner_class.class_trait_names(config=True))
    assert not unknown, f"not traits of {spawner_class.__name__}: {unknown}"


def test_spawner_has_no_network_and_strict_limits(hub_settings, tmp_path):
    c = Config()
    docker_spawner.configure(c, hub_settings)
    sp = spawner_for(c, "alice")
    sp.host_port = 41234  # start() takes it from the bridge's inbound listener
    assert asyncio.run(sp.get_ip_and_port()) == ("127.0.0.1", 41234)
    assert (sp.network_name, sp.use_internal_ip, sp.ip) == ("none", True, "127.0.0.1")
    assert sp.mem_limit == 512 * 2**20 and sp.extra_host_config["memswap_limit"] == "512M"
    assert sp.extra_host_config["read_only"] is True and sp.extra_host_config["cap_drop"] == ["ALL"]
    assert sp.cpu_limit == 0.5
    assert (sp.pull_policy, sp.remove) == ("never", True)
    assert sp.object_name == "lms-student-alice"
    assert sp.home.folder == tmp_path / "homes" / "alice" and sp.home.limit == 2 * 2**30
    assert sp.home.uid == 1000  # jovyan
    assert sp.run_dir == tmp_path / "run" / "docker-alice"
    assert sp.default_url == "/lab"
    assert sp.student_egress is False


def test_disk_limit_and_egress_settings(hub_settings, monkeypatch):
    monkeypatch.setenv("LMS_DISK_LIMIT", "none")
    monkeypatch.setenv("LMS_STUDENT_EGRESS", "internet")
    c = Config()
    docker_spawner.configure(c, settings.load())
    sp = spawner_for(c, "bob")
    assert sp.home.limit is None and sp.student_egress is True
    monkeypatch.setenv("LMS_DISK_LIMIT", "lots")
    with pytest.raises(ValueError, match="LMS_DISK_LIMIT"):
        settings.load()  # the hub refuses to start, rather than every spawn failing


def test_zero_limits_mean_unlimited(hub_settings, monkeypatch):
    monkeypatch.setenv("LMS_MEM_LIMIT", "none")
    monkeypatch.setenv("LMS_CPU_LIMIT", "0")
    c = Config()
    docker_spawner.configure(c, settings.load())
    assert "mem_limit" not in c.DockerSpawner and "cpu_limit" not in c.DockerSpawner
    assert "memswap_limit" not in c.DockerSpawner.extra_host_config


def test_docker_unavailable_is_answered_quickly(hub_settings, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    started = time.monotonic()
    assert docker_spawner.docker_available(hub_settings) is False
    assert time.monotonic() - started < 3


def test_docker_available_needs_the_image(docker_images, hub_settings, monkeypatch):
    monkeypatch.setenv("LMS_DOCKER_IMAGE", docker_images["student"])
    assert docker_spawner.docker_available(settings.load()) is True
    monkeypatch.setenv("LMS_DOCKER_IMAGE", "jupyter-lms/no-such-image:never")
    assert docker_spawner.docker_available(settings.load()) is False


def test_hub_config_selects_docker_spawner(hub_settings, monkeypatch):
    config_file = REPO / "hub_config" / "jupyterhub_config.py"
    monkeypatch.setenv("LMS_SPAWNER", "docker")
    c = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    assert issubclass(c.JupyterHub.spawner_class, dockerspawner.DockerSpawner)
    assert c.DockerSpawner.network_name == "none"
