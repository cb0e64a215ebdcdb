"""One configuration: `LMSConfig` loads an optional config file and the LMS_* environment,
the hub reads the same object, `lms config show` prints it with secrets masked."""
from __future__ import annotations

import ast
import copy
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


# --- one object, loaded once, read-only after start-up ------------------------------------

def test_a_loaded_configuration_is_read_only(tmp_path):
    from traitlets.config import Config

    config = LMSConfig(environ={}, data_dir=str(tmp_path)).freeze()
    for assign in (lambda: setattr(config, "port", 1), lambda: config.set_trait("port", 1),
                   lambda: config.update_config(Config({"LMSConfig": {"port": 1}}))):
        with pytest.raises(AttributeError, match=r"LMSConfig\.(port|config): settings are read-only after start-up"):
            assign()
    assert config.port == 8000
    # values derived from others are still computed when first read
    assert config.db_url == f"sqlite:///{tmp_path.resolve() / 'lms.sqlite'}"
    # traitlets deep-copies what it hands to a Configurable: a frozen object is shared instead
    assert copy.deepcopy(config) is config


def test_every_start_up_path_freezes_the_configuration_it_loaded(tmp_path, monkeypatch):
    from lms_extension import cli
    from lms_extension.db import make_engine, upgrade
    from lms_extension.web.app import make_app

    hub_config = LMSConfig(environ={}, data_dir=str(tmp_path))
    hub_settings.load(hub_config)
    engine = make_engine(f"sqlite:///{tmp_path / 'lms.sqlite'}")
    upgrade(engine)
    service_config = LMSConfig(environ={}, data_dir=str(tmp_path))
    make_app(service_config, engine)
    engine.dispose()
    seen = []
    monkeypatch.setattr(cli, "cmd_config_show", lambda args, config: seen.append(config))
    monkeypatch.setenv("LMS_DATA_DIR", str(tmp_path))
    assert cli.main(["config", "show"]) == 0
    for config in (hub_config, service_config, *seen):
        with pytest.raises(AttributeError, match="read-only"):
            config.stripe_api_base = "http://127.0.0.1:9"


def test_only_start_up_code_loads_a_configuration():
    """Everything else receives the object a process loaded at start: a configuration built at
    call time reads the environment and file again, and can disagree with it."""
    repo = Path(__file__).resolve().parent.parent
    allowed = {"lms_extension/cli.py", "hub_config/settings.py", "hub_config/jupyterhub_config.py"}
    found = []
    for folder in ("lms_extension", "hub_config", "graders"):
        for path in sorted((repo / folder).rglob("*.py")):
            rel = str(path.relative_to(repo))
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "LMSConfig"
                        and rel not in allowed):
                    found.append(f"{rel}:{node.lineno}")
    assert not found, f"configurations loaded outside start-up: {found}"


