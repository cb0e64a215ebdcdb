"""docker/compose.yaml, the one-server deployment. Its PostgreSQL and Redis images
cannot be pulled here, so it is validated rather than run: by Compose itself when
it is installed, and always by reading the file."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker" / "compose.yaml"
SECRETS = {"LMS_DB_PASSWORD": "not-a-secret", "JUPYTERHUB_CRYPT_KEY": "00" * 32}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_cli() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_validates():
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed; "
                    "test_compose_services_and_environment reads the file instead")
    env = {**os.environ, **SECRETS}
    checked = subprocess.run([*cli, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stderr
    missing = {k: v for k, v in env.items() if k != "LMS_DB_PASSWORD"}
    refused = subprocess.run([*cli, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                             env=missing)
    assert refused.returncode != 0 and "LMS_DB_PASSWORD" in refused.stderr, "secrets are required"


def test_compose_services_and_environment(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "hub", "worker"}
    # one network namespace with the students' containers: nothing on 172.x
    assert {s.get("network_mode") for s in services.values()} == {"host"}
    assert "127.0.0.1" in " ".join(services["postgres"]["command"])
    assert services["redis"]["command"][services["redis"]["command"].index("--bind") + 1] == "127.0.0.1"

    hub, worker = services["hub"], services["worker"]
    assert hub["image"] == "${LMS_HUB_IMAGE:-jupyter-lms/hub:latest}"
    assert worker["image"] == "${LMS_GRADER_IMAGE:-jupyter-lms/grader:latest}"
    assert "/var/run/docker.sock:/var/run/docker.sock" in hub["volumes"]
    assert hub["environment"]["LMS_SPAWNER"] == "docker"
    assert hub["environment"]["LMS_DOCKER_IMAGE"] == "${LMS_DOCKER_IMAGE:-jupyter-lms/student:latest}"
    for env in (hub["environment"], worker["environment"]):
        assert re.fullmatch(r"postgresql\+psycopg://lms:\$\{LMS_DB_PASSWORD:\?[^}]*\}@127\.0\.0\.1:5432/lms",
                            env["LMS_DB_URL"])
        assert env["LMS_DEMO"] == "0"
    assert hub["environment"]["LMS_HUB_DB_URL"].endswith("@127.0.0.1:5432/jupyterhub")
    assert worker["command"] == ["lms", "worker"] and worker["deploy"]["replicas"] >= 2
    for name in ("hub", "worker"):
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    init_sql = (COMPOSE.parent / "postgres-init.sql").read_text()
    assert "CREATE DATABASE jupyterhub" in init_sql
    assert set(compose["volumes"]) == {"postgres-data", "hub-state"}


def test_compose_hub_can_give_students_sized_homes_and_no_network(compose):
    """The hub hands host paths under its data folder (homes, bridge sockets) to the engine,
    so the folder is the same path on both sides, and the home images it loop-mounts must
    propagate to the host (rshared) where the engine binds them into students' containers."""
    hub = compose["services"]["hub"]
    data_dir = compose["x-lms-env"]["LMS_DATA_DIR"]
    assert f"{data_dir}:{data_dir}:rshared" in hub["volumes"]
    assert hub["privileged"] is True  # loop devices and mount(2); the Docker socket is root anyway
    assert hub["environment"]["LMS_DISK_LIMIT"] == "${LMS_DISK_LIMIT:-2G}"
    assert hub["environment"]["LMS_STUDENT_EGRESS"] == "${LMS_STUDENT_EGRESS:-none}"
