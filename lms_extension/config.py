"""LMS service configuration: traitlets with help text, defaults from ``LMS_*`` variables.

Built once at startup (``LMSConfig.from_env``) and never mutated per request.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from traitlets import Bool, Float, Integer, Unicode, default
from traitlets.config import Configurable

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, fallback: str) -> str:
    return os.environ.get(name) or fallback


class LMSConfig(Configurable):
    data_dir = Unicode(help="Folder for the SQLite database, uploads and student homes (LMS_DATA_DIR).").tag(config=True)
    db_url = Unicode(help="SQLAlchemy URL of the LMS database; SQLite under data_dir by default, "
                          "postgresql://... in production (LMS_DB_URL).").tag(config=True)
    service_prefix = Unicode(help="URL prefix of the service behind the proxy "
                                  "(JUPYTERHUB_SERVICE_PREFIX, default /services/lms/).").tag(config=True)
    bind_url = Unicode(help="Where the service listens (JUPYTERHUB_SERVICE_URL, default http://127.0.0.1:10101).").tag(config=True)
    hub_prefix = Unicode("/hub/", help="URL prefix of JupyterHub, for login and user-redirect links.").tag(config=True)
    courses_dir = Unicode(help="Folder of course folders imported in demo mode (LMS_COURSES_DIR).").tag(config=True)
    max_body_bytes = Integer(1024 * 1024, help="Largest request body accepted; larger ones get 413 (LMS_MAX_BODY_BYTES).").tag(config=True)
    cookie_secret = Unicode(help="Secret signing the service's cookies; every replica needs the same one "
                                 "(LMS_COOKIE_SECRET, else kept in data_dir/lms_cookie_secret).").tag(config=True)
    catalog_cache_seconds = Float(5.0, help="How long a catalog page may be served from this "
                                            "replica's cache (LMS_CATALOG_CACHE_SECONDS).").tag(config=True)
    demo = Bool(help="Demo mode: bundled courses, demo users and open signup (LMS_DEMO=1).").tag(config=True)
    check_schema = Bool(True, help="Refuse to start on a database whose schema revision is not the code's.").tag(config=True)

    @default("data_dir")
    def _data_dir(self):
        return _env("LMS_DATA_DIR", str(REPO_ROOT / ".lms-data"))

    @default("db_url")
    def _db_url(self):
        return _env("LMS_DB_URL", f"sqlite:///{Path(self.data_dir).resolve() / 'lms.sqlite'}")

    @default("service_prefix")
    def _service_prefix(self):
        return _env("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")

    @default("bind_url")
    def _bind_url(self):
        return _env("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    @default("courses_dir")
    def _courses_dir(self):
        return _env("LMS_COURSES_DIR", str(REPO_ROOT / "courses"))

    @default("max_body_bytes")
    def _max_body(self):
        return int(_env("LMS_MAX_BODY_BYTES", str(1024 * 1024)))

    @default("cookie_secret")
    def _cookie_secret(self):
        if os.environ.get("LMS_COOKIE_SECRET"):
            return os.environ["LMS_COOKIE_SECRET"]
        path = Path(self.data_dir) / "lms_cookie_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip()

    @default("catalog_cache_seconds")
    def _catalog_cache_seconds(self):
        return float(_env("LMS_CATALOG_CACHE_SECONDS", "5"))

    @default("demo")
    def _demo(self):
        return _env("LMS_DEMO", "1") == "1"