def test_hub_settings_repeat_no_default():
    import dataclasses

    defaults = [f.name for f in dataclasses.fields(hub_settings.HubSettings)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
    assert not defaults, f"HubSettings repeats LMSConfig's defaults: {defaults}"


def test_the_student_servers_extension_takes_its_defaults_from_the_configuration(monkeypatch):
    from lms_extension.labserver import progress
    from lms_extension.labserver.app import LMSLabExtension
    from lms_extension.labserver.exchange import LMSExchange

    for name in ("LMS_HEARTBEAT_SECONDS", "LMS_IDLE_SECONDS", "LMS_SERVICE_URL", "JUPYTERHUB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(LMSConfig.heartbeat_seconds, "default_value", 42.0)
    monkeypatch.setattr(LMSConfig.idle_seconds, "default_value", 420.0)
    monkeypatch.setattr(LMSConfig.port, "default_value", 8123)
    lab = LMSLabExtension()
    assert (lab.heartbeat_seconds, lab.idle_seconds) == (42.0, 420.0)
    assert lab.service_url == "http://127.0.0.1:8123/services/lms/"
    assert LMSExchange().service_url == "http://127.0.0.1:8123/services/lms/"  # nbgrader's exchange
    assert progress.CULL_ENV == ENV["kernel_cull_seconds"]


def clean_hub_env(monkeypatch, tmp_path: Path, **extra: str) -> None:
    for var in ENV.values():
        monkeypatch.delenv(var, raising=False)
    for name, value in {"LMS_DATA_DIR": str(tmp_path), "LMS_SPAWNER": "sandbox", **extra}.items():
        monkeypatch.setenv(name, value)


def load_hub_config():
    from traitlets.config import PyFileConfigLoader

    config_file = Path(__file__).resolve().parent.parent / "hub_config" / "jupyterhub_config.py"
    return PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()


def test_the_hub_hands_the_stripe_test_server_to_the_service_not_to_its_own_environment(tmp_path, monkeypatch):
    clean_hub_env(monkeypatch, tmp_path, LMS_DEMO="1")
    before = dict(os.environ)
    c = load_hub_config()
    assert dict(os.environ) == before, "the hub's configuration changed the hub's own environment"
    config = c.LMSAuthenticator.lms_config  # the hub's one configuration, frozen
    assert config.frozen and config.source("stripe_api_base") == "stripe-demo"
    assert config.stripe_api_base == f"http://127.0.0.1:{config.stripe_test_port}"
    assert config.stripe_secret_key.startswith("sk_test_") and config.stripe_webhook_secret.startswith("whsec_")
    services = {service["name"]: service for service in c.JupyterHub.services}
    assert f"--port {config.stripe_test_port}" in " ".join(services["stripe-test"]["command"])
    for name in ("lms", "lms-worker"):
        env = services[name]["environment"]
        assert (env["LMS_STRIPE_API_BASE"], env["LMS_STRIPE_TEST_PORT"], env["LMS_STRIPE_SECRET_KEY"],
                env["LMS_STRIPE_WEBHOOK_SECRET"]) == (config.stripe_api_base, str(config.stripe_test_port),
                                                      config.stripe_secret_key, config.stripe_webhook_secret)
        # the service loads back exactly what the hub has
        loaded = LMSConfig(environ=env)
        assert (loaded.stripe_api_base, loaded.stripe_secret_key) == (config.stripe_api_base, config.stripe_secret_key)
    # real Stripe configured: no test server, nothing added
    clean_hub_env(monkeypatch, tmp_path, LMS_DEMO="1", LMS_STRIPE_API_BASE="https://api.stripe.com",
                  LMS_STRIPE_SECRET_KEY="sk_live_zq")
    c = load_hub_config()
    assert "stripe-test" not in {service["name"] for service in c.JupyterHub.services}
    assert c.LMSAuthenticator.lms_config.stripe_secret_key == "sk_live_zq"


def test_the_authenticator_erases_accounts_with_the_hubs_configuration(tmp_path, monkeypatch):
    from jupyterhub import orm
    from traitlets.config import Config

    from hub_config.auth import LMSAuthenticator, erase_lms_account
    from lms_extension.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'lms.sqlite'}")
    upgrade(engine)
    engine.dispose()
    config = LMSConfig(environ={}, data_dir=str(tmp_path)).freeze()
    # what the environment says now is not what the hub loaded at start
    monkeypatch.setenv("LMS_DB_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    hub_db = orm.new_session_factory("sqlite://")()
    authenticator = LMSAuthenticator(db=hub_db, config=Config({"LMSAuthenticator": {"lms_config": config,
                                                                                   "bcrypt_rounds": 4}}))
    assert authenticator.lms_config is config
    assert erase_lms_account(authenticator.lms_config, "nobody", None).erased is False
    assert not (tmp_path / "elsewhere.sqlite").exists()
    with pytest.raises(RuntimeError, match="lms_config"):
        erase_lms_account(None, "nobody", None)


def test_importing_lesson_files_needs_the_configured_storage(session, tmp_path, monkeypatch):
    from lms_extension.services.course_import import import_course, load_course_folder
    from tests.factories import write_course

    folder = write_course(tmp_path / "src", "files-course", lessons=1)
    (folder / "data.csv").write_text("a,b\n1,2\n")
    toml = (folder / "course.toml").read_text().replace('id = "l1"\n', 'id = "l1"\nresources = ["data.csv"]\n')
    (folder / "course.toml").write_text(toml)
    monkeypatch.setenv("LMS_STORAGE_DIR", str(tmp_path / "from-the-environment"))
    with pytest.raises(ValueError, match="configured storage"):
        import_course(session, load_course_folder(folder))
    assert not (tmp_path / "from-the-environment").exists()


def test_no_process_rewrites_its_own_environment():
    """Settings reach another process through that process's environment (a service's
    ``environment``, ``execve``), never by changing this one's, which the loaded configuration
    came from and which later code would read differently."""
    repo = Path(__file__).resolve().parent.parent
    found = []
    for folder in ("lms_extension", "hub_config"):
        for path in sorted((repo / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                target = None
                if isinstance(node, (ast.Assign, ast.AugAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    target = next((t for t in targets if isinstance(t, ast.Subscript)
                                   and ast.unparse(t.value) == "os.environ"), None)
                elif isinstance(node, ast.Call) and ast.unparse(node.func) in {
                        "os.environ.update", "os.environ.setdefault", "os.environ.pop", "os.putenv",
                        "os.environ.clear", "os.unsetenv"}:
                    target = node
                if target is not None:
                    found.append(f"{path.relative_to(repo)}:{node.lineno}")
    assert not found, f"os.environ changed at run time: {found}"
