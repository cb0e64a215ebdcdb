import re

import pytest

from tests.e2e.platform import Platform


def _assert_no_server_errors(platform: Platform) -> None:
    errors = [line for line in platform.log().splitlines() if re.search(r"\b500 (GET|POST|PUT|DELETE|PATCH)\b", line)]
    assert not errors, "the platform answered 500:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def platform(db_url, tmp_path_factory):
    """The real platform on each database (sandbox spawner)."""
    p = Platform(tmp_path_factory.mktemp("platform") / "data", db_url=db_url).start()
    yield p
    p.stop()
    _assert_no_server_errors(p)


@pytest.fixture(scope="session")
def sqlite_platform(tmp_path_factory):
    """One platform on SQLite for the spawn-heavy student path (independent of db_url)."""
    p = Platform(tmp_path_factory.mktemp("sq-platform") / "data",
                 extra_env={"LMS_MEM_LIMIT": "768M", "LMS_CPU_LIMIT": "1.0"}).start()
    yield p
    p.stop()
    _assert_no_server_errors(p)
