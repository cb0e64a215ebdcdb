"""One configuration: `LMSConfig` loads an optional config file and the LMS_* environment,
the hub reads the same object, `lms config show` prints it with secrets masked."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub_config import settings as hub_settings
from lms_extension.config import ENV, ConfigError, LMSConfig

LMS = str(Path(sys.executable).with_name("lms"))
# every secret holds "zq", which nothing else in the output does
SECRETS = {
    "LMS_STRIPE_SECRET_KEY": "sk_test_zq1",
    "LMS_STRIPE_WEBHOOK_SECRET": "whsec_zq2",
    "LMS_COOKIE_SECRET": "zq3",
    "LMS_DB_URL": "postgresql://lms:zq4@db.example:5432/lms",
    "LMS_HUB_DB_URL": "postgresql://hub:zq5@db.example/hub",
    "LMS_REDIS_URL": "redis://:zq6@127.0.0.1:6379/0",
    "LMS_S3_SECRET_ACCESS_KEY": "zq7",
    "LMS_ADMIN_TOKEN": "zq8",
    "LMS_DEMO_PASSWORD": "zq9",
}


def clean_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ENV.values()}
    env.update({"LMS_DATA_DIR": str(tmp_path)}, **extra)
    return env


def show(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([LMS, "config", "show"], env=env, capture_output=True, text=True, timeout=60)


def rows(out: str) -> dict[str, tuple[str, str, str]]:
    """setting -> (variable, value, source) from the printed table."""
    table = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        table[parts[0]] = (parts[1], " ".join(parts[2:-1]), parts[-1])
    return table


def test_show_masks_every_secret(tmp_path):
    result = show(clean_env(tmp_path, **SECRETS))
    assert result.returncode == 0, result.stderr
    assert "zq" not in result.stdout
    table = rows(result.stdout)
    assert table["stripe_secret_key"] == ("LMS_STRIPE_SECRET_KEY", "***", "env")
    assert table["cookie_secret"] == ("LMS_COOKIE_SECRET", "***", "env")
    assert table["db_url"] == ("LMS_DB_URL", "postgresql://lms:***@db.example:5432/lms", "env")
    assert table["redis_url"][1] == "redis://:***@127.0.0.1:6379/0"
    # the cookie secret kept in the data folder is neither shown nor created by looking
    assert not (tmp_path / "lms_cookie_secret").exists()


def test_show_names_every_setting_with_its_variable_and_source(tmp_path):
    result = show(clean_env(tmp_path, LMS_PORT="9123"))
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert {name: var for name, (var, _, _) in table.items() if var != "-"} == ENV
    assert table["port"] == ("LMS_PORT", "9123", "env")
    assert table["hub_port"] == ("LMS_HUB_PORT", "8081", "default")
    assert table["public_url"] == ("LMS_PUBLIC_URL", "http://127.0.0.1:9123", "default")


def test_config_file_then_environment(tmp_path):
    (tmp_path / "lms_config.py").write_text("c.LMSConfig.port = 9001\n"
                                            "c.LMSConfig.hub_port = 9002\n"
                                            "c.LMSConfig.stripe_secret_key = 'sk_test_zq10'\n")
    result = show(clean_env(tmp_path, LMS_HUB_PORT="9003"))
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert table["config_file"] == ("LMS_CONFIG_FILE", str(tmp_path / "lms_config.py"), "default")
    assert table["port"] == ("LMS_PORT", "9001", "file")
    assert table["hub_port"] == ("LMS_HUB_PORT", "9003", "env")  # the environment wins
    assert table["stripe_secret_key"] == ("LMS_STRIPE_SECRET_KEY", "***", "file")
    assert "zq" not in result.stdout
    # a file named by LMS_CONFIG_FILE, anywhere
    other = tmp_path / "elsewhere.py"
    other.write_text("c.LMSConfig.spawner = 'docker'\n")
    table = rows(show(clean_env(tmp_path, LMS_CONFIG_FILE=str(other))).stdout)
    assert table["spawner"] == ("LMS_SPAWNER", "docker", "file")
    assert table["port"][1] == "8000"  # lms_config.py in the data folder is not read then


@pytest.mark.parametrize("env, message", [
    ({"LMS_PORT": "eighty"}, "LMS_PORT='eighty': expected an int"),
    ({"LMS_DEMO": "yes"}, "LMS_DEMO='yes': expected a boolean"),
    ({"LMS_STORAGE": "ftp"}, "LMS_STORAGE='ftp'"),
    ({"LMS_SPAWNER": "podman"}, "LMS_SPAWNER='podman'"),
    ({"LMS_PLATFORM_SHARE_PERCENT": "150"}, "LMS_PLATFORM_SHARE_PERCENT='150'"),
    ({"LMS_CONFIG_FILE": "/nonexistent/lms_config.py"}, "/nonexistent/lms_config.py does not exist"),
])
def test_bad_value_is_a_clear_error(tmp_path, env, message):
    result = show(clean_env(tmp_path, **env))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_config_file_is_a_clear_error(tmp_path):
    (tmp_path / "lms_config.py").write_text("c.LMSConfig.port = 'x'\n")
    result = show(clean_env(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "lms_config.py" in result.stderr and "'port'" in result.stderr
    (tmp_path / "lms_config.py").write_text("c.LMSConfig.port = (\n")
    result = show(clean_env(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "SyntaxError" in result.stderr


def test_the_hub_reads_the_same_configuration(tmp_path):
    (tmp_path / "lms_config.py").write_text("c.LMSConfig.port = 9001\nc.LMSConfig.mem_limit = '2G'\n")
    environ = clean_env(tmp_path, LMS_SERVICE_PORT="9004", LMS_OPEN_SIGNUP="0")
    config = LMSConfig(environ=environ)
    hub = hub_settings.load(config)
    assert (hub.port, hub.service_port, hub.mem_limit, hub.open_signup) == (9001, 9004, "2G", False)
    assert hub.public_url == config.public_url == "http://127.0.0.1:9001"
    assert config.bind_url == "http://127.0.0.1:9004"  # the service listens where the hub looks
    assert hub.config is config


def test_explicit_arguments_win_and_nothing_else_is_read(tmp_path):
    config = LMSConfig(environ={"LMS_PORT": "9005", "LMS_HUB_PORT": "9006"}, port=9007)
    assert (config.port, config.source("port")) == (9007, "argument")
    assert (config.hub_port, config.source("hub_port")) == (9006, "env")
    with pytest.raises(ConfigError, match="LMS_HUB_PORT"):
        LMSConfig(environ={"LMS_HUB_PORT": "x"})


def test_settings_are_built_once_at_start_up(tmp_path):
    """make_app builds the commerce policy and the Stripe client; handlers only read them."""
    from lms_extension.db import make_engine, upgrade
    from lms_extension.services.payments.policy import CommercePolicy
    from lms_extension.web.app import make_app

    engine = make_engine(f"sqlite:///{tmp_path / 'lms.sqlite'}")
    upgrade(engine)
    config = LMSConfig(environ={}, data_dir=str(tmp_path), platform_share_percent=25,
                       stripe_api_base="http://127.0.0.1:9", stripe_secret_key="sk_test_x")
    app = make_app(config, engine)
    policy = app.settings["lms_commerce_policy"]
    assert isinstance(policy, CommercePolicy) and policy.platform_share_percent == 25
    assert app.settings["lms_stripe_client"] is not None
    web = Path(__file__).resolve().parent.parent / "lms_extension" / "web"
    writes = [f"{p.relative_to(web)}:{n}" for p in web.rglob("*.py")
              for n, line in enumerate(p.read_text().splitlines(), 1)
              if "settings[" in line and "] =" in line.split("settings[", 1)[1] and "==" not in line]
    assert not writes, f"handlers change application settings at run time: {writes}"
    engine.dispose()


def test_two_apps_keep_their_own_settings(tmp_path):
    """Building an app changes no module-wide setting another app in the process relies on."""
    from lms_extension.db import make_engine, upgrade
    from lms_extension.services import search
    from lms_extension.web.app import make_app

    engine = make_engine(f"sqlite:///{tmp_path / 'lms.sqlite'}")
    upgrade(engine)
    default_ttl = search.vocabulary_cache.ttl
    apps = [make_app(LMSConfig(environ={}, data_dir=str(tmp_path), search_vocabulary_seconds=s), engine)
            for s in (7.0, 0.5)]
    assert [app.settings["catalog_cache"].vocabulary.ttl for app in apps] == [7.0, 0.5]
    assert search.vocabulary_cache.ttl == default_ttl
    engine.dispose()


def test_course_import_stores_files_where_the_configuration_says(tmp_path):
    """`lms course import` hands its configured storage to the import; no service reads the
    configuration by itself."""
    from tests.factories import write_course

    folder = write_course(tmp_path / "src", "files-course", lessons=1)
    (folder / "data.csv").write_text("a,b\n1,2\n")
    toml = (folder / "course.toml").read_text().replace('id = "l1"\n', 'id = "l1"\nresources = ["data.csv"]\n')
    (folder / "course.toml").write_text(toml)
    data, storage = tmp_path / "data", tmp_path / "configured-storage"
    data.mkdir()
    (data / "lms_config.py").write_text(f"c.LMSConfig.storage_dir = {str(storage)!r}\n")
    env = clean_env(data)
    for argv in (["db", "upgrade"], ["course", "import", str(folder)]):
        result = subprocess.run([LMS, *argv], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert [p.read_bytes() for p in storage.rglob("data.csv")] == [b"a,b\n1,2\n"]
    assert not (data / "storage").exists()
