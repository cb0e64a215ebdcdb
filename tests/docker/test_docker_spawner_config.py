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
    return settings.load()


def spawner_for(c: Config, username: str):
    user = types.SimpleNamespace(name=username, id=1, url=f"/user/{username}/")
    return c.JupyterHub.spawner_class(config=c, user=user)


def test_configure_sets_only_dockerspawner_traits(hub_settings):
    c = Config()
    docker_spawner.configure(c, hub_settings)
    unknown = set(c.DockerSpawner) - set(dockerspawner.DockerSpawner.class_trait_names(config=True))
    assert not unknown, f"not DockerSpawner traits: {unknown}"
    assert issubclass(c.JupyterHub.spawner_class, dockerspawner.DockerSpawner)


def test_spawner_is_loopback_only_with_strict_limits(hub_settings):
    c = Config()
    docker_spawner.configure(c, hub_settings)
    sp = spawner_for(c, "alice")
    sp.port = 41234  # start() picks a free one
    assert asyncio.run(sp.get_ip_and_port()) == ("127.0.0.1", 41234)
    assert (sp.network_name, sp.use_internal_ip, sp.ip) == ("host", True, "127.0.0.1")
    assert sp.mem_limit == 512 * 2**20 and sp.extra_host_config == {"memswap_limit": "512M"}
    assert sp.cpu_limit == 0.5
    assert (sp.pull_policy, sp.remove) == ("never", True)
    assert sp.object_name == "lms-student-alice"
    assert sp.volume_binds == {"lms-home-alice": {"bind": "/home/jovyan", "mode": "rw"}}
    assert sp.default_url == "/lab"


def test_zero_limits_mean_unlimited(hub_settings, monkeypatch):
    monkeypatch.setenv("LMS_MEM_LIMIT", "none")
    monkeypatch.setenv("LMS_CPU_LIMIT", "0")
    c = Config()
    docker_spawner.configure(c, settings.load())
    assert "mem_limit" not in c.DockerSpawner and "cpu_limit" not in c.DockerSpawner


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
    assert c.DockerSpawner.network_name == "host"
